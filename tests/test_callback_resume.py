"""A run resumed after any epoch ends as the uninterrupted one: every callback gets back every field
of its state (a cooldown under way, a patience counter, the best value and weights) through the
run's real resume file; and the callbacks' options other than the defaults, in both modes.

The callbacks are driven with scripted monitored values (tests/stub_trainer.py's loop) on a real
``Trainer``, whose state goes through ``save_resume`` / ``load_resume`` as a run's does.
"""
import numpy as np
import paddle
import pytest

from course.engine.callbacks.base import Callback
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau
from course.engine.checkpoint import load_resume, save_resume
from course.engine.errors import ConfigError
from course.engine.trainer import Trainer
from tests.stub_trainer import make_model_and_optimizer, run_epochs, weights_of

# What a callback keeps for this session only, not run state: the flag that says it was restored,
# and ModelCheckpoint's list of the files it wrote since it started.
SESSION_ONLY = {"_restored_state", "saved"}


class SaveAfter(Callback):
    """Write the run's resume file at the end of every epoch."""

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, trainer, epoch, logs):
        save_resume(self.path, trainer, None)


def trainer_with(make_callback, lr, run_dir):
    paddle.seed(0)   # the same starting weights for the whole run and the first half
    model, optimizer = make_model_and_optimizer(lr)
    return Trainer(model, optimizer, callbacks=[make_callback()], progress=False, run_dir=run_dir)


def fields(callback) -> dict:
    return {k: v for k, v in vars(callback).items() if k not in SESSION_ONLY}


def assert_same(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b or (a != a and b != b)   # NaN == NaN here


def whole_and_resumed(make_callback, values, k, tmp_path, lr=0.08, monitor="val_loss"):
    """Run ``values`` uninterrupted, and again cut after epoch ``k`` and resumed from the resume
    file in a new trainer with a new callback; return both trainers and both lists of rates."""
    whole = trainer_with(make_callback, lr, tmp_path / "whole")
    whole_lrs = run_epochs(whole, whole.callbacks, values, monitor, train=True)["lrs"]
    first = trainer_with(make_callback, lr, tmp_path / "cut")
    # The resume file is written after each epoch's callbacks, as a run writes it, and before
    # anything a finished fit would do (EarlyStopping putting the best weights back).
    first.callbacks.append(SaveAfter(tmp_path / "last.pdckpt"))
    lrs = run_epochs(first, first.callbacks, values[:k], monitor, train=True)["lrs"]
    resumed = trainer_with(make_callback, 0.5, tmp_path / "cut")   # rate and state come from the file
    load_resume(tmp_path / "last.pdckpt", resumed, None)
    if not resumed.stop_training:
        lrs += run_epochs(resumed, resumed.callbacks, values[k:], monitor, train=True, first=k)["lrs"]
    return whole, resumed, whole_lrs, lrs


@pytest.mark.parametrize("k", range(1, 8))
def test_reduce_lr_resumed_inside_a_cooldown_keeps_its_rates(tmp_path, k):
    # factor 0.5, patience 1, cooldown 2, a flat loss (as test_callbacks' cooldown case):
    # e0 best; e1 -> 0.04, cooldown 2; e2 in cooldown; e3 -> 0.02; e4 cooldown; e5 -> 0.01; ...
    # A resume after e1, e3 or e5 starts inside a cooldown: a lost cooldown_counter reduces at once.
    def make():
        return ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)

    whole, resumed, whole_lrs, lrs = whole_and_resumed(make, [1.0] * 8, k, tmp_path)
    assert whole_lrs == pytest.approx([0.08, 0.04, 0.04, 0.02, 0.02, 0.01, 0.01, 0.005])
    assert lrs == pytest.approx(whole_lrs)
    assert_same(fields(resumed.callbacks[0]), fields(whole.callbacks[0]))


@pytest.mark.parametrize("k", range(1, 9))
def test_reduce_lr_resumed_mid_patience_keeps_its_count_and_best(tmp_path, k):
    # factor 0.5, patience 2, cooldown 1:
    # e0 1.0 best; e1 wait 1; e2 wait 2 -> 0.04, cooldown 1; e3 cooldown over, wait 1;
    # e4 wait 2 -> 0.02; e5 0.5 best; e6 0.6 wait 1; e7 wait 2 -> 0.01; e8 cooldown over, wait 1.
    # A resume after e1 or e6 holds wait 1 (lost: one epoch late); after e5 the best 0.5 (lost:
    # 0.6 would be an improvement).
    def make():
        return ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_delta=0.0)

    values = [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8]
    whole, resumed, whole_lrs, lrs = whole_and_resumed(make, values, k, tmp_path)
    assert whole_lrs == pytest.approx([0.08, 0.08, 0.04, 0.04, 0.02, 0.02, 0.02, 0.01, 0.01])
    assert lrs == pytest.approx(whole_lrs)
    assert_same(fields(resumed.callbacks[0]), fields(whole.callbacks[0]))


@pytest.mark.parametrize("k", range(1, 4))
def test_early_stopping_resumed_keeps_its_patience_and_best_weights(tmp_path, k):
    # patience 2: e0 1.0 best; e1 0.9 best; e2 wait 1; e3 wait 2 -> stop after e3, and the
    # weights of e1 are put back. A resume after e2 that lost wait=1 would stop a run later.
    def make():
        return EarlyStopping(patience=2, restore_best_weights=True)

    values = [1.0, 0.9, 0.95, 0.96, 0.97, 0.5]
    whole, resumed, _, _ = whole_and_resumed(make, values, k, tmp_path)
    stop = resumed.callbacks[0]
    assert (stop.stopped_epoch, stop.best_epoch, len(resumed.history)) == (3, 1, 4)
    assert_same(fields(stop), fields(whole.callbacks[0]))
    assert_same(weights_of(resumed.model), weights_of(whole.model))


@pytest.mark.parametrize("k", range(1, 4))
def test_best_only_checkpoint_resumed_never_saves_a_worse_epoch(tmp_path, k):
    # val_loss: e0 1.0 saved, e1 0.5 saved, e2 0.7 and e3 0.8 not: best.pdckpt holds epoch 2.
    # A resume that forgot the best would save e2's worse model over it.
    def make():
        return ModelCheckpoint("best", save_best_only=True)

    whole, resumed, _, _ = whole_and_resumed(make, [1.0, 0.5, 0.7, 0.8], k, tmp_path)
    for run in ("whole", "cut"):
        assert paddle.load(str(tmp_path / run / "best.pdckpt"))["extra"]["epoch"] == 2
    assert_same(fields(resumed.callbacks[0]), fields(whole.callbacks[0]))


# --- options other than the defaults, in both modes ----------------------------------------------
def _stop(values, **kwargs):
    from tests.stub_trainer import StubTrainer

    cb = EarlyStopping(monitor="val_acc", **kwargs)
    ran = run_epochs(StubTrainer(), [cb], values, monitor="val_acc")["epochs_run"]
    return cb, ran


def test_early_stopping_baseline_in_max_mode():
    # val_acc (max), baseline 0.6, patience 2. Keras 3: an improvement resets wait only if it
    # also beats the baseline, i.e. is *above* 0.6 here.
    # e0 0.3 best, wait 1; e1 0.4 best, wait 2; e2 0.5 best, wait 3 (improving epochs never stop);
    # e3 0.7 best and above 0.6 -> wait 0; e4 0.65 wait 1; e5 0.66 wait 2 -> stop after e5.
    cb, ran = _stop([0.3, 0.4, 0.5, 0.7, 0.65, 0.66, 0.9], patience=2, baseline=0.6)
    assert (cb.stopped_epoch, ran, cb.best_epoch, cb.best) == (5, 6, 3, 0.7)
    # Never above the baseline: e0 0.3 best, wait 1; e1 0.2 wait 2 -> stop after e1.
    cb, ran = _stop([0.3, 0.2, 0.25, 0.9], patience=2, baseline=0.6)
    assert (cb.stopped_epoch, ran, cb.best_epoch) == (1, 2, 0)


def test_checkpoint_initial_value_threshold_in_both_modes(tmp_path):
    from tests.stub_trainer import StubTrainer

    # max (val_acc), threshold 0.6: e0 0.5 is below it, e1 0.7 saved, e2 0.65 not, e3 0.8 saved.
    cb = ModelCheckpoint("best", monitor="val_acc", save_best_only=True, initial_value_threshold=0.6)
    run_epochs(StubTrainer(run_dir=tmp_path / "max"), [cb], [0.5, 0.7, 0.65, 0.8], monitor="val_acc")
    assert [epoch for epoch, _ in cb.saved] == [1, 3]
    # min (val_loss), threshold 0.6: e0 0.7 is above it, e1 0.5 saved, e2 0.55 not, e3 0.4 saved.
    cb = ModelCheckpoint("best", monitor="val_loss", save_best_only=True, initial_value_threshold=0.6)
    run_epochs(StubTrainer(run_dir=tmp_path / "min"), [cb], [0.7, 0.5, 0.55, 0.4])
    assert [epoch for epoch, _ in cb.saved] == [1, 3]


# --- survivors of mutation testing ---------------------------------------------------------------
def test_callback_defaults_are_keras_defaults():
    assert ReduceLROnPlateau().get_config() == {"monitor": "val_loss", "factor": 0.1, "patience": 10,
                                                "mode": "auto", "min_delta": 1e-4, "cooldown": 0,
                                                "min_lr": 0.0}
    assert EarlyStopping().get_config() == {"monitor": "val_loss", "min_delta": 0.0, "patience": 0,
                                            "mode": "auto", "baseline": None,
                                            "restore_best_weights": False, "start_from_epoch": 0}


def test_reduce_lr_restarts_its_count_after_a_reduction_and_when_reused(capsys):
    from tests.stub_trainer import StubTrainer

    # patience 2, no cooldown, a flat loss: e0 best; e1 wait 1; e2 wait 2 -> 0.01, wait 0;
    # e3 wait 1; e4 wait 2 -> 0.001 (a count not restarted would reduce at e3 already).
    trainer = StubTrainer(lr=0.1)
    cb = ReduceLROnPlateau(patience=2, verbose=1)
    assert run_epochs(trainer, [cb], [1.0] * 5)["lrs"] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out
    # The same instance in a new fit starts afresh: best, counters and its list of changes.
    run_epochs(StubTrainer(lr=0.1), [cb], [5.0, 5.0])
    assert cb.best == 5.0 and cb.wait == 1 and cb.lr_changes == []


@pytest.mark.parametrize("make, message", [
    (lambda: EarlyStopping(patience=True), "EarlyStopping: patience must be an integer >= 0, got True"),
    (lambda: EarlyStopping(monitor=5), "EarlyStopping: monitor must be a metric name, got 5"),
    (lambda: ReduceLROnPlateau(min_lr=-1), "ReduceLROnPlateau: min_lr must be a finite number >= 0, got -1"),
    (lambda: ReduceLROnPlateau(mode="up"), "ReduceLROnPlateau: mode must be one of auto, min, max, got 'up'"),
])
def test_a_bad_argument_names_the_callback_the_argument_and_the_value(make, message):
    with pytest.raises(ConfigError) as info:
        make()
    assert str(info.value) == message
