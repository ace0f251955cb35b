"""What a sweep's console hears from a run: ``RunEvents``, the callback that tells it.

A run reports each step the console shows as a small plain dict, handed to a ``report``
function. Plain dicts pickle, so a sweep's worker process (``course.sweep.workers``) or Ray task
(``course.sweep.ray_runs``) sends them on to the console, which words them
(``course.engine.results.event_line``) and counts them (``course.engine.progress.SweepProgress``).
"""
from __future__ import annotations

from course.engine.callbacks.base import Callback
from course.engine.errors import ConfigError


class RunEvents(Callback):
    """Report a run's events: it started, finished an epoch, stopped early or diverged, is done.

    The events, in order (``run`` is the run's name, ``epochs`` the epochs it is to train):

    - ``{"event": "start", "run", "epochs", "epoch"}``: training begins, ``epoch`` epochs
      already done (a resumed run's);
    - ``{"event": "epoch", "run", "epochs", "logs"}`` per epoch (its logs, as in metrics.json);
    - after the epoch that ended the run early, ``{"event": "stopped", "run", "epochs", "epoch"}``
      with EarlyStopping's ``monitor`` and ``best_epoch``, or ``{"event": "diverged", ...,
      "reason"}``;
    - ``{"event": "done", "run", "result"}`` from ``done``, once the result is saved.

    Why last in the trainer's list, after ``RunFiles``: an epoch the console shows is then one
    whose checkpoint is saved, so a restarted sweep keeps it.

    Example:
        >>> events = RunEvents(print, "adam-lr0.01-seed0", epochs=5)   # doctest: +SKIP
        >>> trainer.callbacks.append(events)                          # doctest: +SKIP

    Args:
        report: called with each event; None reports nothing.
        run: the run's name (``RunConfig.run_name()``).
        epochs: the epochs the run is to train.
    """

    def __init__(self, report, run: str, epochs: int):
        if report is not None and not callable(report):
            raise ConfigError(f"RunEvents: report must be a function or None, got {report!r}")
        self.report = report or (lambda event: None)
        self.run = {"run": run, "epochs": epochs}

    def on_train_begin(self, trainer):
        """Report 'start' with the epochs already done."""
        self.report({"event": "start", **self.run, "epoch": len(trainer.history)})

    def on_epoch_end(self, trainer, epoch, logs):
        """Report the epoch, then 'diverged' or 'stopped' if it ended the run early."""
        self.report({"event": "epoch", **self.run, "logs": dict(logs)})
        done = len(trainer.history)
        if trainer.diverged:
            self.report({"event": "diverged", **self.run, "epoch": done, "reason": trainer.diverged})
        elif trainer.stop_training and done < self.run["epochs"]:
            self.report({"event": "stopped", **self.run, "epoch": done, **_stopped_by(trainer)})

    def done(self, result: dict) -> None:
        """Report 'done' with the run's result (saved, or found saved by an earlier session)."""
        self.report({"event": "done", "run": self.run["run"], "result": result})


def _stopped_by(trainer) -> dict:
    """What the callback that stopped the run watched, and its best epoch (EarlyStopping's)."""
    for cb in trainer.callbacks:
        if getattr(cb, "stopped_epoch", 0) and hasattr(cb, "monitor"):
            return {"monitor": cb.monitor, "best_epoch": cb.best_epoch + 1}
    return {}
