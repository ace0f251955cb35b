"""Five optimizers on DenseNet121 (article 000, "【第13天】训练模型-优化器(Optimizer)", 健身器材).

The article fine-tunes an ImageNet DenseNet121 (GlobalAveragePooling + Dense(5)) on five kinds
of gym equipment at 80x80, batch 32, with Keras's ImageDataGenerator augmentation (rotation 20,
shifts 0.2, shear 0.2, zoom 0.5, fill 'nearest'), EarlyStopping(val_loss, patience 5) and
ModelCheckpoint(val_loss, save_best_only), for up to 30 epochs, once per optimizer:

  ===============================  ========  ==========================================
  arm                              rate      Keras call in the article
  ===============================  ========  ==========================================
  adam+plateau                     1e-4      Adam(lr=1e-4) + ReduceLROnPlateau(val_loss,
                                             factor 0.5, patience 3, min_lr 1e-5)
  adagrad                          0.01      Adagrad(lr=0.01)
  rmsprop                          0.001     RMSprop(lr=0.001, rho=0.9)
  nadam(momentum_decay=0.004)      0.002     Nadam(lr=0.002, schedule_decay=0.004)
  sgd                              0.01      SGD(lr=0.01, momentum=0)
  ===============================  ========  ==========================================

It times each training and ends with a comparison table (accuracy, loss, training time per
optimizer); this script writes that table, the learning curves and each run's VisualDL records.
Data: a folder with train/ val/ test/ class folders (the article's layout: test/ is what it
evaluates at the end), or one class-per-folder tree split by --validation-split (no test set).

Departures from the article:
- The optimizers are Keras's, built on Paddle's classes (``--defaults keras``, the default here:
  epsilon 1e-7, AdaGrad's accumulator from 0.1, RMSProp's rho 0.9). The article's Keras 2
  Nadam decays its momentum by 0.96**(0.004 t) (schedule_decay=0.004), Keras 3's by 0.96**t:
  the arm sets Paddle's momentum_decay=0.004 to follow the article. Paddle's Adam adds epsilon
  after the bias correction, Keras before it (only gradients below ~1e-5 notice;
  course/engine/optimizers.py lists every difference).
- Keras's ``steps_per_epoch = samples // batch_size`` drops the last partial batch of every
  epoch (and validation_steps likewise); here every image is used every epoch.
- The augmentation is ``data.folders.augment``'s 'keras_gym' preset: the same ranges, with Paddle's
  isotropic zoom (see that module). ModelCheckpoint keeps best.pdckpt in each run directory;
  like the article, the test accuracy is the final model's, not the checkpoint's.
- The default data is the demo digits (``python scripts/export_demo_images.py --layout split``
  gives the train/val/test layout); the gym photos are not in the repository.

examples:
  python scripts/gym_optimizers.py --data ~/data/workout               # the article (needs the weights)
  python scripts/gym_optimizers.py --pretrained none --image-size 32 --epochs 5
  python scripts/gym_optimizers.py --optimizers adam+plateau,sgd --pretrained none
  python scripts/gym_optimizers.py --dry-run
"""
from __future__ import annotations

from course.chapters.common import (DEMO_DATA, DRY_RUN_IMAGE_SIZE, image_inputs, pick_arms,
                                    run_and_report, sweep_flags)
from course.cli import CommandLine
from course import compat
from course.engine.config import RunConfig
from course.engine.optimizers import OPTIMIZERS, available_optimizers
from course.sweep.grid import Sweep

MODEL = "densenet121"
# 文章的设置:80x80、batch 32、最多 30 轮、ImageDataGenerator 数据增强
IMAGE_SIZE, BATCH_SIZE, EPOCHS, AUGMENT = 80, 32, 30, "keras_gym"
# estop = EarlyStopping(monitor='val_loss', patience=5, mode='min')
EARLY_STOP = "monitor=val_loss,patience=5,mode=min"
# checkpoint = ModelCheckpoint(..., monitor='val_loss', save_best_only=True, mode='min')
CHECKPOINT = "best,monitor=val_loss,mode=min"
# 五种优化器,各用文章里的学习率;只有 Adam 另加 ReduceLROnPlateau
ARTICLE_ARMS = [
    {"optimizer": "adam", "label": "plateau", "lr": 1e-4,
     "reduce_lr_on_plateau": "monitor=val_loss,factor=0.5,patience=3,mode=min,min_lr=1e-5"},
    {"optimizer": "adagrad", "lr": 0.01},
    {"optimizer": "rmsprop", "lr": 0.001},
    {"optimizer": "nadam(momentum_decay=0.004)", "lr": 0.002},   # Keras 2's schedule_decay
    {"optimizer": "sgd", "lr": 0.01},
]
# Paddle 2.6 has no NAdam (course/compat.py): there the arm is left out, and the run says so.
ARMS = [arm for arm in ARTICLE_ARMS if arm["optimizer"].split("(")[0] in available_optimizers()]
ARM_NAMES = ",".join(arm["optimizer"] + (f"+{arm['label']}" if "label" in arm else "") for arm in ARMS)


def command_line() -> CommandLine:
    """The article's settings as flags, then where and how."""
    cl = CommandLine(__doc__)
    title = "the article's settings"
    cl.settings(title, Sweep, "optimizers", optimizers=ARM_NAMES)
    cl.settings(title, RunConfig, "defaults", defaults="keras")   # the article's Keras optimizers
    cl.settings(title, RunConfig, "image_size", "epochs", "batch_size", "augment", "early_stop",
                "checkpoint", "validation_split", "split_seed", "pretrained", image_size=IMAGE_SIZE,
                epochs=EPOCHS, batch_size=BATCH_SIZE, augment=AUGMENT, early_stop=EARLY_STOP,
                checkpoint=CHECKPOINT, pretrained="imagenet")
    cl.groups[title].add_argument("--data", default=DEMO_DATA,
                                  help="train/ val/ test/ class folders, or one class-per-folder tree")
    sweep_flags(cl)
    return cl


def training_times(runs) -> list[str]:
    """文章 1.4 节的训练时间,按它的格式:'一共花费了0小时3分钟12秒'."""
    lines = []
    for run in runs:
        hours, rest = divmod(int(round(run["train_seconds"])), 3600)
        stop = ", EarlyStopping" if run["stopped_early"] else ""
        lines.append(f"{run['variant']}: 一共花费了{hours}小时{rest // 60}分钟{rest % 60}秒 "
                     f"({run['epochs_run']} of {run['epochs_planned']} epochs{stop})")
    return lines + [""]


def main(argv=None) -> int:
    """Train the article's arms on DenseNet121, then print the training times and the table."""
    cl = command_line()
    args = cl.parse(argv, dry_run={"image_size": DRY_RUN_IMAGE_SIZE})
    for arm in ARTICLE_ARMS:
        if arm not in ARMS:   # Paddle 2.6: one line, and the article's other arms train
            name = arm["optimizer"].split("(")[0]
            print(f"left out: {name}: {compat.missing_optimizer(OPTIMIZERS[name].paddle_class)}")
    dataset, pretrained, weights = image_inputs(args, MODEL)
    base = cl.config(args, dataset=dataset, model=MODEL, pretrained=pretrained)
    sweep = Sweep(base, pick_arms(ARMS, args.optimizers, base), seeds=args.seeds, logdir=args.logdir)
    run_and_report(
        sweep, args, title=f"{sweep.root.name}: five optimizers on DenseNet121 (article 000)",
        what=f"{args.image_size}x{args.image_size}, batch {args.batch_size}, augment {args.augment}, "
             f"weights: {weights}",
        summary=training_times)
    return 0
