"""Train a sweep's runs in N long-lived worker processes, one run at a time each.

A worker imports Paddle and loads the data once and then trains run after run: starting a
fresh Python process per run costs seconds of CPU (bench/bench_training.py measures it), which
on short runs eats much of the gain of running several at a time. Each worker trains with
the thread count the sweep gives it (``runner.threads_per_job``), and gets SIGKILL if the sweep
process dies, so kill -9 leaves no orphans training on.

The pool is a few lines over ``multiprocessing.Process`` and pipes rather than
``multiprocessing.Pool``, because Pool hides the two things a sweep must see:
- a worker that dies in the middle of a run (the OOM killer, a kill -9) leaves Pool waiting
  forever for its result; here that run is reported failed, a new worker takes the next run,
  and the sweep goes on;
- a worker that cannot start (typically a user's script that calls ``run_sweep(jobs=2)``
  without an ``if __name__ == "__main__":`` guard: each worker re-runs the script) makes Pool
  start new workers forever; here it is one clear error.
Workers are not daemonic, so a run may use ``paddle.io.DataLoader`` worker processes.

Each run's output (one line per epoch, and any traceback) goes to its ``train.log``; what the
sweep's console shows (``run_experiment``'s events: a run started, finished an epoch, stopped
early, diverged, finished) is sent over the worker's pipe as it happens, as plain dicts, between
the ready message and the run's final ``(run_dir, result, status, message)``.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import threading
import traceback
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from course.engine.errors import SweepError
from course.sweep.outcomes import FAILED, USER_ERROR

_READY = "ready"


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: do nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(conn, threads: int) -> None:
    """A worker's life: set up once, then train each task it is sent until it is sent None."""
    _die_with_parent()
    import course  # noqa: F401  (quiets Paddle's import warning)

    from course.engine.device import set_cpu_threads

    set_cpu_threads(threads)
    # Paddle reports SIGTERM as a "FatalError" with a stack dump; a worker stopped because the
    # sweep was interrupted should just stop. Ctrl-C reaches the whole process group: the
    # sweep process handles it and stops the workers.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # (ignored since it started: _Worker.start)
    try:
        conn.send(_READY)
        while (task := conn.recv()) is not None:
            conn.send(_train(task, conn.send))
    except (EOFError, BrokenPipeError):   # the sweep process is gone or stopped us: just stop
        return


def train_logged(config, run_dir, progress: bool = False, report=None, stderr: bool = True) -> dict:
    """``run_experiment`` with the run's details (and with ``stderr`` its errors) appended to
    ``run_dir/train.log``, ending with the result's line; ``report`` gets its events."""
    from course.engine.errors import USER_ERRORS
    from course.engine.experiment import run_experiment
    from course.engine.results import RUN_LOG, result_line

    new = not Path(run_dir).exists()
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(run_dir) / RUN_LOG, "a", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log), \
            (contextlib.redirect_stderr(log) if stderr else contextlib.nullcontext()):
        try:
            result = run_experiment(config, run_dir, progress=progress, report=report)
        except USER_ERRORS as err:
            print(f"error: {err}", flush=True)
            if new and not (Path(run_dir) / "config.json").exists():   # stopped before it began:
                shutil.rmtree(run_dir, ignore_errors=True)   # no folder to trip the next command
            raise
        except Exception:   # a bug: its traceback goes where the run's story is, and on up
            traceback.print_exc(file=log)
            raise
        print(result_line(result), flush=True)
    return result


def _train(task: tuple[dict, str], report) -> tuple[str, dict | None, str, str]:
    """Run one task in this worker: (run_dir, result or None, status, message)."""
    from course.engine.config import RunConfig
    from course.engine.errors import USER_ERRORS

    config_dict, run_dir = task
    try:
        return run_dir, train_logged(RunConfig.from_dict(config_dict), run_dir, report=report), "", ""
    except USER_ERRORS as err:
        return run_dir, None, USER_ERROR, str(err)
    except Exception as err:  # a bug in one run: its traceback is in its log; the others go on
        return run_dir, None, FAILED, f"{type(err).__name__}: {err}"


class _Worker:
    def __init__(self, context, threads: int, number: int, card: str | None = None):
        self.conn, self._child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(self._child_end, threads),
                                       name=f"sweep-worker-{number}", daemon=False)
        self.ready, self.task, self.card = False, None, card

    def start(self) -> None:
        # Ctrl-C reaches the whole process group, and a worker still importing Paddle would die
        # of it with a traceback. SIGINT ignored is kept across the exec that starts a worker (a
        # blocked signal mask is not: CPython's spawn clears it), so ignore it while starting
        # one. A Ctrl-C in those few milliseconds is lost: the user presses it again.
        previous = signal.getsignal(signal.SIGINT)
        ignore = previous is not None and threading.current_thread() is threading.main_thread()
        if ignore:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.process.start()
        finally:
            if ignore:
                signal.signal(signal.SIGINT, previous)
        self._child_end.close()   # else the parent would never see EOF when the worker dies

    def give(self, task) -> None:
        self.task = task
        with contextlib.suppress(OSError):   # it died: wait() sees its sentinel next
            self.conn.send(task)

    def receive(self):
        """The worker's next message, or None if it has died."""
        if self.conn.poll():
            try:
                return self.conn.recv()
            except (EOFError, OSError):
                pass
        # Dead. (Its pipe may not even report EOF: a DataLoader process it forked can hold it.)
        self.process.join(timeout=5)
        return None

    def how_it_died(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory?)" if -code == signal.SIGKILL else ""
            return f"was killed by {name}{hint}"
        return f"exited with code {code}"

    def stop(self, kill: bool) -> None:
        if self.process.pid is None:   # interrupted before it started
            self.conn.close()
            return
        if self.process.is_alive():
            if kill:
                self.process.kill()
            else:
                with contextlib.suppress(OSError):
                    self.conn.send(None)
        self.process.join(timeout=None if kill else 30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


@contextlib.contextmanager
def _worker_env(card: str | None = None):
    # A worker starts single-threaded (OpenMP and MKL read these when Paddle loads; Paddle prints
    # a warning at import for OMP_NUM_THREADS > 1), then _serve sets its own count. The one GPU
    # it may see (CUDA_VISIBLE_DEVICES) must be set before it imports Paddle too; its runs then
    # call that card gpu:0.
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS") + (("CUDA_VISIBLE_DEVICES",) if card else ())
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if card:
        os.environ["CUDA_VISIBLE_DEVICES"] = card
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_it_had_started(worker) -> None:
    """A worker that exits by itself before it is ready failed to start (an import error, a script
    without a main guard): every new one would too, so the sweep stops (SweepError). One killed by
    a signal (OOM, kill -9) fails just its run, as a running one does."""
    code = worker.process.exitcode
    if not worker.ready and code is not None and code >= 0:
        raise SweepError(
            f"a sweep worker process {worker.how_it_died()} before it was ready "
            "(its error is printed above); if your own script calls "
            "run_sweep(jobs > 1), put that call under "
            "`if __name__ == \"__main__\":`, since each worker imports your script")


def train_in_workers(tasks, jobs: int, threads: int, on_event=None, cards=()):
    """Yield ``(run_dir, result, status, message)`` for each (config dict, run dir) as it ends.

    ``cards[i]``, if given, is the GPU worker i is pinned to (its ``CUDA_VISIBLE_DEVICES``); a
    worker that replaces a dead one gets the dead one's card.

    ``on_event(event)`` is called with each event a run reports (``run_experiment``'s
    ``report``), as it arrives. A run whose worker died is yielded with status FAILED, and a
    fresh worker takes over. Raises SweepError if a worker dies before it is ready to train.
    """
    context = multiprocessing.get_context("spawn")
    pending, workers, started = deque(tasks), [], 0

    def start_worker(card=None):
        nonlocal started
        started += 1
        worker = _Worker(context, threads, started, card)
        workers.append(worker)   # first, so that a Ctrl-C from here on stops it too
        with _worker_env(card):
            worker.start()
        worker.give(pending.popleft())

    finished = False
    try:
        while pending and len(workers) < jobs:
            start_worker(cards[len(workers)] if cards else None)
        while workers:
            ready = set(wait([w.conn for w in workers] + [w.process.sentinel for w in workers]))
            for worker in [w for w in workers if {w.conn, w.process.sentinel} & ready]:
                message = worker.receive()
                if message == _READY:
                    worker.ready = True
                    continue
                if isinstance(message, dict):   # an event of the run it is training
                    if on_event is not None:
                        on_event(message)
                    continue
                if message is None:   # the worker died
                    workers.remove(worker)
                    worker.stop(kill=True)   # reap it, close its pipe
                    _check_it_had_started(worker)
                    yield worker.task[1], None, FAILED, f"its worker process {worker.how_it_died()}"
                    if pending:
                        start_worker(worker.card)
                    continue
                yield message
                if pending:
                    worker.give(pending.popleft())
                else:
                    worker.task = None
                    workers.remove(worker)
                    worker.stop(kill=False)
        finished = True
    finally:
        for worker in workers:   # Ctrl-C, an error, or the caller stopped early
            worker.stop(kill=not finished)
