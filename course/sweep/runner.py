"""Run a sweep's unfinished runs, one at a time or N at a time in worker processes.

A run whose ``result.json`` exists is done and skipped, so the same command started again after
Ctrl-C or kill -9 finishes the sweep without redoing anything; an unfinished run continues from
its last completed epoch.

With ``jobs > 1`` runs train in that many worker processes (course.sweep.workers), the cores
shared out between them (one thread each with --jobs 2 on 2 cores): two 1-thread processes on two
cores train about twice as many images per second as one process does, more than one process on
two threads. The runs left over at the end (the grid is not a multiple of --jobs) train after the
others with the cores shared among fewer, so the tail leaves no core idle; --jobs 1 and a lone
run use every core. ``threads_per_job`` decides each run's count from the grid alone.

Either way each run writes its details to its ``train.log``, and the console shows what
``SweepConsole`` makes of the runs' events: a short line per epoch of every run as it ends, the
early stops and divergences, and how far the sweep is with the time it has left.
"""
from __future__ import annotations

import os
import shutil
import sys
import time

from course.engine.checkpoint import RESUME_FILE
from course.engine.data import load_dataset
from course.engine.device import WorkerPlan, cpu_threads_during, plan_workers, resolve_device
from course.engine.errors import ConfigError
from course.engine.files import atomic_write_json, check_writable, read_json, remove_stale
from course.engine.precision import check_amp
from course.engine.preflight import check_before_start, check_cores, has_trained
from course.engine.progress import StatusBar, SweepProgress, on_terminal
from course.engine.results import estimate_line, event_line, status_line
from course.engine.validate import parse_jobs
from course.sweep.grid import Sweep
from course.sweep.outcomes import Outcomes, write_configs
from course.sweep.workers import train_in_workers, train_logged

STATUS_EVERY = 60.0   # seconds: without a bar, a status line at least this often (and after each run)


def threads_per_job(jobs: int, runs: int, cores: int | None = None) -> list[int]:
    """The CPU threads each of a sweep's ``runs`` runs (in grid order) trains with.

    Up to ``jobs`` runs train at once and share the cores; the runs left over when the grid is
    not a multiple of ``jobs`` (the tail) train after the others, sharing all the cores among
    fewer: 15 runs with --jobs 2 on 2 cores are 14 runs on one thread each, two at a time, then
    the last on two threads. A lone run, or --jobs 1, gets every core.

    From the grid and --jobs only, never from timing: a run's numbers depend on its thread count
    within float32 rounding (``course.engine.device.set_cpu_threads``), so the same command
    gives the same numbers however the runs happen to finish, and a sweep started again gives
    each run the count it had (a run already started keeps its own: ``run_experiment``).
    """
    cores = cores or os.cpu_count() or 1
    jobs = max(1, min(jobs, runs))
    tail = runs % jobs
    return [max(1, cores // jobs)] * (runs - tail) + [max(1, cores // max(tail, 1))] * tail


def run_sweep(sweep: Sweep, jobs: int | str = 1, progress: bool = True, resume: bool = True,
              overwrite: bool = False, what: str = "", quiet: bool = False,
              cluster=None) -> list[dict]:
    """Run every unfinished run of ``sweep``; return the results of all runs, in grid order.

    Everything a user can get wrong is checked before anything is written: the settings (when the
    Sweep was built), the data (loaded here once, as every run will load it), the device, and the
    runs already in the sweep's folder (``check_existing``). Then a line says what will run
    (``what`` adds the chapter's own details). An unfinished run continues from its last completed
    epoch, or with ``resume=False`` starts over. Finished runs are never trained again.
    ``jobs`` is a number or 'auto' (``course.engine.device.plan_workers``: one run per GPU, or
    per core on a CPU); on GPUs each worker process is pinned to its card.
    ``quiet`` prints nothing (and shows no bar) unless something goes wrong. ``cluster`` (a
    ``course.sweep.ray_cluster.RayCluster``) trains the runs as Ray tasks instead of here.
    """
    plan = plan_workers(parse_jobs(jobs), sweep.base.device)
    jobs = plan.jobs
    if cluster is None:
        check_cores("--jobs", jobs, "runs at once")
    progress = progress and not quiet
    grid_runs = sweep.runs()
    data = load_dataset(grid_runs[0][0], progress=progress)   # a data error is the same for every run
    check_amp(sweep.base.amp, resolve_device(sweep.base.device))
    check_writable(sweep.root, "--logdir")
    for config, run_dir in grid_runs:   # (the model's checks are cached: one build for the grid)
        check_before_start(config, run_dir, identity=False)
    check_existing(grid_runs, overwrite)
    todo = [(c, d) for c, d in grid_runs if not (d / "result.json").exists()]
    if cluster is not None and todo:
        jobs = cluster.connect()   # a wrong --address stops here, before anything is written
    grid = f"{', '.join(sweep.optimizers)} x {len(sweep.lrs)} rate(s) x {len(sweep.seeds)} seed(s)"
    console = SweepConsole(todo, jobs, progress, quiet, several_seeds=len(sweep.seeds) > 1)
    console.say(f"{len(grid_runs)} runs ({grid}) of {sweep.base.model} on {sweep.base.dataset}: "
                f"{data.describe()}, {'up to ' if sweep.base.early_stop else ''}{sweep.base.epochs} "
                f"epoch{'s' if sweep.base.epochs > 1 else ''}"
                f"{', ' + what if what else ''}, "
                f"{plan.describe(len(todo))} -> {sweep.root} (each run's details: "
                "<run>/train.log)")
    del data   # the runs load their own copy
    _open_sweep_folder(sweep, todo, resume)
    if len(todo) < len(grid_runs):
        console.say(f"{len(grid_runs) - len(todo)} of {len(grid_runs)} runs already done in {sweep.root}; "
                    f"running the other {len(todo)}")
    try:
        if cluster is not None and todo:   # each Ray run has its --cpus-per-run threads
            cluster.train(todo, console)
        elif jobs == 1 or len(todo) <= 1:
            _run_here(todo, _threads(grid_runs, jobs), progress, console)
        else:
            _run_in_processes(todo, plan, _threads(grid_runs, jobs), console)
        console.finish()
    finally:
        console.close()
        if cluster is not None:
            cluster.disconnect()
    return [read_json(d / "result.json") for _, d in grid_runs]


def _open_sweep_folder(sweep: Sweep, todo, resume: bool) -> None:
    """Make the sweep's folder and write sweep.json; ``resume=False`` clears what the unfinished
    runs in ``todo`` saved, so they start over."""
    sweep.root.mkdir(parents=True, exist_ok=True)
    remove_stale(sweep.root)   # left by a sweep killed while writing its summary
    atomic_write_json(sweep.root / "sweep.json", {
        "arms": sweep.arms, "lrs": sweep.lrs, "seeds": sweep.seeds, "base": sweep.base.to_dict()})
    if not resume:
        for _, run_dir in todo:
            for name in (RESUME_FILE, "metrics.json", "metrics.csv"):
                (run_dir / name).unlink(missing_ok=True)


def _run_here(todo, threads: dict, progress: bool, console) -> None:
    """Train the runs in ``todo`` one after the other in this process (bars, on stderr, stay on
    the terminal), each with its thread count on a CPU."""
    for config, run_dir in todo:
        on_cpu = resolve_device(config.device) == "cpu"
        with cpu_threads_during(threads[run_dir] if on_cpu else None):
            train_logged(config, run_dir, progress, report=console.report, stderr=False)


class SweepConsole:
    """What a sweep shows while it runs: a line per event of every run, and where the sweep is.

    Every run's events (``run_experiment``'s ``report``) come to ``report``, from this process
    (--jobs 1) or forwarded by the worker processes (--jobs N; a future backend would forward
    them the same way), and are printed as they arrive, each as ``event_line`` words it. On a
    terminal a bar below those lines shows the epochs done and the time left; elsewhere (a
    notebook, a pipe, a CI log) a plain status line does, after the sweep's first epoch, after
    each finished run and at least every ``STATUS_EVERY`` seconds, with no carriage return or
    control character. Once the first epoch is timed, one line says how long the whole sweep
    will take (so no document has to promise a time for a machine it has not seen). ``quiet``
    shows nothing.

    Args:
        todo: the (config, run directory) pairs the sweep trains.
        jobs: how many train at once (for the estimate of the time left).
        progress: draw the bar when stdout and stderr are a terminal.
        quiet: print nothing.
        several_seeds: name runs with their seed ('adam lr=0.01 seed=1').
        clock: seconds from any fixed point (``time.monotonic``); tests give their own.
    """

    def __init__(self, todo, jobs: int = 1, progress: bool = True, quiet: bool = False,
                 several_seeds: bool = False, clock=time.monotonic):
        self.out, self.quiet = sys.stdout, quiet   # before a run's stdout goes to its train.log
        self.labels = {c.run_name(): c.display_name() + (f" seed={c.seed}" if several_seeds else "")
                       for c, _ in todo}
        self.clock = clock
        self.tally = SweepProgress({c.run_name(): c.epochs for c, _ in todo}, jobs, clock)
        show_bar = progress and not quiet and todo and on_terminal(sys.stdout, sys.stderr)
        status = self.tally.status()
        self.bar = StatusBar(status["epochs"], status_line(status)) if show_bar else None
        self.last_status = None   # when the last status line was printed
        self.estimated = False    # whether the line with the whole sweep's time was printed

    def say(self, line: str) -> None:
        """Print ``line`` (above the bar, if there is one), unless quiet."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, self.out)
        else:
            print(line, file=self.out, flush=True)

    def report(self, event: dict) -> None:
        """Count and show one event of a run."""
        self.tally.update(event)
        self.say(event_line(event, self.labels.get(event["run"], event["run"])))
        status = self.tally.status()
        if not self.estimated and status["eta"] is not None and status["runs_done"] < status["runs"]:
            self.estimated = True
            self.say(estimate_line(status))
        if self.bar is not None:
            self.bar.show(status["epochs_done"], status["epochs"], status_line(status))
        elif status["runs_done"] < status["runs"] and self._status_due(event["event"]):
            self.last_status = self.clock()
            self.say(status_line(status))

    def _status_due(self, kind: str) -> bool:
        return kind in ("done", "failed") or kind == "epoch" and (
            self.last_status is None or self.clock() - self.last_status >= STATUS_EVERY)

    def finish(self) -> None:
        """The sweep's last line: its runs and epochs, and how long they took."""
        self.close()
        if self.tally.planned:
            self.say(status_line(self.tally.status()))

    def close(self) -> None:
        """Take the bar away (after an error or Ctrl-C too)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def check_existing(grid_runs, overwrite: bool = False) -> None:
    """Refuse to reuse a run directory trained with other settings, unless ``overwrite``.

    A run is identified by every setting that can change what it learns (``RunConfig.changes_from``),
    as Ray Tune and W&B key a trial by its whole config: a sweep started again with other settings
    (say ``--epochs 10``) must not report the old runs as if they were the new ones. It stops with
    the differences and the two ways out, or with ``overwrite`` deletes those runs to train them anew.
    """
    stale = []
    for config, run_dir in grid_runs:
        if not has_trained(run_dir):   # a start that failed: no run, its folder is reused
            continue
        saved = read_json(run_dir / "config.json")
        if not isinstance(saved, dict):
            stale.append((run_dir, ["config.json missing" if saved is None else "config.json damaged"]))
        elif changes := config.changes_from(saved):
            stale.append((run_dir, changes))
    if stale and not overwrite:
        differences = ", ".join(dict.fromkeys(c for _, changes in stale for c in changes))
        raise ConfigError(f"{stale[0][0].parent} holds {len(stale)} run(s) trained with other settings "
                          f"({differences}); use another --logdir to keep them, or --overwrite to "
                          "replace them")
    for run_dir, _ in stale:
        shutil.rmtree(run_dir)


def _threads(grid_runs, jobs: int) -> dict:
    """Each run directory's thread count, from its place in the whole grid (threads_per_job)."""
    return dict(zip((d for _, d in grid_runs), threads_per_job(jobs, len(grid_runs))))


def _run_in_processes(todo, plan: WorkerPlan, threads: dict, console: SweepConsole) -> None:
    """Train ``todo`` in worker processes: the runs of each thread count (threads_per_job) as
    one pool of as many workers as the cores (and ``jobs``) allow, one pool after the other."""
    write_configs(todo)
    phases = {}
    for config, run_dir in todo:
        phases.setdefault(threads[run_dir], []).append((config.to_dict(), str(run_dir)))
    outcomes = Outcomes(console.report)
    for count, grid_runs in phases.items():
        # (threads_per_job gives a phase of n runs at most cores // n threads each, so plan.jobs
        # workers, of which train_in_workers starts no more than the runs, fit the cores.)
        # A run's own events (its epochs, its result) reach the console through console.report.
        for run_dir, _, status, message in train_in_workers(grid_runs, plan.jobs, count, console.report,
                                                            cards=plan.cards):
            outcomes.add(run_dir, status, message)
    outcomes.raise_if_any_failed()
