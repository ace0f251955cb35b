"""Run a sweep's unfinished cells, one at a time or N at a time in worker processes.

A run whose ``result.json`` exists is done and skipped, so the same command started again after
Ctrl-C or kill -9 finishes the sweep without redoing anything; an unfinished run continues from
its last completed epoch.

With ``jobs > 1`` runs train in that many single-threaded worker processes (course.sweep.workers):
Paddle's CPU kernels for these small models barely use a second thread, so two processes on two
cores train about twice as many images per second as one process does.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from course.engine.checkpoint import RESUME_FILE
from course.engine.data import load_dataset
from course.engine.device import resolve_device
from course.engine.errors import ConfigError, SweepError
from course.engine.experiment import run_experiment
from course.engine.files import atomic_write_json, check_writable, read_json
from course.engine.progress import progress_bar
from course.engine.results import result_line
from course.sweep.grid import Sweep


def threads_per_job(jobs: int) -> int:
    """CPU threads each of ``jobs`` parallel runs gets: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))


def run_sweep(sweep: Sweep, jobs: int = 1, progress: bool = True, resume: bool = True,
              overwrite: bool = False, what: str = "") -> list[dict]:
    """Run every unfinished cell of ``sweep``; return the results of all cells, in grid order.

    Everything a user can get wrong is checked before anything is written: the settings (when the
    Sweep was built), the data (loaded here once, as every run will load it), the device, and the
    runs already in the sweep's folder (``check_existing``). Then a line says what will run
    (``what`` adds the chapter's own details). An unfinished run continues from its last completed
    epoch, or with ``resume=False`` starts over. Finished runs are never trained again.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs: must be >= 1, got {jobs}")
    cells = sweep.runs()
    data = load_dataset(cells[0][0], progress=progress)   # a data error is the same for every run
    resolve_device(sweep.base.device)
    check_writable(sweep.root, "--logdir")
    check_existing(cells, overwrite)
    todo = [(c, d) for c, d in cells if not (d / "result.json").exists()]
    grid = f"{', '.join(sweep.optimizers)} x {len(sweep.lrs)} rate(s) x {len(sweep.seeds)} seed(s)"
    print(f"{len(cells)} runs ({grid}) of {sweep.base.model} on {sweep.base.dataset}: "
          f"{data.describe()}, {'up to ' if sweep.base.early_stop else ''}{sweep.base.epochs} "
          f"epoch{'s' if sweep.base.epochs > 1 else ''}"
          f"{', ' + what if what else ''}, "
          f"{min(jobs, max(len(todo), 1))} at a time -> {sweep.root}", flush=True)
    del data   # the runs load their own copy
    sweep.root.mkdir(parents=True, exist_ok=True)
    for stale in sweep.root.glob(".*.tmp"):   # left by a sweep killed while writing its summary
        stale.unlink(missing_ok=True)
    atomic_write_json(sweep.root / "sweep.json", {
        "arms": sweep.arms, "lrs": sweep.lrs, "seeds": sweep.seeds, "base": sweep.base.to_dict()})
    if not resume:
        for _, run_dir in todo:
            for name in (RESUME_FILE, "metrics.json", "metrics.csv"):
                (run_dir / name).unlink(missing_ok=True)
    if len(todo) < len(cells):
        print(f"{len(cells) - len(todo)} of {len(cells)} runs already done in {sweep.root}; "
              f"running the other {len(todo)}")
    bar = progress_bar(total=len(todo), desc="sweep", unit="run", enabled=progress)
    if jobs == 1 or len(todo) <= 1:
        for config, run_dir in todo:
            print(f"[{config.run_name()}] training", flush=True)
            result = run_experiment(config, run_dir, progress=progress)
            print(f"[{config.run_name()}] {result_line(result)}", flush=True)
            bar.update(1)
    else:
        _run_in_processes(todo, jobs, bar)
    bar.close()
    return [read_json(d / "result.json") for _, d in cells]


def check_existing(cells, overwrite: bool = False) -> None:
    """Refuse to reuse a run directory trained with other settings, unless ``overwrite``.

    A run is identified by every setting that can change what it learns (``RunConfig.changes_from``),
    as Ray Tune and W&B key a trial by its whole config: a sweep started again with other settings
    (say ``--epochs 10``) must not report the old runs as if they were the new ones. It stops with
    the differences and the two ways out, or with ``overwrite`` deletes those runs to train them anew.
    """
    stale = []
    for config, run_dir in cells:
        saved = read_json(run_dir / "config.json")
        if saved is not None and (changes := config.changes_from(saved)):
            stale.append((run_dir, changes))
    if stale and not overwrite:
        differences = ", ".join(dict.fromkeys(c for _, changes in stale for c in changes))
        raise ConfigError(f"{stale[0][0].parent} holds {len(stale)} run(s) trained with other settings "
                          f"({differences}); use another --logdir to keep them, or --overwrite to "
                          "replace them")
    for run_dir, _ in stale:
        shutil.rmtree(run_dir)


def _run_in_processes(todo, jobs: int, bar) -> None:
    from course.sweep.workers import FAILED, USER_ERROR, train_in_workers

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
        print(f"[{name}] {result_line(result)}", flush=True)
        bar.update(1)
    if failures:
        raise SweepError(f"{len(failures)} run(s) failed; run the same command again to retry them:\n"
                         + "\n".join(failures))
