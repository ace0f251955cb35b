"""Progress for long work: a bar that stays quiet where nobody is watching, and durations
printed as the articles print training time.

tqdm draws the bar; when output is not a terminal (CI, a sweep's per-run log file) the bar is
replaced by nothing, so logs hold results rather than thousands of redraws.
"""
from __future__ import annotations

import sys

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
    if not enabled or not sys.stderr.isatty():
        return _NoBar()
    return _Bar(total, desc, unit)


def hms(seconds) -> str:
    """Seconds as '1h 02m 03s', '2m 05s' or '7.4s'; None as '—'."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"
