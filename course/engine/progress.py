"""Progress for long work: a bar that stays quiet where nobody is watching, a sweep's count of
runs and epochs with the time it has left, and durations printed as the articles print training time.

tqdm draws the bar; when output is not a terminal (CI, a notebook, a sweep's per-run log file)
tqdm's own ``disable=None`` draws nothing, so logs hold results rather than thousands of redraws.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class _Bar(tqdm):
    """tqdm whose ``update`` also takes the numbers to show beside the bar (the step's loss)."""

    def update(self, n=1, **postfix):
        # Refreshing the postfix every step costs more than a small model's step does.
        if postfix and not self.disable and (self.n + n) % 20 == 0:
            self.set_postfix({k: f"{v:.4f}" for k, v in postfix.items()}, refresh=False)
        return super().update(n)


def progress_bar(total=None, desc="", unit="batch", enabled=True):
    """A bar with ``update(n, **postfix)`` and ``close()``; drawn only if enabled and stderr is a
    terminal (tqdm's own ``disable=None``)."""
    return _Bar(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True,
                disable=None if enabled else True)


def on_terminal(*streams) -> bool:
    """Are all ``streams`` (default: stderr, where bars go) terminals? Bars and carriage returns
    are for them only."""
    return all(getattr(stream, "isatty", lambda: False)() for stream in streams or (sys.stderr,))


class SweepProgress:
    """A sweep's runs and epochs, counted from the events its runs report, and the time it has left.

    A run's time is its epochs plus an overhead outside them (a worker starting, the data loaded,
    the model built; at the end the test pass and the result written), as long for a 1-epoch run
    as for a 20-epoch one. The estimate is, for every unfinished run, its epochs still to train
    times the mean measured epoch time (``epoch_seconds``) plus the overhead it has still to spend,
    shared out over the runs that train at once. The overhead is measured per finished run as its
    wall time (from when a slot came free for it) less its epochs; until a run has finished, only
    the part before the first epoch is known, so the estimate is then short by the end part. A run
    that stops early, diverges or fails plans no more epochs; a resumed run counts its earlier
    epochs as done.

    Example:
        >>> now = iter([0.0, 2.0, 12.0]).__next__   # created at 0 s, started at 2, epoch at 12
        >>> p = SweepProgress({"a": 3, "b": 3}, jobs=1, clock=now)
        >>> p.update({"event": "start", "run": "a", "epoch": 0, "epochs": 3})
        >>> p.update({"event": "epoch", "run": "a", "epochs": 3, "logs": {"epoch": 1, "epoch_seconds": 10.0}})
        >>> p.status(now=12.0)["eta"]   # a: 2 x 10 s; b: 3 x 10 s + the 2 s before a's first epoch
        52.0

    Args:
        planned: each run's name and the epochs it is to train.
        jobs: how many runs train at once.
        clock: seconds from any fixed point (``time.monotonic``); tests give their own.
    """

    def __init__(self, planned: dict, jobs: int = 1, clock=time.monotonic):
        if jobs < 1:
            raise ValueError(f"SweepProgress: jobs must be >= 1, got {jobs}")
        self.planned, self.jobs, self.clock = dict(planned), jobs, clock
        self.done = dict.fromkeys(self.planned, 0)   # epochs each run has finished
        self.finished: set = set()
        self.seconds, self.timed = 0.0, 0            # the epochs measured in this session
        self.started = clock()
        self.free = [self.started] * jobs            # when each slot came free, oldest first
        self.began: dict = {}                        # run -> when its slot came free for it
        self.trained = dict.fromkeys(self.planned, 0.0)   # each run's epoch seconds this session
        self.last_seen: dict = {}                    # run -> when its latest event came
        self.overheads: list[float] = []             # finished runs' seconds outside their epochs
        self.before_first: list[float] = []          # started runs' seconds before their 1st epoch

    def update(self, event: dict) -> None:
        """Count one run event (start, epoch, done or failed; others change nothing)."""
        run, kind, now = event["run"], event["event"], self.clock()
        if kind == "start":
            self.done[run] = event["epoch"]
            self.began[run] = self.free.pop(0) if self.free else now
        elif kind == "epoch":
            self.done[run] = event["logs"]["epoch"]
            self.seconds += event["logs"]["epoch_seconds"]
            self.timed += 1
            if run in self.began and not self.trained.get(run):
                self.before_first.append(now - self.began[run] - event["logs"]["epoch_seconds"])
            self.trained[run] = self.trained.get(run, 0.0) + event["logs"]["epoch_seconds"]
        elif kind in ("done", "failed"):
            if kind == "done":
                self.done[run] = event["result"]["epochs_run"]
                if run in self.began:
                    self.overheads.append(now - self.began[run] - self.trained.get(run, 0.0))
            if run in self.began:
                self.free.append(now)
            self.planned[run] = self.done[run]
            self.finished.add(run)
        self.last_seen[run] = now

    def overhead(self) -> float:
        """A run's seconds outside its epochs: the finished runs' mean, else the time before the
        first epoch (the end part not known yet), else 0."""
        known = self.overheads or self.before_first
        return sum(known) / len(known) if known else 0.0

    def status(self, now=None) -> dict:
        """runs, runs_done, epochs, epochs_done, elapsed and eta (seconds; None before any epoch)."""
        now = self.clock() if now is None else now
        running = [r for r in self.planned if r not in self.finished]
        eta = None
        if self.timed:
            per_epoch, overhead = self.seconds / self.timed, self.overhead()
            work = 0.0
            for r in running:
                # what the run has spent outside its epochs, up to its latest event
                spent = self.last_seen[r] - self.began[r] - self.trained[r] if r in self.began else 0.0
                work += (self.planned[r] - self.done[r]) * per_epoch + max(0.0, overhead - spent)
            eta = work / max(1, min(self.jobs, len(running)))
        return {"runs": len(self.planned), "runs_done": len(self.finished),
                "epochs": sum(self.planned.values()), "epochs_done": sum(self.done.values()),
                "elapsed": now - self.started, "eta": eta}


class StatusBar:
    """One bar for a whole sweep, on a terminal: a status text, then epochs done of those planned.

    Lines printed while it is shown go through ``write``, which takes the bar away first and
    draws it again below them, so they never mix with it.
    """

    def __init__(self, total: int, text: str = ""):
        self.bar = tqdm(total=total, desc=text, leave=False, dynamic_ncols=True,
                        bar_format="{desc}  {bar:20} {percentage:3.0f}%")

    def show(self, done: int, total: int, text: str) -> None:
        """Show ``text`` and ``done`` of ``total`` epochs as a bar."""
        self.bar.total, self.bar.n = total, done
        self.bar.set_description_str(text, refresh=False)
        self.bar.refresh()

    def write(self, line: str, stream) -> None:
        """Print ``line`` to ``stream`` above the bar."""
        self.bar.clear()
        print(line, file=stream, flush=True)
        self.bar.refresh()

    def close(self) -> None:
        """Take the bar away."""
        self.bar.close()


def hms(seconds) -> str:
    """Seconds as '1h 02m 03s', '2m 05s' or '7.4s'; None as '—'."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"
