"""The sweep's figures: learning curves per optimizer and learning-rate sensitivity
(drawn in the course's bilingual style, ``course.engine.figures``)."""
from __future__ import annotations

import math

from matplotlib.ticker import MaxNLocator

from course.engine.figures import label, plt, save_figure, style


def best_lr_per_optimizer(rows: list[dict]) -> dict:
    """optimizer -> the learning rate with the best mean validation accuracy (non-diverged first)."""
    best = {}
    for r in rows:
        key = (r["diverged"] < r["seeds"], r["best_val_acc"] or 0.0)
        if r["optimizer"] not in best or key > best[r["optimizer"]][0]:
            best[r["optimizer"]] = (key, r["lr"])
    return {opt: lr for opt, (_, lr) in best.items()}


def _mean_curve(runs, key):
    """Mean of ``key`` per epoch over the runs that reached that epoch."""
    length = max(len(r["history"]) for r in runs)
    curve = []
    for e in range(length):
        values = [r["history"][e][key] for r in runs
                  if e < len(r["history"]) and r["history"][e].get(key) is not None]
        values = [v for v in values if math.isfinite(v)]
        curve.append(sum(values) / len(values) if values else float("nan"))
    return curve


def plot_curves(runs: list[dict], rows: list[dict], path, title: str) -> None:
    """Train/validation loss and accuracy per epoch, one line per optimizer at its best rate."""
    best = best_lr_per_optimizer(rows)
    panels = [("train_loss", label("训练损失", "train loss")), ("val_loss", label("验证损失", "validation loss")),
              ("train_acc", label("训练准确率", "train accuracy")), ("val_acc", label("验证准确率", "validation accuracy"))]
    with style():
        fig, axes = plt.subplots(2, 2, figsize=(11, 8))
        for ax, (key, name) in zip(axes.flat, panels):
            for opt, lr in best.items():
                members = [r for r in runs if r.get("arm", r["optimizer"]) == opt and r["lr"] == lr
                           and r["history"]]
                if not members:
                    continue
                curve = _mean_curve(members, key)
                ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3,
                        label=f"{opt} (lr={lr:g})")
            ax.set_title(name)
            ax.set_xlabel(label("轮次", "epoch"))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            low, high = ax.get_ylim()
            if "loss" in key and low > 0 and high / low > 20:  # losses spanning decades read better on a log axis
                ax.set_yscale("log")
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"{title}: " + label("各优化器的学习曲线（最佳学习率，种子平均）",
                                          "learning curves, best rate per optimizer, mean over seeds"))
        fig.tight_layout()
        save_figure(fig, path)


def plot_lr_sensitivity(rows: list[dict], path, title: str) -> None:
    """Final validation accuracy against learning rate (log axis), one line per optimizer;
    runs that diverged are marked with an x."""
    with style():
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for opt in dict.fromkeys(r["optimizer"] for r in rows):
            mine = sorted((r for r in rows if r["optimizer"] == opt), key=lambda r: r["lr"])
            xs = [r["lr"] for r in mine]
            ys = [r["final_val_acc"] if r["final_val_acc"] is not None else float("nan") for r in mine]
            line, = ax.plot(xs, ys, marker="o", label=opt)
            bad = [(x, y) for x, y, r in zip(xs, ys, mine) if r["diverged"]]
            if bad:
                ax.scatter([b[0] for b in bad], [0 if math.isnan(b[1]) else b[1] for b in bad],
                           marker="x", s=80, color=line.get_color(), zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel(label("学习率（对数坐标）", "learning rate (log scale)"))
        ax.set_ylabel(label("最终验证准确率", "final validation accuracy"))
        ax.set_title(f"{title}: " + label("学习率敏感性（x = 发散）", "learning-rate sensitivity (x = diverged)"))
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        save_figure(fig, path)
