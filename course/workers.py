"""Train a sweep's runs in N long-lived worker processes, one run at a time each.

A worker imports Paddle and loads the data once and then trains run after run: starting a
fresh Python process per run costs about 1.7 s of CPU (bench/bench_training.py measured it),
which on short runs ate a third of the gain of running two at a time. Each worker is
single-threaded (Paddle's CPU kernels for these small models barely use a second thread), and
gets SIGKILL if the sweep process dies, so kill -9 leaves no orphans training on.

Each run's output (one line per epoch, and any traceback) goes to its ``train.log``.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import traceback
from pathlib import Path

USER_ERROR, FAILED = "user error", "failed"


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: do nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(threads: int) -> None:
    _die_with_parent()
    import course  # noqa: F401  (quiets Paddle's import warning)
    import paddle

    paddle.base.core.set_num_threads(threads)
    # Paddle reports SIGTERM as a "FatalError" with a stack dump; a worker stopped because the
    # sweep was interrupted should just stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _train(cell: tuple[dict, str]) -> tuple[str, dict | None, str, str]:
    """Run one cell in this worker: (run_dir, result or None, status, message)."""
    from course.cli import USER_ERRORS
    from course.config import RunConfig
    from course.experiment import run_experiment
    from course.sweep import describe

    config_dict, run_dir = cell
    with open(Path(run_dir) / "train.log", "a", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            result = run_experiment(RunConfig.from_dict(config_dict), run_dir, progress=False)
            print(describe(result), flush=True)
            return run_dir, result, "", ""
        except USER_ERRORS as err:
            print(f"error: {err}", flush=True)
            return run_dir, None, USER_ERROR, str(err)
        except Exception as err:  # a bug in one run: keep its traceback, let the others go on
            traceback.print_exc()
            return run_dir, None, FAILED, f"{type(err).__name__}: {err}"


def train_in_workers(cells, jobs: int, threads: int):
    """Yield ``(run_dir, result, status, message)`` for each (config dict, run dir) as it ends."""
    # Threads for OpenMP/MKL must be set before a worker imports Paddle: through its environment.
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    try:
        pool = multiprocessing.get_context("spawn").Pool(jobs, _init_worker, (threads,))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield from pool.imap_unordered(_train, cells)
        pool.close()   # all done: let the workers exit by themselves
    except BaseException:  # Ctrl-C, or the sweep stopped early on a user error
        pool.terminate()
        raise
    finally:
        pool.join()
