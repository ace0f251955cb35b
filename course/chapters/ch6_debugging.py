"""手写数字识别之训练调试与优化: look inside the network, and keep it from over-fitting.

The course's chapter adds, step by step: the accuracy inside the training loop, an evaluation on
the validation split after each epoch, printing each layer's output shape and values on one batch
(``check_shape`` / ``check_content``: the way to find a wrong reshape or a dead layer before a
long run), L2 regularisation (``weight_decay``) against over-fitting, and VisualDL plus matplotlib
to watch the curves.

This chapter prints the layer-by-layer table of the course's LeNet on one batch (forward hooks:
name, output shape, mean, std, share of zeros), then trains an MLP with and without L2 on a small
training set, where over-fitting shows (training accuracy far above validation accuracy), and
prints the gap of each. The runs log to VisualDL and the sweep writes curves.png.

examples:
  python scripts/ch6_debugging.py
  python scripts/ch6_debugging.py --weight-decays 0,1e-4,1e-3
  python scripts/ch6_debugging.py --dry-run
"""
from __future__ import annotations

import numpy as np

from course.chapters.common import run_and_report, sweep_flags
from course.cli import CommandLine, csv_list
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

# 小训练集 + 较多轮次:过拟合看得见;L2 = 课程的 5e-4
SUBSET, EPOCHS, MODEL, LR, WEIGHT_DECAYS = 2_000, 20, "mlp_relu", 0.1, "0,0.0005,0.005"


def check_layers(model, images) -> list[dict]:
    """check_shape / check_content: every leaf layer's output on one batch (shape, mean, std, zeros)."""
    import paddle

    rows, hooks = [], []

    def record(name):
        def hook(layer, inputs, output):
            values = output.numpy()
            rows.append({"layer": name, "type": type(layer).__name__, "shape": list(values.shape),
                         "mean": float(values.mean()), "std": float(values.std()),
                         "zeros": float(np.mean(values == 0))})
        return hook

    for name, layer in model.named_sublayers():
        if not layer.sublayers():             # leaf layers only: a conv, a pool, a linear
            hooks.append(layer.register_forward_post_hook(record(name)))
    model.eval()
    with paddle.no_grad():
        model(paddle.to_tensor(images))
    for hook in hooks:
        hook.remove()
    return rows


def layer_table(rows) -> list[str]:
    """The check_layers rows as aligned lines."""
    lines = [f"{'layer':<8} {'type':<10} {'output shape':<18} {'mean':>8} {'std':>8} {'zeros':>6}"]
    lines += [f"{r['layer']:<8} {r['type']:<10} {str(r['shape']):<18} {r['mean']:8.4f} {r['std']:8.4f} "
              f"{100 * r['zeros']:5.1f}%" for r in rows]
    return lines


def overfitting(runs) -> list[str]:
    """Per run: its final training and validation accuracy and the gap between them."""
    lines = []
    for run in runs:
        last = run["history"][-1]
        lines.append(f"{run['variant']}: train {100 * last['train_acc']:.2f}%, val {100 * last['val_acc']:.2f}%, "
                     f"gap {100 * (last['train_acc'] - last['val_acc']):.2f} points")
    return lines + [""]


def command_line() -> CommandLine:
    """The chapter's settings as flags, then where and how."""
    cl = CommandLine(__doc__)
    group = cl.settings("the chapter's settings", RunConfig, "dataset", "data_cache", "model", "lr",
                        "epochs", "batch_size", "subset", "val_subset", model=MODEL, lr=LR,
                        epochs=EPOCHS, subset=SUBSET)
    group.add_argument("--weight-decays", type=csv_list(float), default=WEIGHT_DECAYS,
                       help="the L2 coefficients compared (0 = none)")
    sweep_flags(cl)
    return cl


def main(argv=None) -> int:
    """Print LeNet's layer table on one batch, then compare L2 coefficients against over-fitting."""
    from course.engine.data import load_dataset
    from course.engine.experiment import build_run_model

    cl = command_line()
    args = cl.parse(argv)
    base = cl.config(args)
    lenet = base.replace(model="lenet")
    data = load_dataset(lenet, progress=False)
    images, _ = next(iter(data.train))
    for line in layer_table(check_layers(build_run_model(lenet, 10, data.input_shape), images)):
        print(line)
    arms = [{"optimizer": "sgd", "label": f"l2={wd:g}", "weight_decay": wd} for wd in args.weight_decays]
    sweep = Sweep(base, arms, lrs=[args.lr], seeds=args.seeds, logdir=args.logdir, folder="ch6-debugging")
    run_and_report(sweep, args, title=f"ch6-debugging: L2 against over-fitting, {args.model} (训练调试与优化)",
                   what=f"SGD lr {args.lr:g}", summary=overfitting)
    return 0
