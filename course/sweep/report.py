"""The sweep's summary, generated from its run directories: the optimizer comparison table
(the articles' 优化器比较表) as Markdown and CSV, and the figures (``course.sweep.plots``: learning
curves, learning-rate sensitivity, optimizer x rate heat map), embedded in ``comparison.md`` with
any further sections (the confirmation of ``course.sweep.confirm``). Nothing here trains; it only
reads ``result.json`` and ``metrics.json``.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path

from course.engine.errors import ConfigError
from course.engine.files import atomic_write_all, atomic_write_csv, atomic_write_text, read_json
from course.engine.progress import hms
from course.engine.results import check_result, time_to_target

TABLE_COLUMNS = ["optimizer", "lr", "seeds", "best_val_acc", "best_val_acc_std", "final_val_acc",
                 "final_lr", "stopped_early", "test_acc",
                 "test_loss", "epochs_run", "epochs_to_target", "seconds_to_target",
                 "total_seconds", "diverged"]


def load_runs(root, names=None) -> list[dict]:
    """The finished runs under a sweep root (only those called ``names``, if given): each its
    result plus its epoch history."""
    runs = []
    for result_file in sorted(Path(root).glob("*/result.json")):
        if names is not None and result_file.parent.name not in names:
            continue
        result = check_result(read_json(result_file), result_file)
        # a result written before the key was renamed calls it 'arm'
        result.setdefault("variant", result.pop("arm", result["optimizer"]))
        history = read_json(result_file.parent / "metrics.json", default=[])
        if not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
            raise ConfigError(f"{result_file.parent / 'metrics.json'} is not a run's epoch list; "
                              "delete that run directory to train it again")
        result["history"] = history
        runs.append(result)
    return runs


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _std(values):
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else 0.0 if values else None


def summarize_groups(runs: list[dict], optimizer_order=None, target_acc=None) -> list[dict]:
    """One row per (optimizer, learning rate), averaged over seeds.

    With ``target_acc``, when each run reached it is read again from its history (the target is
    the report's choice, not the run's: it does not change what a run learns).
    """
    groups = defaultdict(list)
    for run in runs:
        if target_acc is not None:
            reached = time_to_target(run.get("history", []), target_acc)
            run.update(target_acc=target_acc, epochs_to_target=reached and reached[0],
                       seconds_to_target=reached and reached[1])
        groups[(run["variant"], run["lr"])].append(run)
    order = {name: i for i, name in enumerate(optimizer_order or [])}
    rows = []
    for (opt, lr), members in sorted(groups.items(),
                                     key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][0], -kv[0][1])):
        reached = [m for m in members if m["epochs_to_target"] is not None]
        rows.append({
            "optimizer": opt, "lr": lr, "seeds": len(members),
            "best_val_acc": _mean(m["best_val_acc"] for m in members),
            "best_val_acc_std": _std(m["best_val_acc"] for m in members),
            "final_val_acc": _mean(m["final_val_acc"] for m in members),
            "test_acc": _mean(m["test_acc"] for m in members),
            "test_loss": _mean(m["test_loss"] for m in members),
            "epochs_run": _mean(m["epochs_run"] for m in members),
            "stopped_early": sum(bool(m.get("stopped_early")) for m in members),
            "final_lr": _mean(m["history"][-1]["lr"] for m in members if m.get("history")),
            "epochs_to_target": _mean(m["epochs_to_target"] for m in reached),
            "seconds_to_target": _mean(m["seconds_to_target"] for m in reached),
            "reached_target": len(reached),
            "total_seconds": _mean(m["total_seconds"] for m in members),
            "diverged": sum(bool(m["diverged"]) for m in members),
            "target_acc": members[0]["target_acc"],
        })
    return rows


def _pct(value):
    return "—" if value is None else f"{100 * value:.2f}%"


def markdown_table(rows: list[dict]) -> str:
    """The comparison table. Columns that would say nothing are left out: the spread over
    seeds when each cell has one seed, the final rate when no run changed its rate."""
    if not rows:
        return "(no finished runs)\n"
    target = f"{100 * rows[0]['target_acc']:g}%"
    several_seeds = any(r["seeds"] > 1 for r in rows)
    rate_moved = any(r["final_lr"] is not None and not math.isclose(r["final_lr"], r["lr"]) for r in rows)
    head = ["optimizer", "lr", "seeds", "best val acc" + (" (mean ± std)" if several_seeds else ""),
            "final val acc", *(["final lr"] if rate_moved else []), "test acc", "test loss",
            "epochs run", f"epochs to {target}", f"time to {target}", "total time", "diverged"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        n = r["seeds"]
        partial = f" ({r['reached_target']}/{n})" if 0 < r["reached_target"] < n else ""
        early = ("" if not r["stopped_early"] else " (early stop)" if n == 1
                 else f" ({r['stopped_early']}/{n} early stop)")
        best = _pct(r["best_val_acc"])
        if n > 1:   # a single seed has no spread to show
            best += f" ± {100 * (r['best_val_acc_std'] or 0):.2f}"
        cells = [
            r["optimizer"], f"{r['lr']:g}", str(n), best, _pct(r["final_val_acc"]),
            *([f"{r['final_lr']:.3g}"] if rate_moved else []),
            _pct(r["test_acc"]), "—" if r["test_loss"] is None else f"{r['test_loss']:.4f}",
            f"{r['epochs_run']:g}{early}",
            "—" if r["epochs_to_target"] is None else f"{r['epochs_to_target']:g}{partial}",
            hms(r["seconds_to_target"]) + (partial if r["seconds_to_target"] is not None else ""),
            hms(r["total_seconds"]),
            "no" if not r["diverged"] else f"yes ({r['diverged']}/{n})" if n > 1 else "yes",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


FIGURES = [   # (file, alt text, what it shows), in the order comparison.md shows them
    ("lr_sensitivity.png", "learning-rate sensitivity",
     "final validation accuracy against learning rate; a diverged run is an x in the grey strip "
     "below the axis' break, bars span the seeds"),
    ("heatmap.png", "optimizer x learning rate",
     "best validation accuracy of every cell (mean over seeds), diverged cells hatched, each "
     "optimizer's best rate framed"),
    ("curves.png", "learning curves",
     "loss and accuracy per epoch of each optimizer at its best rate: the mean over seeds, shaded "
     "from the lowest to the highest seed"),
]


def figure_links() -> str:
    """The Markdown that embeds the figures (relative links: they sit beside comparison.md)."""
    return "## Figures\n\n" + "\n\n".join(f"`{name}`: {what}.\n\n![{alt}]({name})"
                                            for name, alt, what in FIGURES) + "\n"


def write_report(root, optimizer_order=None, title: str = "", names=None, target_acc=None,
                 sections: str = "") -> dict:
    """Write comparison.md, comparison.csv and the figures (``FIGURES``) into ``root``.

    ``names``: the runs to report (default: every finished run in ``root``); ``target_acc``: the
    accuracy the "epochs/time to" columns count to (default: each run's own); ``sections``:
    Markdown put between the table and the figures (the confirmation's result).

    Returns the paths written, the Markdown table itself under ``'table'``, and what each figure
    drew under ``'drawn'``.
    """
    from course.sweep.plots import plot_curves, plot_heatmap, plot_lr_sensitivity

    root = Path(root)
    runs = load_runs(root, names)
    if not runs:   # empty plots and an empty table would only hide that nothing finished
        raise ConfigError(f"{root}: no finished runs to report (a run is finished when its "
                          "result.json is there); run the sweep without --report-only first")
    rows = summarize_groups(runs, optimizer_order, target_acc)
    table = markdown_table(rows)
    paths = {"table_md": root / "comparison.md", "table_csv": root / "comparison.csv",
             "curves": root / "curves.png", "lr_sensitivity": root / "lr_sensitivity.png",
             "heatmap": root / "heatmap.png", "table": table}
    name = title or root.name
    parts = [f"# {name}: optimizer comparison\n", table, sections.strip() + "\n" if sections.strip() else "",
             figure_links()]

    def write(folder):   # all five files or none (a full disk keeps the last report whole)
        paths["drawn"] = {
            "curves": plot_curves(runs, rows, folder / "curves.png", name),
            "lr_sensitivity": plot_lr_sensitivity(runs, rows, folder / "lr_sensitivity.png", name),
            "heatmap": plot_heatmap(rows, folder / "heatmap.png", name)}
        atomic_write_csv(folder / "comparison.csv", rows, TABLE_COLUMNS + ["reached_target", "target_acc"])
        atomic_write_text(folder / "comparison.md", "\n".join(p for p in parts if p))

    atomic_write_all(root, write)
    return paths
