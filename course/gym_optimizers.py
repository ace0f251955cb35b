#!/usr/bin/env python
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
  nadam                            0.002     Nadam(lr=0.002, schedule_decay=0.004)
  sgd                              0.01      SGD(lr=0.01, momentum=0)
  ===============================  ========  ==========================================

It times each training and ends with a comparison table (accuracy, loss, training time per
optimizer); this script writes that table, the learning curves and each run's VisualDL records.
Data: a folder with train/ val/ test/ class folders (the article's layout: test/ is what it
evaluates at the end), or one class-per-folder tree split by --validation-split (no test set).

Departures from the article:
- Paddle's optimizers: Adagrad starts its accumulator at 0 (Keras at 0.1), so its first steps
  are larger; NAdam's momentum_decay 0.004 is Keras's schedule_decay. Epsilons are Paddle's.
- Keras's ``steps_per_epoch = samples // batch_size`` drops the last partial batch of every
  epoch (and validation_steps likewise); here every image is used every epoch.
- The augmentation is ``data.augment``'s 'keras_gym' preset: the same ranges, with Paddle's
  isotropic zoom (see that module). ModelCheckpoint keeps best.pdckpt in each run directory;
  like the article, the test accuracy is the final model's, not the checkpoint's.
- The default data is the demo digits (``python scripts/export_demo_images.py --layout split``
  gives the train/val/test layout); the gym photos are not in the repository.

examples:
  python course/gym_optimizers.py --data ~/data/workout               # the article (needs the weights)
  python course/gym_optimizers.py --pretrained none --image-size 32 --epochs 5
  python course/gym_optimizers.py --optimizers adam+plateau,sgd --pretrained none
  python course/gym_optimizers.py --dry-run
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root, not course/, leads the path
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.sweep import Sweep  # noqa: E402
from course.chapter import (DEMO_DATA, add_run_flags, image_chapter_inputs, pick_arms,  # noqa: E402
                            run_and_report)
from course.cli import HelpFormatter, csv_list, run_main  # noqa: E402
from course.config import RunConfig  # noqa: E402

# 文章的设置:80x80、batch 32、最多 30 轮、ImageDataGenerator 数据增强
IMAGE_SIZE, BATCH_SIZE, EPOCHS, AUGMENT = 80, 32, 30, "keras_gym"
# estop = EarlyStopping(monitor='val_loss', patience=5, mode='min')
EARLY_STOP = "monitor=val_loss,patience=5,mode=min"
# checkpoint = ModelCheckpoint(..., monitor='val_loss', save_best_only=True, mode='min')
CHECKPOINT = "best,monitor=val_loss,mode=min"
# 五种优化器,各用文章里的学习率;只有 Adam 另加 ReduceLROnPlateau
ARMS = [
    {"optimizer": "adam", "label": "plateau", "lr": 1e-4,
     "reduce_lr": "monitor=val_loss,factor=0.5,patience=3,mode=min,min_lr=1e-5"},
    {"optimizer": "adagrad", "lr": 0.01},
    {"optimizer": "rmsprop", "lr": 0.001},
    {"optimizer": "nadam", "lr": 0.002},
    {"optimizer": "sgd", "lr": 0.01},
]
ARM_NAMES = "adam+plateau,adagrad,rmsprop,nadam,sgd"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    g = p.add_argument_group("the article's settings")
    g.add_argument("--data", default=DEMO_DATA,
                   help="train/ val/ test/ class folders, or one class-per-folder tree")
    g.add_argument("--optimizers", type=csv_list(str), default=ARM_NAMES,
                   help="which of the article's five arms to train")
    g.add_argument("--image-size", type=int, default=IMAGE_SIZE, help="image side in pixels")
    g.add_argument("--epochs", type=int, default=EPOCHS, help="most epochs per run (EarlyStopping may end it sooner)")
    g.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="images per step")
    g.add_argument("--augment", default=AUGMENT, help="training augmentation preset (none, keras_gym)")
    g.add_argument("--early-stop", default=EARLY_STOP, help="EarlyStopping spec for every run ('' = off)")
    g.add_argument("--checkpoint", default=CHECKPOINT, help="ModelCheckpoint spec for every run ('' = off)")
    g.add_argument("--validation-split", type=float, default=0.2,
                   help="single-tree data only: fraction of each class held out for validation")
    g.add_argument("--split-seed", type=int, default=12, help="seed of that split")
    g.add_argument("--pretrained", default="imagenet",
                   help="'imagenet' (paddle.vision's DenseNet121 weights, must be in Paddle's cache), "
                        "a .pdparams path, or 'none' (train from random weights)")
    add_run_flags(p, "smoke test: 1 epoch at 32x32 on 8 images per class per folder (seconds); "
                     "goes on without ImageNet weights if they are missing")
    return p


def training_times(runs) -> list[str]:
    """文章 1.4 节的训练时间,按它的格式:'一共花费了0小时3分钟12秒'."""
    lines = []
    for run in runs:
        hours, rest = divmod(int(round(run["train_seconds"])), 3600)
        stop = ", EarlyStopping" if run["stopped_early"] else ""
        lines.append(f"{run['arm']}: 一共花费了{hours}小时{rest // 60}分钟{rest % 60}秒 "
                     f"({run['epochs_run']} of {run['epochs_planned']} epochs{stop})")
    return lines + [""]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    dataset, pretrained, weights = image_chapter_inputs(args, "densenet121")
    base = RunConfig(dataset=dataset, model="densenet121", image_size=args.image_size,
                     augment=args.augment, validation_split=args.validation_split,
                     split_seed=args.split_seed, pretrained=pretrained, epochs=args.epochs,
                     batch_size=args.batch_size, early_stop=args.early_stop,
                     checkpoint=args.checkpoint, device=args.device)
    sweep = Sweep(base, pick_arms(ARMS, args.optimizers, base), seeds=args.seeds, logdir=args.logdir)
    run_and_report(
        sweep, args, title=f"{sweep.root.name}: five optimizers on DenseNet121 (article 000)",
        what=f"{args.image_size}x{args.image_size}, batch {args.batch_size}, up to {args.epochs} "
             f"epochs, augment {args.augment}, weights: {weights}",
        summary=training_times)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint="Run the same command again to continue."))
