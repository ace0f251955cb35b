"""Progress for long work: a bar that stays quiet where nobody is watching, a sweep's count of
runs and epochs with the time it has left, and durations printed as the articles print training time.

tqdm draws the bar; when output is not a terminal (CI, a notebook, a sweep's per-run log file) the
bar is replaced by nothing, so logs hold results rather than thousands of redraws.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class _NoBar:
    def update(self, n=1, **postfix):
        pass

    def close(self):
        pass


class _Bar:
    def __init__(self, total, desc, unit):
        self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
        self.count = 0

    def update(self, n=1, **postfix):
        self.count += n
        # Refreshing the postfix every step costs more than a small model's step does.
        if postfix and self.count % 20 == 0:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in postfix.items()}, refresh=False)
        self.bar.update(n)

    def close(self):
        self.bar.close()


def progress_bar(total=None, desc="", unit="batch", enabled=True):
    """A bar with ``update(n, **postfix)`` and ``close()``; a no-op unless enabled and on a TTY."""
    if not enabled or not on_terminal():
        return _NoBar()
    return _Bar(total, desc, unit)


def on_terminal(*streams) -> bool:
    """Are all ``streams`` (default: stderr, where bars go) terminals? Bars and carriage returns
    are for them only."""
    return all(getattr(stream, "isatty", lambda: False)() for stream in streams or (sys.stderr,))


class SweepProgress:
    """A sweep's runs and epochs, counted from the events its runs report, and the time it has left.

    The estimate is the epochs still to train times the mean measured epoch time (``epoch_seconds``
    of the epochs finished so far), shared out over the runs that train at once. A run that stops
    early, diverges or fails plans no more epochs; a resumed run counts its earlier epochs as done.

    Example:
        >>> p = SweepProgress({"a": 3, "b": 3}, jobs=2)
        >>> p.update({"event": "epoch", "run": "a", "epochs": 3, "logs": {"epoch": 1, "epoch_seconds": 10.0}})
        >>> p.update({"event": "epoch", "run": "b", "epochs": 3, "logs": {"epoch": 1, "epoch_seconds": 10.0}})
        >>> p.status()["eta"]   # 4 epochs left x 10 s, two at a time
        20.0

    Args:
        planned: each run's name and the epochs it is to train.
        jobs: how many runs train at once.
    """

    def __init__(self, planned: dict, jobs: int = 1):
        if jobs < 1:
            raise ValueError(f"SweepProgress: jobs must be >= 1, got {jobs}")
        self.planned, self.jobs = dict(planned), jobs
        self.done = dict.fromkeys(self.planned, 0)   # epochs each run has finished
        self.finished: set = set()
        self.seconds, self.timed = 0.0, 0            # the epochs measured in this session
        self.started = time.monotonic()

    def update(self, event: dict) -> None:
        """Count one run event (start, epoch, done or failed; others change nothing)."""
        run, kind = event["run"], event["event"]
        if kind == "start":
            self.done[run] = event["epoch"]
        elif kind == "epoch":
            self.done[run] = event["logs"]["epoch"]
            self.seconds += event["logs"]["epoch_seconds"]
            self.timed += 1
        elif kind in ("done", "failed"):
            if kind == "done":
                self.done[run] = event["result"]["epochs_run"]
            self.planned[run] = self.done[run]
            self.finished.add(run)

    def status(self) -> dict:
        """runs, runs_done, epochs, epochs_done, elapsed and eta (seconds; None before any epoch)."""
        left = [self.planned[r] - self.done[r] for r in self.planned if r not in self.finished]
        eta = None
        if self.timed:
            eta = sum(left) * (self.seconds / self.timed) / max(1, min(self.jobs, len(left)))
        return {"runs": len(self.planned), "runs_done": len(self.finished),
                "epochs": sum(self.planned.values()), "epochs_done": sum(self.done.values()),
                "elapsed": time.monotonic() - self.started, "eta": eta}


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
