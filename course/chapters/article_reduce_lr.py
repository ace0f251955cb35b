"""EarlyStopping alone vs with ReduceLROnPlateau (article 003, "Keras的回调函数ReduceLROnPlateau").

The article trains a one-hidden-layer MLP on MNIST (784 -> 784 ReLU, Dropout 0.5, -> 10; Adam at
0.01, batch 200, up to 30 epochs) twice: with ``EarlyStopping(monitor='val_accuracy',
patience=2)`` alone, which stops it at epoch 5, and with ``ReduceLROnPlateau(monitor=
'val_accuracy', factor=0.1, patience=1, epsilon=1e-4)`` added, which lowers the rate instead and
so trains longer to a higher accuracy. One command runs both ('adam+es' and 'adam+es+plateau'),
puts both runs' curves (and their learning rates, tag ``lr``) in VisualDL, and prints the epoch
each stopped at, its rates and its final accuracy above the comparison table.

Departures from the article:
- Validation: the article validates on the 10,000 test images (``validation_data=(X_test,
  y_test)``) and stops on them; here the runs stop on the course's 10,000 validation images and
  the test images are only evaluated at the end (the table's "test acc", the article's
  ``model.evaluate(X_test)``). Training uses the course's 50,000 training images, not 60,000.
- ``mlp_keras`` initialises with Keras's ``kernel_initializer='normal'`` (std 0.05). Adam is
  Keras's (``--defaults keras``, the default here: epsilon 1e-7), on Paddle's Adam, which adds
  that epsilon after the bias correction, Keras before it (only gradients below ~1e-5 notice;
  course/engine/optimizers.py). The article's seed 7 is the default seed, but Paddle's random
  numbers are not NumPy's: the curves differ from the article's in detail.

examples:
  python scripts/reduce_lr_article.py                      # the article
  python scripts/reduce_lr_article.py --seeds 7,8,9        # mean ± std over three seeds
  python scripts/reduce_lr_article.py --reduce-lr-on-plateau "monitor=val_acc,factor=0.5,patience=1"
  python scripts/reduce_lr_article.py --dry-run
"""
from __future__ import annotations

from course.chapters.common import run_and_report, sweep_flags
from course.cli import CommandLine
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

# 文章的设置:Adam(learning_rate=0.01)、batch_size=200、epochs=30、随机种子 7
MODEL, LR, BATCH_SIZE, EPOCHS, SEED = "mlp_keras", 0.01, 200, 30, 7
# EarlyStopping(monitor='val_accuracy', patience=2, mode='auto')
EARLY_STOP = "monitor=val_acc,patience=2"
# ReduceLROnPlateau(monitor='val_accuracy', factor=0.1, patience=1, epsilon=0.0001, cooldown=0, min_lr=0)
REDUCE_LR = "monitor=val_acc,factor=0.1,patience=1,min_delta=0.0001,cooldown=0,min_lr=0"


def command_line() -> CommandLine:
    """The article's settings as flags, then where and how."""
    cl = CommandLine(__doc__)
    cl.settings("the article's settings", RunConfig, "dataset", "data_cache", "lr", "epochs",
                "batch_size", "early_stop", "reduce_lr_on_plateau", "subset", "val_subset",
                lr=LR, epochs=EPOCHS, batch_size=BATCH_SIZE, early_stop=EARLY_STOP,
                reduce_lr_on_plateau=REDUCE_LR)
    cl.settings("the article's settings", RunConfig, "defaults", defaults="keras")   # its Keras Adam
    sweep_flags(cl, seeds=[SEED])
    return cl


def stopping_summary(runs) -> list[str]:
    """Per run: the epoch it stopped at, the rates it trained with, its final accuracies."""
    lines = []
    for run in runs:
        history = run["history"]
        rates = []
        for h in history:   # the rate each epoch trained with, and from which epoch on
            if not rates or h["lr"] != rates[-1][1]:
                rates.append((h["epoch"], h["lr"]))
        path = " -> ".join(f"{lr:g}" + (f" (epoch {e})" if i else "") for i, (e, lr) in enumerate(rates))
        stop = ("stopped early at epoch" if run["stopped_early"] else "ran all") + \
            f" {run['epochs_run']} of {run['epochs_planned']}"
        final = "—" if run["final_val_acc"] is None else f"{100 * run['final_val_acc']:.2f}%"
        test = "—" if run["test_acc"] is None else f"{100 * run['test_acc']:.2f}%"
        lines.append(f"{run['run']}: {stop}; lr {path}; final val acc {final}, test acc {test}")
    return lines + [""]


def main(argv=None) -> int:
    """Train Adam with EarlyStopping alone and with ReduceLROnPlateau added; print how each stopped."""
    cl = command_line()
    args = cl.parse(argv)
    # 两个对照组:只有 EarlyStopping;EarlyStopping + ReduceLROnPlateau
    base = cl.config(args, model=MODEL, reduce_lr_on_plateau="")
    arms = [{"optimizer": "adam", "label": "es"},
            {"optimizer": "adam", "label": "es+plateau", "reduce_lr_on_plateau": args.reduce_lr_on_plateau}]
    sweep = Sweep(base, arms, lrs=[args.lr], seeds=args.seeds, logdir=args.logdir)
    run_and_report(sweep, args, title=f"{sweep.root.name}: EarlyStopping vs + ReduceLROnPlateau "
                                      "(article 003)",
                   what=f"batch {args.batch_size}",
                   summary=stopping_summary)
    return 0
