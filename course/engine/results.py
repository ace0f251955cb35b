"""What a run reports: its epoch line, its result (the numbers the comparison table is made of),
the one-line summary of that result, and its hyperparameters for VisualDL's HParams view.

Every printout of a run goes through here, so a run is named and described the same way by a
single run, a sweep in one process, a sweep's worker processes and the chapters. A run's
``train.log`` gets the full ``epoch_line``; a sweep's console gets ``event_line``, one short line
per event a run reports (``course.engine.run_events.RunEvents``), and ``status_line`` for the sweep.
"""
from __future__ import annotations

import datetime
import math

from course.engine.progress import hms

# The epoch logs' keys, in the order of metrics.csv's columns (course.engine.trainer writes them).
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_seconds"]


RUN_LOG = "train.log"   # a sweep's run writes its epoch lines here (course.sweep.workers.train_logged)


def _epoch_tag(epoch: int, epochs: int) -> str:
    return f"epoch {epoch}/{epochs}:"


def epoch_line(logs: dict, epochs: int) -> str:
    """One line per epoch, as the course prints its progress."""
    val = ("" if logs.get("val_acc") is None else
           f" | val loss {logs['val_loss']:.4f} acc {100 * logs['val_acc']:.2f}%")
    return (f"{_epoch_tag(logs['epoch'], epochs)} train loss {logs['train_loss']:.4f} "
            f"acc {100 * logs['train_acc']:.2f}%{val} | lr {logs['lr']:.3g} | {hms(logs['epoch_seconds'])}")


def drop_lost_epoch_lines(log_path, kept: int, epochs: int) -> int:
    """Remove from a run's log the ``epoch_line``s of epochs after ``kept``; how many went.

    A run prints an epoch's line just before it saves that epoch's checkpoint, and a sweep over Ray
    stores the two files one after the other: a run killed in between resumes from the epoch
    before and prints the lost epoch again. Called on resume, with the checkpoint's epoch count,
    so each epoch's line is in the log once. The file is cut in place, not replaced: the run's
    own handle on it (opened for appending) writes on at its new end.
    """
    try:
        log = open(log_path, "r+", encoding="utf-8")
    except FileNotFoundError:
        return 0
    with log:
        lines = log.readlines()
        lost = tuple(f"] {_epoch_tag(n, epochs)}" for n in range(kept + 1, epochs + 1))
        kept_lines = [line for line in lines if not any(tag in line for tag in lost)]
        if len(kept_lines) != len(lines):
            log.seek(0)
            log.writelines(kept_lines)
            log.truncate()
    return len(lines) - len(kept_lines)


def result_line(result: dict) -> str:
    """One line for a finished run: 'best val acc 0.9812, test acc 0.9800, 5 epochs, 1m 15s'."""
    if result["diverged"]:
        return f"diverged: {result['diverged_reason']}"
    test = "" if result["test_acc"] is None else f", test acc {result['test_acc']:.4f}"
    return f"best val acc {result['best_val_acc']:.4f}{test}, {_length(result)}"


def event_line(event: dict, label: str) -> str:
    """A sweep console's line for one event of the run ``label`` names ('adam lr=0.01').

    The events are the plain dicts a run reports (``course.engine.run_events.RunEvents``: start,
    epoch, stopped, diverged, done) and the sweep's own 'failed' (a run whose worker process
    died), e.g.
    '[adam lr=0.01] epoch 2/5  loss 0.081  val 97.9%  12.4s'.
    """
    kind = event["event"]
    if kind == "start":
        text = "training" + (f" from epoch {event['epoch'] + 1}/{event['epochs']}" if event["epoch"] else "")
    elif kind == "epoch":
        logs = event["logs"]
        val = "" if logs.get("val_acc") is None else f"  val {100 * logs['val_acc']:.1f}%"
        text = (f"epoch {logs['epoch']}/{event['epochs']}  loss {_short(logs['train_loss'])}{val}  "
                f"{hms(logs['epoch_seconds'])}")
    elif kind == "stopped":
        best = f": {event['monitor']} best in epoch {event['best_epoch']}" if event.get("monitor") else ""
        text = f"stopped early after epoch {event['epoch']}/{event['epochs']}{best}"
    elif kind == "diverged":
        text = f"diverged: {event['reason']}"
    elif kind == "done":   # a diverged run's reason is on its 'diverged' line already
        result = event["result"]
        text = f"finished: diverged, {_length(result)}" if result["diverged"] else result_line(result)
    elif kind == "failed":
        text = f"FAILED: {event['message']}"
    else:
        raise ValueError(f"unknown run event {kind!r}")
    return f"[{label}] {text}"


def status_line(status: dict) -> str:
    """Where a sweep is, from ``course.engine.progress.SweepProgress.status()``: 'sweep: 3/15 runs,
    17/75 epochs, 2m 10s elapsed, about 6m 40s left' (at the end 'sweep: 15 runs, 75 epochs in 9m 12s')."""
    if status["runs_done"] == status["runs"]:
        return f"sweep: {status['runs']} runs, {status['epochs_done']} epochs in {hms(status['elapsed'])}"
    left = ("time left: known after the first epoch" if status["eta"] is None
            else f"about {hms(status['eta'])} left")
    return (f"sweep: {status['runs_done']}/{status['runs']} runs, {status['epochs_done']}/"
            f"{status['epochs']} epochs, {hms(status['elapsed'])} elapsed, {left}")


def estimate_line(status: dict) -> str:
    """The whole sweep's time as first estimated, from ``SweepProgress.status()``: 'sweep: about
    9m 10s in all on this machine (estimated from the epochs timed so far)'."""
    return (f"sweep: about {hms(status['elapsed'] + status['eta'])} in all on this machine "
            f"(estimated from the epochs timed so far)")


def _length(result: dict) -> str:
    return (f"{result['epochs_run']} epoch{'s' if result['epochs_run'] != 1 else ''}, "
            f"{hms(result['total_seconds'])}")


def _short(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.3g}"   # nan and inf too


def hparams(config) -> dict:
    """The settings VisualDL's HParams view lists for a run."""
    return {"optimizer": config.optimizer_variant(), "defaults": config.defaults,
            "lr": config.lr, "seed": config.seed,
            "model": config.model, "batch_size": config.batch_size,
            "weight_decay": config.weight_decay, "schedule": config.schedule}


def summarize(config, trainer, test_loss, test_acc, test_seconds, device) -> dict:
    """A finished run's result (result.json), from its config and the trainer's epoch history."""
    history = trainer.history
    vals = [h["val_acc"] for h in history if h.get("val_acc") is not None]
    best = max(range(len(vals)), key=vals.__getitem__) if vals else None
    elapsed = sum(h["epoch_seconds"] for h in history)
    to_target = time_to_target(history, config.target_acc)
    last = history[-1] if history else {}
    return {
        "run": config.run_name(), "variant": config.optimizer_variant(), "optimizer": config.optimizer,
        "label": config.label, "defaults": config.defaults, "lr": config.lr, "seed": config.seed,
        "batch_size": config.batch_size,
        "status": "diverged" if trainer.diverged else "done", "diverged": bool(trainer.diverged),
        "diverged_reason": trainer.diverged,
        "epochs_run": len(history), "epochs_planned": config.epochs,
        "stopped_early": len(history) < config.epochs and not trainer.diverged,
        "best_val_acc": vals[best] if vals else None, "best_epoch": best + 1 if vals else None,
        "final_val_acc": last.get("val_acc"), "final_val_loss": _finite_or_none(last.get("val_loss")),
        "test_acc": test_acc, "test_loss": _finite_or_none(test_loss),
        "target_acc": config.target_acc,
        "epochs_to_target": to_target[0] if to_target else None,
        "seconds_to_target": to_target[1] if to_target else None,
        "train_seconds": elapsed, "total_seconds": elapsed + test_seconds,
        "device": device, "finished_at": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def time_to_target(history: list[dict], target: float):
    """(epoch, seconds of training) when validation accuracy first reached ``target``, or None."""
    elapsed = 0.0
    for h in history:
        elapsed += h["epoch_seconds"]
        if h.get("val_acc") is not None and h["val_acc"] >= target:
            return h["epoch"], elapsed
    return None


def _finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None


# What a report and a sweep's console read from every result.json.
RESULT_KEYS = ("run", "optimizer", "lr", "best_val_acc", "final_val_acc", "test_acc", "test_loss",
               "epochs_run", "total_seconds", "diverged")


def check_result(result, path) -> dict:
    """``result`` (a result.json's JSON) if it is a run's result; else a one-line ConfigError."""
    from course.engine.errors import ConfigError

    if not isinstance(result, dict):
        raise ConfigError(f"{path} holds a JSON {type(result).__name__}, not a run's result; delete "
                          "that run directory to train it again")
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ConfigError(f"{path} is not a run's result (no {', '.join(missing)}); delete that run "
                          "directory to train it again")
    return result
