"""Film stars with a frozen VGG16: Adam vs SGD (article 001, "T11 优化器对比实验", 好莱坞明星识别).

The article freezes Keras's ImageNet VGG16 (pooling='avg'), trains a Dense(170, ReLU) +
BatchNorm + Dropout(0.5) head on 17 film stars (1,800 images, validation_split 0.2, seed 12,
336x336, batch 16) for 50 epochs, once with ``Adam()`` and once with ``SGD()``, and compares the
curves (its result: val acc 46.9% Adam, 58.1% SGD). This script trains the same model
(``vgg16_transfer``) on any class-per-folder tree and writes the comparison table, the curves and
the VisualDL records of both runs.

Which rate does each optimizer get? The article trains ``model1`` with ``Adam()`` and ``model2``
with ``SGD()``: Keras's defaults, Adam at 1e-3 and SGD at 1e-2, constant. Its section 10 also
builds ``ExponentialDecay(1e-4, decay_steps=60, decay_rate=0.96, staircase=True)`` into an Adam
optimizer, but compiles it into a ``model`` that is never trained: the reported curves come from
the constant rates, and so does the default here. ``--adam-decay`` trains Adam the way section 10
meant (from 1e-4, times 0.96 every 60 batches); SGD stays at 1e-2.

Departures from the article:
- Paddle, not Keras: VGG16's convolutions with Keras's layer names, ImageNet weights from
  paddle.vision (``--pretrained imagenet`` needs them in ~/.cache/paddle/hapi/weights; this
  machine cannot download them, see --pretrained). The optimizers are Keras's, built on
  Paddle's classes (``--defaults keras``, the default here: Adam's epsilon 1e-7); Paddle's Adam
  adds that epsilon after the bias correction, Keras before it, which only gradients below ~1e-5
  notice (course/engine/optimizers.py).
- The article shuffles its validation set (``val_ds.shuffle``); here it is read in file order
  (the accuracy is the same). The table's "test acc" is empty: like the article, there is no test
  set, the validation accuracy is the result.
- The default data is the demo digits (``python scripts/export_demo_images.py``); the film-star
  photos are not in the repository: pass them with --data.

examples:
  python scripts/filmstar_transfer.py --data ~/data/HollywoodStars          # the article (needs the weights)
  python scripts/filmstar_transfer.py --pretrained none --image-size 32 --epochs 5 --batch-size 64
  python scripts/filmstar_transfer.py --dry-run
"""
from __future__ import annotations

from course.chapters.common import (DEMO_DATA, DRY_RUN_IMAGE_SIZE, image_inputs, run_and_report,
                                    sweep_flags)
from course.cli import CommandLine
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

MODEL = "vgg16_transfer"
# 文章的设置:336x336、batch 16、50 轮、validation_split=0.2、seed=12
IMAGE_SIZE, BATCH_SIZE, EPOCHS, VALIDATION_SPLIT, SPLIT_SEED = 336, 16, 50, 0.2, 12
# model1 = create_model(Adam()), model2 = create_model(SGD()):Keras 的默认学习率
ARMS = [{"optimizer": "adam", "lr": 1e-3}, {"optimizer": "sgd", "lr": 1e-2}]
# 第 10 节构建了却没有用上的指数衰减(decay_steps 是 batch 数,不是 epoch 数)
ADAM_DECAY = {"optimizer": "adam", "label": "decay", "lr": 1e-4, "schedule": "exponential",
              "schedule_args": {"decay_steps": 60, "decay_rate": 0.96, "staircase": True}}


def command_line() -> CommandLine:
    """The article's settings as flags, then where and how."""
    cl = CommandLine(__doc__)
    title = "the article's settings"
    group = cl.settings(title, RunConfig, "image_size", "epochs", "batch_size", "validation_split",
                        "split_seed", "pretrained", image_size=IMAGE_SIZE, epochs=EPOCHS,
                        batch_size=BATCH_SIZE, validation_split=VALIDATION_SPLIT,
                        split_seed=SPLIT_SEED, pretrained="imagenet")
    cl.settings(title, RunConfig, "defaults", defaults="keras")   # the article's Keras optimizers
    group.add_argument("--data", default=DEMO_DATA, help="class-per-folder image tree (or train/ val/ test/)")
    group.add_argument("--adam-decay", action="store_true",
                       help="Adam from 1e-4 with ExponentialDecay(60 steps, 0.96, staircase), as the "
                            "article's section 10 builds it, instead of the constant 1e-3 it trains with")
    sweep_flags(cl)
    return cl


def main(argv=None) -> int:
    """Train the frozen VGG16 with Adam and with SGD, then print the table."""
    cl = command_line()
    args = cl.parse(argv, dry_run={"image_size": DRY_RUN_IMAGE_SIZE})
    dataset, pretrained, weights = image_inputs(args, MODEL)
    base = cl.config(args, dataset=dataset, model=MODEL, pretrained=pretrained, freeze_backbone=True)
    arms = [ADAM_DECAY, ARMS[1]] if args.adam_decay else ARMS
    sweep = Sweep(base, arms, seeds=args.seeds, logdir=args.logdir)
    run_and_report(sweep, args, title=f"{sweep.root.name}: frozen VGG16, Adam vs SGD (article 001)",
                   what=f"{args.image_size}x{args.image_size}, batch {args.batch_size}, "
                        f"backbone weights: {weights}")
    return 0
