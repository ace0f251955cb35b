"""The sweep's figures (drawn in the course's bilingual style, ``course.engine.figures``):

- ``plot_curves``: the learning curves of each optimizer at its best rate; with several seeds the
  line is their mean and a shaded band spans their minimum to maximum.
- ``plot_lr_sensitivity``: final validation accuracy against learning rate. A diverged run is
  drawn as an x in a grey strip below a broken y-axis, so one run at chance (10%) does not squeeze
  the real spread (say 89-98%) into the top tenth of the plot.
- ``plot_heatmap``: optimizer x learning rate, coloured by a metric, the value written in each
  cell, diverged cells hatched with an x, each optimizer's best rate framed.

Accuracy is drawn in percent points (0-100, ticks and labels say %), the unit of the table, so a
number read off a figure is the number in the table.

Each returns what it drew (axis limits, bands, diverged cells), so a test can check the figure.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict

import numpy as np
from matplotlib.colors import FuncNorm
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, PercentFormatter

from course.engine.figures import label, plt, save_figure, style

METRICS = {"best_val_acc": label("最佳验证准确率（%）", "best validation accuracy (%)"),
           "final_val_acc": label("最终验证准确率（%）", "final validation accuracy (%)"),
           "test_acc": label("测试准确率（%）", "test accuracy (%)")}
STRIP = 0.18            # share of the sensitivity plot's height given to the diverged strip
PAD = 0.12              # margin above and below the accuracies, as a share of their range
MIN_SPAN = 2.0          # the y-range shown is never narrower than 2 points of accuracy
PERCENT = PercentFormatter(100)   # tick labels of every accuracy axis: '97%' for the value 97


def percent(value):
    """An accuracy as the figures draw it: a fraction (0.97) in percent points (97.0); None stays."""
    return None if value is None else 100 * value


def best_lr_per_optimizer(rows: list[dict]) -> dict:
    """optimizer -> the learning rate with the best mean validation accuracy (non-diverged first)."""
    best = {}
    for r in rows:
        key = (r["diverged"] < r["seeds"], r["best_val_acc"] or 0.0)
        if r["optimizer"] not in best or key > best[r["optimizer"]][0]:
            best[r["optimizer"]] = (key, r["lr"])
    return {opt: lr for opt, (_, lr) in best.items()}


def cells_of(runs: list[dict]) -> dict:
    """(optimizer as the report names it, lr) -> its runs (one per seed), in the runs' order."""
    cells = defaultdict(list)
    for run in runs:
        cells[(run["variant"], run["lr"])].append(run)
    return cells


def _finite(values) -> list:
    return [v for v in values if v is not None and math.isfinite(v)]


def _seed_band(runs, key, scale=1.0):
    """Per epoch: the mean of ``key`` (times ``scale``) over the runs that reached it, its min and max."""
    mean, low, high = [], [], []
    for e in range(max(len(r["history"]) for r in runs)):
        values = _finite(scale * r["history"][e][key] for r in runs
                         if e < len(r["history"]) and r["history"][e].get(key) is not None)
        mean.append(sum(values) / len(values) if values else math.nan)
        low.append(min(values, default=math.nan))
        high.append(max(values, default=math.nan))
    return mean, low, high


def plot_curves(runs: list[dict], rows: list[dict], path, title: str) -> dict:
    """Train/validation loss and accuracy per epoch, one line per optimizer at its best rate: the
    mean over seeds, with a shaded band from the lowest to the highest seed where there are several.

    Returns ``{"bands": how many shaded bands were drawn}``.
    """
    best, cells, bands = best_lr_per_optimizer(rows), cells_of(runs), 0
    panels = [("train_loss", label("训练损失", "train loss")), ("val_loss", label("验证损失", "validation loss")),
              ("train_acc", label("训练准确率", "train accuracy")),
              ("val_acc", label("验证准确率", "validation accuracy"))]
    with style():
        fig, axes = plt.subplots(2, 2, figsize=(11, 8))
        for ax, (key, name) in zip(axes.flat, panels):
            for opt, lr in best.items():
                members = [r for r in cells.get((opt, lr), []) if r["history"]]
                if not members:
                    continue
                mean, low, high = _seed_band(members, key, 100.0 if "acc" in key else 1.0)
                epochs = range(1, len(mean) + 1)
                n = len(members)
                line, = ax.plot(epochs, mean, marker="o", markersize=3,
                                label=f"{opt} (lr={lr:g}" + (f", {n} seeds)" if n > 1 else ")"))
                if n > 1:
                    ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
                    bands += 1
            ax.set_title(name)
            ax.set_xlabel(label("轮次", "epoch"))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if "acc" in key:
                ax.set_ylabel(label("准确率（%）", "accuracy (%)"))
                ax.yaxis.set_major_formatter(PERCENT)
            low, high = ax.get_ylim()
            if "loss" in key and low > 0 and high / low > 20:  # losses spanning decades read better on a log axis
                ax.set_yscale("log")
        axes.flat[0].legend(fontsize=8)
        spread = "\n" + label("阴影：各种子的最小值至最大值", "shaded: lowest to highest seed") if bands else ""
        fig.suptitle(f"{title}: " + label("各优化器的学习曲线（最佳学习率，种子平均）",
                                          "learning curves, best rate per optimizer, mean over seeds")
                     + spread)
        fig.tight_layout()
        save_figure(fig, path)
    return {"bands": bands}


def accuracy_limits(values, diverged: bool = False) -> tuple[float, float, float]:
    """The sensitivity plot's y-axis: (bottom, floor, top).

    ``values`` are the accuracies (percent points) of the runs that did not diverge: the axis fits
    them (with a margin, at least ``MIN_SPAN`` wide, within 0..100) and nothing else. With
    ``diverged`` runs a strip of ``STRIP`` of the height is added below ``floor`` for their
    markers; without, the floor is the bottom.
    """
    finite = _finite(values)
    if not finite:
        return (0.0, 0.0, 100.0)
    low, high = min(finite), max(finite)
    pad = max((high - low) * PAD, (MIN_SPAN - (high - low)) / 2, 0.2)
    floor, top = max(0.0, low - pad), min(100.0, high + pad)
    if not diverged:
        return (floor, floor, top)
    return (floor - (top - floor) * STRIP / (1 - STRIP), floor, top)


def plot_lr_sensitivity(runs: list[dict], rows: list[dict], path, title: str) -> dict:
    """Final validation accuracy against learning rate (log axis), one line per optimizer: the mean
    over seeds that did not diverge, with bars from the lowest to the highest seed.

    A cell whose every seed diverged is an x in the grey strip below the axis' break (labelled with
    its accuracy), so it does not stretch the axis; a dotted line leads down to it. Returns
    ``{"ylim", "floor", "diverged": [(optimizer, lr, accuracy), ...]}``.
    """
    cells, points = cells_of(runs), []
    for r in rows:   # per cell: the final accuracies of the seeds that did not diverge, and of those that did
        members = cells.get((r["optimizer"], r["lr"]), [])
        points.append({"optimizer": r["optimizer"], "lr": r["lr"], "seeds": r["seeds"],
                       "good": _finite(percent(m["final_val_acc"]) for m in members if not m["diverged"]),
                       "lost": _finite(percent(m["final_val_acc"]) for m in members if m["diverged"])})
        points[-1]["mean"] = statistics.fmean(points[-1]["good"]) if points[-1]["good"] else math.nan
    all_lost = [p for p in points if not p["good"]]
    bottom, floor, top = accuracy_limits([v for p in points for v in p["good"]], diverged=bool(all_lost))
    with style():
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for opt in dict.fromkeys(p["optimizer"] for p in points):
            mine = sorted((p for p in points if p["optimizer"] == opt), key=lambda p: p["lr"])
            line, = ax.plot([p["lr"] for p in mine], [p["mean"] for p in mine], marker="o", label=opt)
            color = line.get_color()
            several = [p for p in mine if len(p["good"]) > 1]
            if several:
                ax.errorbar([p["lr"] for p in several], [p["mean"] for p in several], fmt="none", ecolor=color,
                            capsize=3, yerr=[[p["mean"] - min(p["good"]) for p in several],
                                             [max(p["good"]) - p["mean"] for p in several]])
            for p in mine:
                if p["good"] and p["lost"]:   # some seeds diverged: the mean is of the others
                    ax.annotate(f"{len(p['lost'])}/{p['seeds']} ×", (p["lr"], p["mean"]), xytext=(5, -12),
                                textcoords="offset points", fontsize=8, color=color)
            _mark_diverged(ax, mine, all_lost, (bottom, floor), color, max(p["lr"] for p in points))
        _break_axis(ax, bottom, floor, top, all_lost)
        ax.set_xscale("log")
        ax.set_xlabel(label("学习率（对数坐标）", "learning rate (log scale)"))
        ax.set_ylabel(METRICS["final_val_acc"])
        bars = any(len(p["good"]) > 1 for p in points)
        ax.set_title(f"{title}: " + label("学习率敏感性", "learning-rate sensitivity") + (
            "\n" + label("竖线：各种子的最小值至最大值", "bars: lowest to highest seed") if bars else ""))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9)
        fig.tight_layout()
        save_figure(fig, path)
    return {"ylim": (bottom, top), "floor": floor,
            "diverged": [(p["optimizer"], p["lr"], min(p["lost"], default=math.nan)) for p in all_lost]}


def _mark_diverged(ax, mine, all_lost, strip, color, right_edge) -> None:
    """An x in the strip for each of one optimizer's diverged cells (stacked where several
    optimizers diverged at one rate), its accuracy beside it, a dotted drop from its neighbours."""
    bottom, floor = strip
    for i, p in enumerate(mine):
        if p["good"]:
            continue
        same_rate = [q for q in all_lost if q["lr"] == p["lr"]]
        y = bottom + (floor - bottom) * (same_rate.index(p) + 1) / (len(same_rate) + 1)
        ax.scatter([p["lr"]], [y], marker="x", s=70, color=color, zorder=3)
        acc = min(p["lost"], default=math.nan)
        at_right = p["lr"] >= right_edge   # at the largest rate the label goes left, inside the plot
        ax.annotate(f"{p['optimizer']} {acc:.1f}%" if math.isfinite(acc) else p["optimizer"], (p["lr"], y),
                    xytext=(-8 if at_right else 8, 0), textcoords="offset points", fontsize=8,
                    color=color, ha="right" if at_right else "left", va="center")
        for j in (i - 1, i + 1):
            if 0 <= j < len(mine) and mine[j]["good"]:
                ax.plot([mine[j]["lr"], p["lr"]], [mine[j]["mean"], y], linestyle=":", color=color)


def _break_axis(ax, bottom, floor, top, all_lost) -> None:
    """y-limits, percent ticks only above the floor, and the grey diverged strip with its break."""
    ax.set_ylim(bottom, top)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=14, steps=[1, 2, 5, 10]))
    ticks = [t for t in ax.get_yticks() if floor - 1e-9 <= t <= top + 1e-9]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0   # in points of accuracy
    decimals = next((d for d in (0, 1, 2) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-6), 3)
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=decimals))
    if not all_lost:
        return
    ax.set_yticks(ticks)   # none in the strip: its height is not accuracy
    ax.set_ylim(bottom, top)
    ax.axhspan(bottom, floor, color="0.92", zorder=0)
    ax.axhline(floor, color="0.5", linewidth=0.8, linestyle="--")
    ax.text(0.01, (bottom + floor) / 2, label("发散（轴已截断）", "diverged (axis broken)"),
            transform=ax.get_yaxis_transform(), fontsize=8, color="0.35", va="center")
    d = (top - bottom) * 0.012
    for y in (floor - d, floor + d):   # the break mark on the left spine
        ax.plot([-0.012, 0.012], [y - d, y + d], transform=ax.get_yaxis_transform(), color="0.3",
                linewidth=1, clip_on=False)


def plot_heatmap(rows: list[dict], path, title: str, metric: str = "best_val_acc") -> dict:
    """Optimizer (rows) x learning rate (columns, rising) coloured by ``metric`` (mean over seeds),
    the value written in each cell with its ± std over seeds and, where cells have different
    numbers of seeds, the count; diverged cells hatched with an x (the colour scale spans the
    others), each optimizer's best rate framed. Returns ``{"values": {(opt, lr): mean}, "diverged"}``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    opts = list(dict.fromkeys(r["optimizer"] for r in rows))
    lrs = sorted({r["lr"] for r in rows})
    by_cell = {(r["optimizer"], r["lr"]): r for r in rows}
    all_diverged = [(r["optimizer"], r["lr"]) for r in rows if r["diverged"] and r["diverged"] == r["seeds"]]
    grid = np.full((len(opts), len(lrs)), np.nan)
    for (opt, lr), r in by_cell.items():
        if (opt, lr) not in all_diverged and r[metric] is not None:
            grid[opts.index(opt), lrs.index(lr)] = percent(r[metric])
    counts = {r["seeds"] for r in rows}
    best = best_lr_per_optimizer(rows)
    with style():
        fig, ax = plt.subplots(figsize=(2.6 + 1.5 * len(lrs), 1.6 + 0.62 * len(opts)))
        # The colour scale spans the cells without any diverged seed; a partly diverged one,
        # dragged down by its runs at chance, takes the lowest colour (its number says the rest).
        clean = [(opts.index(r["optimizer"]), lrs.index(r["lr"])) for r in rows if not r["diverged"]]
        shown = np.array([grid[c] for c in clean]) if clean else grid
        shown = shown[np.isfinite(shown)]
        # Coloured by the error's logarithm: 2% and 3% error differ as much as 20% and 30% do, so
        # the close calls near the top do not all come out the same yellow.
        norm = FuncNorm((lambda a: -np.log10(np.clip(1 - a / 100, 1e-4, 1)), lambda e: 100 * (1 - 10.0 ** -e)),
                        vmin=shown.min() if shown.size else 0, vmax=shown.max() if shown.size else 100)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto", norm=norm)
        for (opt, lr), r in by_cell.items():
            _write_cell(ax, image, grid, (opts.index(opt), lrs.index(lr)), r, metric,
                        (opt, lr) in all_diverged, len(counts) > 1)
        # Inset, so the frames of two best cells in adjacent rows do not merge into one line.
        for opt, lr in best.items():
            ax.add_patch(Rectangle((lrs.index(lr) - 0.44, opts.index(opt) - 0.44), 0.88, 0.88,
                                   fill=False, edgecolor="red", linewidth=2))
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_yticks(range(len(opts)), opts)
        ax.set_xlabel(label("学习率", "learning rate"))
        ax.set_ylabel(label("优化器", "optimizer"))
        fig.colorbar(image, ax=ax, format=PERCENT, label=METRICS[metric])
        spread = max(counts) > 1   # the cells' ± is the standard deviation over seeds, as in the table
        ax.set_title(f"{title}: {METRICS[metric]}\n" +
                     label(f"（种子{'平均 ± 标准差' if spread else '平均'}；红框 = 各优化器最佳学习率）",
                           f"(mean{' ± std' if spread else ''} over seeds; red frame = best rate)"),
                     fontsize=10)
        fig.tight_layout()
        save_figure(fig, path)
    return {"values": {cell: r[metric] for cell, r in by_cell.items() if cell not in all_diverged},
            "diverged": all_diverged}


def _write_cell(ax, image, grid, at, r, metric, diverged: bool, show_count: bool) -> None:
    """One heat-map cell's text at ``at`` (row, column): hatched '× diverged' where every seed
    diverged, else the value with its ± std over seeds, the seed count and the diverged count."""
    i, j = at
    if diverged:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.9", hatch="xx",
                               edgecolor="0.6", linewidth=0))
        ax.text(j, i, "× " + label("发散", "diverged"), ha="center", va="center", fontsize=9, color="0.2")
        return
    text = "—" if r[metric] is None else f"{100 * r[metric]:.2f}"
    if r["seeds"] > 1 and r.get(f"{metric}_std") is not None:
        text += f"\n± {100 * r[f'{metric}_std']:.2f}"
    if show_count:
        text += f"\nn={r['seeds']}"
    if r["diverged"]:
        text += f"\n({r['diverged']}/{r['seeds']} ×)"
    ax.text(j, i, text, ha="center", va="center", fontsize=9,
            color="white" if np.isfinite(grid[i, j]) and image.norm(grid[i, j]) < 0.55 else "black")
