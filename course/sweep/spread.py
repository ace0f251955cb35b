"""How far a sweep's numbers carry: per cell (optimizer x learning rate) the mean and spread over
seeds, the cells at the edge of divergence marked, and each optimizer's best rate seed by seed.

A sweep is bit-exact on one machine (the same command gives the same numbers), but not across
machines: oneDNN and MKL pick other kernels on other instruction sets and round differently. In
a healthy cell that moves the last digits; in a cell at the edge of divergence it moves the
result by points, or tips a run into divergence. Seeds are the way to see which cells are which
on one machine: a cell that seeds already scatter is one that another machine will not repeat.

A cell is at the edge (``EDGE_POINTS``, change it with ``--edge``) when

- some but not all of its seeds diverged;
- its seeds' results span more than ``edge`` points (lowest to highest); or
- its runs end more than ``edge`` points below their best epoch (mean over seeds): the rate is
  large enough that training swings back, the sign of the edge that a single seed already shows.

Why 1 point: the validation set has 10,000 images, so a point is 100 images and the binomial
standard error of a ~97% accuracy is 0.17 points: 1 point is about 6 of them, beyond what the
evaluation itself scatters. Three seeds of the default sweep's Momentum and RMSProp at 0.1 and 0.01
(docs/results.md) spanned 0.28 to 0.67 points in the cells that trained, and RMSProp 0.1 diverged
in two seeds of three; the cells that moved on another CPU moved by 1.3 and 3.1 points. The mark
is a lower bound: a cell just under it (Momentum 0.1, 0.67 points here) can still move by more.

Reads only the runs' ``result.json`` (``course.sweep.report.load_runs``); trains nothing.
"""
from __future__ import annotations

import json
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from course.engine import optimizers
from course.engine.errors import ConfigError
from course.engine.files import atomic_write_text
from course.sweep.report import load_runs

EDGE_POINTS = 1.0
OPTIMIZERS = list(optimizers.OPTIMIZERS)
METRICS = ("final_val_acc", "best_val_acc", "test_acc")


def cell_spread(runs: list[dict], metric: str = "final_val_acc", edge: float = EDGE_POINTS) -> list[dict]:
    """One row per (optimizer, lr), in the registry's order, rates falling: the metric over the
    seeds that did not diverge (percent points: mean, std (None below two), low, high), how many
    diverged, and why the cell is at the edge (``reasons``, empty when it is not)."""
    if metric not in METRICS:
        raise ConfigError(f"--metric: unknown metric {metric!r}; choose from: {', '.join(METRICS)}")
    cells = defaultdict(list)
    for run in runs:
        cells[run.get("arm", run["optimizer"]), run["lr"]].append(run)
    rows = []
    for (opt, lr), members in sorted(cells.items(), key=lambda kv: (_place(kv[0][0]), -kv[0][1])):
        good = [m for m in members if not m["diverged"] and m.get(metric) is not None]
        values = [100 * m[metric] for m in good]
        drops = [100 * (m["best_val_acc"] - m["final_val_acc"]) for m in good
                 if m.get("best_val_acc") is not None and m.get("final_val_acc") is not None]
        row = {"optimizer": opt, "lr": lr, "seeds": sorted(m["seed"] for m in members),
               "diverged": sum(bool(m["diverged"]) for m in members),
               "mean": statistics.fmean(values) if values else None,
               "std": statistics.stdev(values) if len(values) > 1 else None,    # one value: no spread
               "low": min(values, default=None), "high": max(values, default=None),
               "drop": statistics.fmean(drops) if drops else None}
        row["reasons"] = edge_reasons(row, edge)
        rows.append(row)
    return rows


def _place(optimizer: str):
    """Sort key: the registry's order (the course's sgd, momentum, ... first), then by name."""
    return (OPTIMIZERS.index(optimizer), "") if optimizer in OPTIMIZERS else (len(OPTIMIZERS), optimizer)


def edge_reasons(row: dict, edge: float) -> list[str]:
    """Why a cell is at the edge of divergence (the rules in this module's docstring); [] if not."""
    n, lost = len(row["seeds"]), row["diverged"]
    reasons = [f"{lost}/{n} seeds diverged"] if 0 < lost < n else []
    if row["mean"] is not None and row["high"] - row["low"] > edge:
        reasons.append(f"seeds span {row['high'] - row['low']:.2f} points")
    if row["drop"] is not None and row["drop"] > edge:
        reasons.append(f"ends {row['drop']:.2f} points below its best epoch")
    return reasons


def best_rates(runs: list[dict], metric: str = "final_val_acc") -> dict:
    """optimizer -> {seed: the rate with its best ``metric`` in that seed (diverged runs last)}."""
    best = defaultdict(dict)
    for run in runs:
        opt, seed = run.get("arm", run["optimizer"]), run["seed"]
        key = (not run["diverged"], run.get(metric) or 0.0)
        if seed not in best[opt] or key > best[opt][seed][0]:
            best[opt][seed] = (key, run["lr"])
    return {opt: {seed: lr for seed, (_, lr) in sorted(seeds.items())}
            for opt, seeds in sorted(best.items(), key=lambda kv: _place(kv[0]))}


def _points(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def spread_markdown(rows: list[dict], rates: dict, metric: str, edge: float) -> str:
    """The table of ``cell_spread`` and the best rate per seed of ``best_rates``, as Markdown."""
    name = metric.replace("_", " ")
    lines = [f"| optimizer | lr | seeds | {name} (%, mean ± std) | lowest – highest | best − final "
             f"| diverged | at the edge (> {edge:g} point) |", "|" + "---|" * 8]
    for r in rows:
        n = len(r["seeds"])
        verdict = ("diverged" if r["diverged"] == n else
                   "**edge**: " + "; ".join(r["reasons"]) if r["reasons"] else "no")
        spread = "" if r["std"] is None else f" ± {r['std']:.2f}"
        mean = "—" if r["mean"] is None else f"{r['mean']:.2f}{spread}"
        span = "—" if r["mean"] is None else f"{r['low']:.2f} – {r['high']:.2f}"
        lines.append(f"| {r['optimizer']} | {r['lr']:g} | {n} | {mean} | {span} | {_points(r['drop'])} | "
                     f"{r['diverged']}/{n} | {verdict} |")
    lines += ["", "Best rate of each optimizer, seed by seed:", ""]
    for opt, by_seed in rates.items():
        chosen = defaultdict(list)
        for seed, lr in by_seed.items():
            chosen[lr].append(str(seed))
        same = " (the same in every seed)" if len(chosen) == 1 else ""
        lines.append(f"- {opt}: " + ", ".join(f"{lr:g} (seed{'s' if len(s) > 1 else ''} {', '.join(s)})"
                                              for lr, s in chosen.items()) + same)
    return "\n".join(lines) + "\n"


def spread_section(runs: list[dict], metric: str = "final_val_acc", edge: float = EDGE_POINTS) -> dict:
    """For a sweep's report when it has several seeds: ``{'markdown': a comparison.md section with
    the spread table, 'line': one console line naming the cells at the edge ('' if none)}``."""
    rows = cell_spread(runs, metric, edge)
    table = spread_markdown(rows, best_rates(runs, metric), metric, edge)
    markdown = ("## Over seeds: how far the numbers carry\n\n" + table + "\nA cell marked edge will not "
                "repeat its number on another machine (docs/results.md).\n")
    edges = [f"{r['optimizer']} lr={r['lr']:g} ({'; '.join(r['reasons'])})" for r in rows if r["reasons"]]
    line = "at the edge of divergence (see comparison.md): " + ", ".join(edges) if edges else ""
    return {"markdown": markdown, "line": line}


def write_demo_sweep(root) -> Path:
    """A made-up three-seed sweep of two optimizers as a sweep leaves it (result.json per run), for
    ``--dry-run``: three healthy cells and one at the edge (one seed of three diverged, the other
    two far apart and below their best epoch)."""
    finals = {("sgd", 0.1): (0.9701, 0.9712, 0.9695), ("sgd", 0.01): (0.9620, 0.9633, 0.9611),
              ("rmsprop", 0.1): (0.8481, 0.9312, 0.1064), ("rmsprop", 0.001): (0.9828, 0.9819, 0.9831)}
    for (opt, lr), values in finals.items():
        for seed, final in enumerate(values):
            run = Path(root) / f"{opt}-lr{lr:g}-seed{seed}"
            run.mkdir(parents=True, exist_ok=True)
            swings = 0.04 if (opt, lr) == ("rmsprop", 0.1) else 0.0    # its best epoch was better
            result = {"run": run.name, "variant": opt, "optimizer": opt, "lr": lr, "seed": seed,
                      "diverged": final < 0.2, "best_val_acc": final + swings,
                      "final_val_acc": final, "test_acc": final, "test_loss": 1.0 - final,
                      "epochs_run": 5, "total_seconds": 60.0}
            (run / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return Path(root)


def main(argv=None) -> int:
    """``scripts/seed_spread.py``: print (and with --out write) the spread table of a sweep folder."""
    from course.cli import CommandLine, Launch

    cl = CommandLine(__doc__.split("\n\n")[0] + "\n\nWith --dry-run it reads a small made-up three-seed "
                     "sweep instead of a folder (docs/results.md says how to read the table).")
    group = cl.settings("what is read", Launch, "dry_run")
    group.add_argument("sweep", nargs="?",
                       help="a sweep's folder, e.g. runs/mnist-lenet (required unless --dry-run)")
    group.add_argument("--metric", default="final_val_acc", choices=METRICS,
                       help="the result compared across seeds")
    group.add_argument("--edge", type=float, default=EDGE_POINTS,
                       help="points of spread, or of fall from the best epoch, that mark a cell at the edge "
                            "of divergence")
    group.add_argument("--out", help="also write the table to this Markdown file")
    args = cl.parse(argv)
    if not args.edge > 0:
        raise ConfigError(f"--edge: must be > 0 points, got {args.edge:g}")
    with tempfile.TemporaryDirectory() as demo:
        root = write_demo_sweep(demo) if args.dry_run else Path(args.sweep or "")
        if not args.dry_run and (args.sweep is None or not root.is_dir()):
            raise ConfigError(f"sweep folder {args.sweep} not found" if args.sweep else "no sweep folder "
                              "given: name one, e.g. runs/mnist-lenet, or try --dry-run")
        runs = load_runs(root)
        if not runs:
            raise ConfigError(f"{root}: no finished run (no */result.json); give a sweep's folder")
        table = spread_markdown(cell_spread(runs, args.metric, args.edge), best_rates(runs, args.metric),
                                args.metric, args.edge)
    print(table, end="")
    if args.out:
        atomic_write_text(args.out, table)
    return 0
