"""手写数字识别之损失函数: the digit as a number to regress (MSE) or a class to pick (cross-entropy).

The course's chapter first treats recognition as regression: the network outputs one number, the
loss is the mean squared error against the label, and the answer is the rounded output. It then
switches to classification: ten outputs, a softmax turns them into probabilities, and the
cross-entropy loss is the negative log-probability of the right digit. Same network, same data,
same optimizer: the second learns far better, because a digit's value is not a distance (a 7 is
no "closer" to an 8 than to a 1) and the squared error punishes the wrong things.

This chapter trains the course's LeNet both ways (``--loss mse`` with one output, ``--loss ce``
with ten) and prints them side by side.

examples:
  python scripts/ch3_loss.py
  python scripts/ch3_loss.py --model mlp_relu --epochs 3
  python scripts/ch3_loss.py --dry-run
"""
from __future__ import annotations

from course.chapters.common import run_and_report, sweep_flags
from course.cli import CommandLine
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

# 两种损失:回归(一个输出 + 均方误差)和分类(十个输出 + softmax + 交叉熵)
ARMS = [{"optimizer": "sgd", "label": "regression-mse", "loss": "mse"},
        {"optimizer": "sgd", "label": "classification-ce", "loss": "ce"}]
LR, SUBSET, EPOCHS = 0.01, 10_000, 5


def command_line() -> CommandLine:
    """The chapter's settings as flags, then where and how."""
    cl = CommandLine(__doc__)
    cl.settings("the chapter's settings", RunConfig, "dataset", "data_cache", "model", "lr", "epochs",
                "batch_size", "subset", "val_subset", lr=LR, subset=SUBSET, epochs=EPOCHS)
    sweep_flags(cl)
    return cl


def main(argv=None) -> int:
    """Train the model as a regression and as a classification, then print the table."""
    cl = command_line()
    args = cl.parse(argv)
    # (stop_at_chance off: a regression's first epoch is judged by its rounded outputs)
    base = cl.config(args, stop_at_chance=False)
    sweep = Sweep(base, ARMS, lrs=[args.lr], seeds=args.seeds, logdir=args.logdir, folder="ch3-loss")
    run_and_report(sweep, args, title=f"ch3-loss: {args.model}, MSE regression vs cross-entropy (损失函数)",
                   what=f"SGD lr {args.lr:g}, batch {args.batch_size}")
    return 0
