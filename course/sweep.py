"""An optimizer x learning-rate x seed grid, one run directory per cell, N runs at a time.

Layout: ``<logdir>/<dataset>-<model>/<optimizer>-lr<lr>-seed<seed>/`` (see course.experiment for
what a run directory holds). A run whose ``result.json`` exists is done and skipped, so the same
command started again after Ctrl-C or kill -9 finishes the sweep without redoing anything.

With ``jobs > 1`` runs train in that many single-threaded worker processes (course.workers):
Paddle's CPU kernels for these small models barely use a second thread, so two processes on two
cores train about twice as many images per second as one process does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from course.config import RunConfig
from course.errors import ConfigError, SweepError
from course.experiment import CHECKPOINT, check_config, run_experiment
from course.files import atomic_write_json, read_json
from course.optimizers import canonical_optimizer, check_learning_rate
from course.progress import hms, progress_bar

@dataclass
class Sweep:
    """The grid: every arm x every learning rate x every seed.

    An arm is an optimizer name, or a dict of RunConfig overrides with an ``optimizer`` and a
    ``label`` when one optimizer appears with different controls (the gym-equipment article's
    "Adam + ReduceLROnPlateau" beside plain AdaGrad, RMSProp, ...):
    ``{"optimizer": "adam", "label": "plateau", "reduce_lr": "monitor=val_loss,factor=0.2"}``.
    An arm with its own ``lr`` runs at that rate only (the articles give each optimizer its own:
    Adam 1e-3 beside SGD 1e-2); when every arm has one, ``lrs`` becomes the list of those rates.
    """
    base: RunConfig                                   # settings shared by every run
    optimizers: list = field(default_factory=lambda: ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
    lrs: list = field(default_factory=lambda: [0.1, 0.01, 0.001])
    seeds: list = field(default_factory=lambda: [0])
    logdir: str = "runs"                              # root of all sweeps

    def __post_init__(self):
        self.arms = [_arm(a) for a in self.optimizers]
        own = [arm["lr"] for arm in self.arms if "lr" in arm]
        if own and len(own) == len(self.arms):
            self.lrs = sorted(set(own), reverse=True)
        self.lrs = [check_learning_rate(lr) for lr in self.lrs]
        if not (self.arms and self.lrs and self.seeds):
            raise ConfigError("a sweep needs at least one optimizer, one learning rate and one seed")
        names = [self.base.replace(**arm).arm() for arm in self.arms]
        if len(set(names)) < len(names):
            raise ConfigError(f"optimizers repeat in the sweep ({', '.join(names)}); give variants a label")
        self.optimizers = names                       # the report's order and names

    @property
    def root(self) -> Path:
        return Path(self.logdir).expanduser() / self.base.group_name()

    def runs(self) -> list[tuple[RunConfig, Path]]:
        """Every (config, run directory) of the grid, in a stable order."""
        cells = []
        for arm in self.arms:
            for lr in [arm["lr"]] if "lr" in arm else self.lrs:
                for seed in self.seeds:
                    config = self.base.replace(**{**arm, "lr": lr, "seed": int(seed)})
                    cells.append((config, self.root / config.run_name()))
        return cells


def _arm(spec) -> dict:
    arm = {"optimizer": spec} if isinstance(spec, str) else dict(spec)
    if "optimizer" not in arm:
        raise ConfigError(f"sweep arm {spec!r} names no optimizer")
    arm["optimizer"] = canonical_optimizer(arm["optimizer"])
    if "lr" in arm:
        arm["lr"] = check_learning_rate(arm["lr"])
    return arm


def threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))


def run_sweep(sweep: Sweep, jobs: int = 1, progress: bool = True, resume: bool = True) -> list[dict]:
    """Run every unfinished cell of ``sweep``; return the results of all cells, in grid order.

    An unfinished run continues from its last completed epoch, or with ``resume=False`` starts
    over (its checkpoint and metrics are deleted first). Finished runs are never trained again.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    cells = sweep.runs()
    for config, _ in cells:   # a user error is the same in every worker: report it once, first
        check_config(config)
    sweep.root.mkdir(parents=True, exist_ok=True)
    for stale in sweep.root.glob(".*.tmp"):   # left by a sweep killed while writing its summary
        stale.unlink(missing_ok=True)
    atomic_write_json(sweep.root / "sweep.json", {
        "arms": sweep.arms, "lrs": sweep.lrs, "seeds": sweep.seeds,
        "base": sweep.base.to_dict()})
    todo = [(c, d) for c, d in cells if not (d / "result.json").exists()]
    if not resume:
        for _, run_dir in todo:
            for name in (CHECKPOINT, "metrics.json", "metrics.csv"):
                (run_dir / name).unlink(missing_ok=True)
    if len(todo) < len(cells):
        print(f"{len(cells) - len(todo)} of {len(cells)} runs already done in {sweep.root}; "
              f"running the other {len(todo)}")
    bar = progress_bar(total=len(todo), desc="sweep", unit="run", enabled=progress)
    if jobs == 1 or len(todo) <= 1:
        for config, run_dir in todo:
            print(f"[{config.run_name()}] training", flush=True)
            result = run_experiment(config, run_dir, progress=progress)
            print(f"[{config.run_name()}] {describe(result)}", flush=True)
            bar.update(1)
    else:
        _run_in_processes(todo, jobs, bar)
    bar.close()
    return [read_json(d / "result.json") for _, d in cells]


def describe(result: dict) -> str:
    if result["diverged"]:
        return f"diverged: {result['diverged_reason']}"
    test = "" if result["test_acc"] is None else f", test acc {result['test_acc']:.4f}"
    return (f"best val acc {result['best_val_acc']:.4f}{test}, "
            f"{result['epochs_run']} epochs, {hms(result['total_seconds'])}")


def _run_in_processes(todo, jobs: int, bar) -> None:
    from course.workers import FAILED, USER_ERROR, train_in_workers

    cells = []
    for config, run_dir in todo:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", config.to_dict())
        cells.append((config.to_dict(), str(run_dir)))
        print(f"[{config.run_name()}] queued (log: {run_dir / 'train.log'})", flush=True)
    failures = []
    for run_dir, result, status, message in train_in_workers(cells, jobs, threads_per_job(jobs)):
        name = Path(run_dir).name
        if status == USER_ERROR:   # a user error is the same for every run: stop the sweep
            raise ConfigError(message)
        if status == FAILED:
            failures.append(f"{name}: {message} (see {Path(run_dir) / 'train.log'})")
            print(f"[{name}] FAILED: {message}", flush=True)
            continue
        print(f"[{name}] {describe(result)}", flush=True)
        bar.update(1)
    if failures:
        raise SweepError(f"{len(failures)} run(s) failed; run the same command again to retry them:\n"
                         + "\n".join(failures))
