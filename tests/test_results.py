"""A run's result (result.json, the comparison table's numbers) is read from its epoch history.

Histories here are made by hand so that each number has one right answer: the best epoch is
never the last, the target is reached in the middle, and the last epoch differs from the best.
"""
import math
from types import SimpleNamespace

import pytest

from course.engine.config import RunConfig
from course.engine.results import summarize

CONFIG = RunConfig(optimizer="adam", lr=0.001, seed=3, epochs=6, target_acc=0.9)


def history(val_accs, val_losses=None, seconds=10.0):
    """Epoch logs with these validation accuracies (and losses), ``seconds`` per epoch."""
    val_losses = val_losses or [1.0 - acc for acc in val_accs]
    return [{"epoch": e + 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": loss, "val_acc": acc,
             "lr": 0.001, "epoch_seconds": seconds} for e, (acc, loss) in enumerate(zip(val_accs, val_losses))]


def result(logs, diverged="", config=CONFIG):
    trainer = SimpleNamespace(history=logs, diverged=diverged)
    return summarize(config, trainer, test_loss=0.3, test_acc=0.88, test_seconds=2.0, device="cpu")


def test_the_best_epoch_is_the_best_one_not_the_last():
    out = result(history([0.80, 0.93, 0.91, 0.86]))
    assert (out["best_val_acc"], out["best_epoch"]) == (0.93, 2)
    assert (out["final_val_acc"], out["final_val_loss"]) == (0.86, pytest.approx(0.14))


def test_a_tie_goes_to_the_first_epoch_that_reached_it():
    # the epoch ModelCheckpoint('best') kept: a later equal value is no improvement
    out = result(history([0.70, 0.92, 0.92, 0.90]))
    assert (out["best_val_acc"], out["best_epoch"]) == (0.92, 2)


def test_the_target_is_the_first_epoch_at_or_above_it_and_the_time_so_far():
    out = result(history([0.85, 0.90, 0.95, 0.89], seconds=7.5))
    assert (out["epochs_to_target"], out["seconds_to_target"]) == (2, 15.0)
    assert (out["train_seconds"], out["total_seconds"]) == (30.0, 32.0)
    missed = result(history([0.85, 0.89]), config=CONFIG.replace(target_acc=0.95))
    assert (missed["epochs_to_target"], missed["seconds_to_target"]) == (None, None)


def test_a_run_stopped_before_its_epochs_is_early_unless_it_diverged():
    out = result(history([0.80, 0.85, 0.84]))
    assert (out["epochs_run"], out["epochs_planned"], out["stopped_early"]) == (3, 6, True)
    assert (out["status"], out["diverged"]) == ("done", False)
    assert result(history([0.80] * 6))["stopped_early"] is False

    broken = result(history([0.80, 0.10], val_losses=[0.2, math.nan]), diverged="val_loss is nan after epoch 2")
    assert (broken["status"], broken["diverged"], broken["stopped_early"]) == ("diverged", True, False)
    assert broken["diverged_reason"] == "val_loss is nan after epoch 2"
    assert broken["final_val_loss"] is None            # NaN is no number for the table
    assert (broken["best_val_acc"], broken["best_epoch"]) == (0.80, 1)


def test_a_run_without_validation_has_no_best_epoch():
    logs = history([0.5, 0.6])
    for h in logs:
        h["val_acc"] = h["val_loss"] = None
    out = result(logs)
    assert (out["best_val_acc"], out["best_epoch"], out["epochs_to_target"]) == (None, None, None)


def test_the_result_names_the_run_and_its_settings():
    out = result(history([0.9]), config=CONFIG.replace(label="plateau", batch_size=32))
    assert (out["run"], out["variant"], out["optimizer"], out["label"]) == \
        ("adam+plateau-lr0.001-seed3", "adam+plateau", "adam", "plateau")
    assert (out["lr"], out["seed"], out["batch_size"], out["device"]) == (0.001, 3, 32, "cpu")
    assert (out["test_acc"], out["test_loss"], out["target_acc"]) == (0.88, 0.3, 0.9)
