"""Is the winner really better, or did its seed get lucky? DeepOBS's confirmation protocol.

A grid with one seed per cell ranks optimizers by a single draw each: two optimizers 0.3 points
apart may swap places with another seed. DeepOBS (Schneider et al., ICLR 2019) therefore tunes
on one seed and then re-runs each optimizer's best setting with more seeds, reporting the mean
± std. ``confirm_best`` does that after the grid (``--confirm-best K``): each optimizer at its
best rate trains K more seeds (numbered after the grid's largest, so never a grid run again) in
the sweep's folder, through the same ``run_sweep``, so the table shows those cells with 1 + K
seeds. Then the best two optimizers' per-seed best validation accuracies go through Welch's
t-test, and the report says in one sentence whether the winner's lead exceeds the seed noise.

Why Welch's t-test: it weighs the gap between the means against the spread of each optimizer's
seeds *and* how many there are, without assuming equal spreads (an adaptive method and SGD
rarely have them); "do the mean ± std intervals overlap" ignores the number of seeds, so it says
nothing definite either way. scipy computes it (``scipy.stats.ttest_ind``).
"""
from __future__ import annotations

import dataclasses
import math
import statistics

from scipy import stats

from course.engine.files import atomic_write_json, read_json
from course.sweep.grid import Sweep
from course.sweep.plots import best_lr_per_optimizer
from course.sweep.report import load_runs, summarize_groups
from course.sweep.runner import check_existing, run_sweep

ALPHA = 0.05             # a lead with p below this is called more than the seed noise
METRIC = "best_val_acc"  # what is compared: each seed's best validation accuracy


def extra_seeds(seeds: list[int], k: int) -> list[int]:
    """``k`` seeds that no grid run uses: the ones after the grid's largest."""
    start = max(seeds) + 1
    return list(range(start, start + k))


def confirmation_sweep(sweep: Sweep, rows: list[dict]) -> tuple[Sweep | None, list[str]]:
    """The Sweep of each optimizer's best rate (from the grid's ``rows``) with
    ``sweep.confirm_best`` new seeds, and the optimizers left out because every seed of their
    best rate diverged (no rate worth confirming). None when nothing is left."""
    best = best_lr_per_optimizer(rows)
    all_diverged = {r["optimizer"] for r in rows if best.get(r["optimizer"]) == r["lr"] and r["diverged"] == r["seeds"]}
    # sweep.optimizers are the arms' report names, in the arms' order (Sweep.__post_init__).
    arms = [{**arm, "lr": best[name]} for arm, name in zip(sweep.arms, sweep.optimizers)
            if name in best and name not in all_diverged]
    if not arms:
        return None, sorted(all_diverged)
    # replace: every other setting of the grid (its folder, ...) holds for the confirmation too.
    return dataclasses.replace(sweep, optimizers=arms, seeds=extra_seeds(sweep.seeds, sweep.confirm_best),
                               confirm_best=0), sorted(all_diverged)


def confirm_best(sweep: Sweep, train: bool = True, **run_options) -> dict:
    """After ``sweep``'s grid: train ``sweep.confirm_best`` more seeds of each optimizer's best
    rate (``train=False``: only report those already trained), then compare the optimizers.

    ``run_options`` go to ``run_sweep`` (jobs, progress, resume, overwrite). Returns the new runs'
    ``names`` (for the report), per optimizer its ``arms`` entry (lr, per-seed values, mean, std),
    the ``test`` of the best two (``welch_t_test``'s answer, or None), and the ``markdown``
    section for comparison.md.
    """
    grid_names = [config.run_name() for config, _ in sweep.runs()]
    rows = summarize_groups(load_runs(sweep.root, grid_names), sweep.optimizers)
    extra, all_diverged = confirmation_sweep(sweep, rows)
    if extra is None:
        return {"names": [], "arms": [], "test": None,
                "markdown": "## Confirmation\n\nNothing to confirm: no optimizer has a finished, "
                            "non-diverged best rate.\n"}
    saved = read_json(sweep.root / "sweep.json")
    if train:
        run_sweep(extra, what=f"confirming each optimizer's best rate with {len(extra.seeds)} more "
                              f"seed(s)", **run_options)
        if saved is not None:   # run_sweep wrote the confirmation's own; keep the grid's beside it
            atomic_write_json(sweep.root / "sweep.json",
                              {**saved, "confirmation": {"arms": extra.arms, "seeds": extra.seeds}})
    else:
        check_existing(extra.runs())
    arms = []
    for config, _ in extra.runs()[::len(extra.seeds)]:   # one per arm
        cell = (config.optimizer_variant(), config.lr)
        names = [c.run_name() for c, _ in sweep.runs() + extra.runs() if (c.optimizer_variant(), c.lr) == cell]
        values = [run[METRIC] for run in load_runs(sweep.root, names) if run[METRIC] is not None]
        arms.append({"optimizer": cell[0], "lr": cell[1], "values": values,
                     "mean": statistics.fmean(values) if values else None,
                     "std": statistics.stdev(values) if len(values) > 1 else None})
    arms.sort(key=lambda a: -1 if a["mean"] is None else a["mean"], reverse=True)
    test = None
    if len(arms) > 1 and len(arms[0]["values"]) > 1 and len(arms[1]["values"]) > 1:
        test = welch_t_test(arms[0]["values"], arms[1]["values"])
    return {"names": [config.run_name() for config, _ in extra.runs()], "arms": arms, "test": test,
            "markdown": confirmation_markdown(arms, test, len(sweep.seeds), len(extra.seeds), all_diverged)}


def welch_t_test(a: list[float], b: list[float]) -> dict:
    """Welch's two-sided t-test of mean(a) = mean(b), unequal variances: ``{"t", "df", "p"}``
    (``scipy.stats.ttest_ind(equal_var=False)``).

    Each sample needs two values or more. When both have no spread at all (seeds that agree to
    the last digit), scipy answers NaN; here the means either agree (t=0, p=1) or differ with
    certainty (t=±inf, p=0).
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's t-test needs at least 2 values per sample, got {len(a)} and {len(b)}")
    if statistics.variance(a) + statistics.variance(b) == 0:
        ma, mb = statistics.fmean(a), statistics.fmean(b)
        same = math.isclose(ma, mb)
        return {"t": 0.0 if same else math.copysign(math.inf, ma - mb), "df": len(a) + len(b) - 2,
                "p": 1.0 if same else 0.0}
    answer = stats.ttest_ind(a, b, equal_var=False)
    return {"t": float(answer.statistic), "df": float(answer.df), "p": float(answer.pvalue)}


def verdict(first: dict, second: dict, test: dict) -> str:
    """The sentence: 'adam beats rmsprop by 0.31 points, more than the seed noise (t=4.2, p=0.01)'."""
    gap = 100 * (first["mean"] - second["mean"])
    numbers = f"Welch's t={test['t']:.2f}, df={test['df']:.1f}, p={test['p']:.3g}"
    if test["p"] < ALPHA:
        return (f"**{first['optimizer']} beats {second['optimizer']} by {gap:.2f} points, more than the "
                f"seed noise** ({numbers} < {ALPHA:g}).")
    return (f"**{first['optimizer']} leads {second['optimizer']} by {gap:.2f} points, within the seed "
            f"noise** ({numbers} ≥ {ALPHA:g}): these seeds cannot tell the two apart.")


def confirmation_markdown(arms: list[dict], test: dict | None, grid_seeds: int, extra: int,
                          all_diverged: list[str] = ()) -> str:
    """comparison.md's confirmation section: each optimizer's best rate over all its seeds, and
    the verdict on the best two."""
    lines = [f"## Confirmation: each optimizer's best rate with {extra} more seed(s)", "",
             f"Each optimizer's best rate in the grid ({grid_seeds} seed(s)) trained {extra} more seed(s); "
             f"{METRIC.replace('_', ' ')} over all seeds of that cell, best first.", "",
             "| optimizer | lr | seeds | best val acc (mean ± std) | per seed |", "|---|---|---|---|---|"]
    for a in arms:
        mean = "—" if a["mean"] is None else f"{100 * a['mean']:.2f}%"
        spread = "" if a["std"] is None else f" ± {100 * a['std']:.2f}"
        lines.append(f"| {a['optimizer']} | {a['lr']:g} | {len(a['values'])} | {mean}{spread} | "
                     + ", ".join(f"{100 * v:.2f}" for v in a["values"]) + " |")
    lines.append("")
    if test is not None:
        lines.append(verdict(arms[0], arms[1], test) + " The test compares the two optimizers' "
                     "per-seed best validation accuracies, the grid's seed(s) included.")
    elif len(arms) < 2:
        lines.append("Only one optimizer was confirmed: nothing to compare.")
    else:
        lines.append("Fewer than 2 finished seeds on one side: no test (run the same command again "
                     "to finish the confirmation runs).")
    if all_diverged:
        lines.append(f"Not confirmed (every seed of the best rate diverged): {', '.join(all_diverged)}.")
    return "\n".join(lines) + "\n"
