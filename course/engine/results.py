"""What a run reports: its epoch line, its result (the numbers the comparison table is made of),
the one-line summary of that result, and its hyperparameters for VisualDL's HParams view.

Every printout of a run goes through here, so a run is named and described the same way by a
single run, a sweep in one process, a sweep's worker processes and the chapters.
"""
from __future__ import annotations

import datetime
import math

from course.engine.progress import hms

# The epoch logs' keys, in the order of metrics.csv's columns (course.engine.trainer writes them).
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_seconds"]


def epoch_line(logs: dict, epochs: int) -> str:
    """One line per epoch, as the course prints its progress."""
    val = ("" if logs.get("val_acc") is None else
           f" | val loss {logs['val_loss']:.4f} acc {100 * logs['val_acc']:.2f}%")
    return (f"epoch {logs['epoch']}/{epochs}: train loss {logs['train_loss']:.4f} "
            f"acc {100 * logs['train_acc']:.2f}%{val} | lr {logs['lr']:.3g} | {hms(logs['epoch_seconds'])}")


def result_line(result: dict) -> str:
    """One line for a finished run: 'best val acc 0.9812, test acc 0.9800, 5 epochs, 1m 15s'."""
    if result["diverged"]:
        return f"diverged: {result['diverged_reason']}"
    test = "" if result["test_acc"] is None else f", test acc {result['test_acc']:.4f}"
    return (f"best val acc {result['best_val_acc']:.4f}{test}, "
            f"{result['epochs_run']} epoch{'s' if result['epochs_run'] != 1 else ''}, "
            f"{hms(result['total_seconds'])}")


def hparams(config) -> dict:
    """The settings VisualDL's HParams view lists for a run."""
    return {"optimizer": config.arm(), "lr": config.lr, "seed": config.seed,
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
        "run": config.run_name(), "arm": config.arm(), "optimizer": config.optimizer,
        "label": config.label, "lr": config.lr, "seed": config.seed, "batch_size": config.batch_size,
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
