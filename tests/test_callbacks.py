"""EarlyStopping and ReduceLROnPlateau follow Keras's rules, epoch by epoch.

Each expected sequence is worked out by hand from the Keras source (comments show the steps), and
the callbacks are driven with a real Linear(4, 2) and a real Paddle optimizer.
"""
import numpy as np
import pytest

from course.engine.callbacks.base import MonitorCallback, auto_mode, canonical_monitor
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.errors import ConfigError
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau
from tests.stub_trainer import StubTrainer, epoch_logs, run_epochs


# --- ReduceLROnPlateau ---------------------------------------------------------------------------
def test_reduce_lr_patience1_cooldown1_min_lr():
    # factor 0.1, patience 1, cooldown 1, min_lr 1e-4, min_delta 1e-4 (absolute), start lr 0.1.
    # e0 1.0: beats inf -> best 1.0, wait 0                                   lr 0.1
    # e1 1.0: no gain, wait 1 >= 1 -> 0.1 * 0.1, cooldown 1, wait 0          lr 0.01
    # e2 1.0: cooldown 1 -> 0 (wait 0); cooldown now over, so no gain counts:
    #         wait 1 -> reduce (a cooldown of 1 is spent on the very next epoch) lr 0.001
    # e3 1.0: same again -> max(0.001 * 0.1, 1e-4)                           lr 1e-4
    # e4 0.5: improves on 1.0 by more than 1e-4 -> best 0.5, wait 0          lr 1e-4
    # e5 0.6, e6 0.6: wait 1, 2 >= 1 but lr is not above min_lr (as float32) -> unchanged
    trainer = StubTrainer(lr=0.1)
    cb = ReduceLROnPlateau(factor=0.1, patience=1, cooldown=1, min_lr=1e-4)
    out = run_epochs(trainer, [cb], [1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.6])
    assert out["lrs"] == pytest.approx([0.1, 0.01, 0.001, 1e-4, 1e-4, 1e-4, 1e-4], rel=1e-6)
    assert [epoch for epoch, _, _ in cb.lr_changes] == [1, 2, 3]
    assert trainer.optimizer.get_lr() == pytest.approx(1e-4)


def test_reduce_lr_clamps_a_reduction_that_would_pass_min_lr():
    # factor 0.1, patience 1, min_lr 0.03, start lr 0.1, a flat loss:
    # e0 best; e1 wait 1 -> max(0.1 * 0.1, 0.03) = 0.03, not 0.01; e2 wait 1, but 0.03 is not
    # above min_lr -> unchanged
    trainer = StubTrainer(lr=0.1)
    cb = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.03)
    out = run_epochs(trainer, [cb], [1.0, 1.0, 1.0])
    assert out["lrs"] == pytest.approx([0.1, 0.03, 0.03])
    assert cb.lr_changes == [(1, pytest.approx(0.1), pytest.approx(0.03))]


def test_reduce_lr_cooldown2_holds_wait():
    # factor 0.5, patience 1, cooldown 2, a flat loss:
    # e0 best; e1 wait 1 -> 0.04, cooldown 2; e2 cooldown 2->1, still in cooldown: nothing;
    # e3 cooldown 1->0, then wait 1 -> 0.02, cooldown 2; e4 nothing; e5 -> 0.01; e6 nothing; e7 -> 0.005
    trainer = StubTrainer(lr=0.08)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    out = run_epochs(trainer, [cb], [1.0] * 8)
    assert out["lrs"] == pytest.approx([0.08, 0.04, 0.04, 0.02, 0.02, 0.01, 0.01, 0.005])


def test_reduce_lr_min_delta_is_absolute_and_auto_mode_max():
    # monitor val_accuracy (Keras name) -> val_acc, 'auto' -> max, min_delta 0.01 absolute.
    # e0 0.5 best; e1 0.505 is not > 0.5 + 0.01 -> wait 1 -> 0.05 (Paddle's relative 1e-4
    # threshold would call it an improvement); e2 0.52 > 0.51 -> best; e3 0.525 not > 0.53 -> 0.025
    trainer = StubTrainer(lr=0.1)
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1, min_delta=0.01)
    out = run_epochs(trainer, [cb], [0.5, 0.505, 0.52, 0.525], monitor="val_acc")
    assert out["lrs"] == pytest.approx([0.1, 0.05, 0.05, 0.025])


def test_reduce_lr_patience2_resets_on_improvement():
    # patience 2: e0 best 1.0; e1 wait 1; e2 0.8 best, wait 0; e3 wait 1; e4 wait 2 -> 0.01
    trainer = StubTrainer(lr=0.1)
    cb = ReduceLROnPlateau(patience=2)
    out = run_epochs(trainer, [cb], [1.0, 1.0, 0.8, 0.9, 0.9])
    assert out["lrs"] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.01])


def test_reduce_lr_refuses_a_schedule_at_train_begin():
    trainer = StubTrainer()
    trainer.scheduler = object()
    with pytest.raises(ConfigError, match="use schedule 'constant'"):
        ReduceLROnPlateau().on_train_begin(trainer)


# --- EarlyStopping -------------------------------------------------------------------------------
def _stop(values, monitor="val_loss", **kwargs):
    trainer = StubTrainer()
    cb = EarlyStopping(monitor=monitor, **kwargs)
    out = run_epochs(trainer, [cb], values, monitor=canonical_monitor(monitor))
    return cb, out["epochs_run"], trainer


def test_early_stopping_patience():
    # patience 2: e0 best 1.0; e1 0.9 best (wait 0); e2 wait 1; e3 wait 2 >= 2 -> stop after e3.
    cb, ran, trainer = _stop([1.0, 0.9, 0.95, 0.92, 0.91, 0.5], patience=2)
    assert (cb.stopped_epoch, ran, cb.best_epoch, cb.best) == (3, 4, 1, 0.9)
    assert trainer.stop_training


def test_early_stopping_default_patience0_waits_for_a_worse_epoch():
    # Keras patience=0 stops at the first epoch that does not improve (Paddle's stops after one).
    cb, ran, _ = _stop([1.0, 0.9, 0.8, 0.85, 0.7])
    assert (cb.stopped_epoch, ran) == (3, 4)


def test_early_stopping_min_delta_absolute():
    # min_delta 0.05: 0.97 and 0.96 are within 0.05 of the best 1.0 -> wait 1, 2 -> stop after e2.
    cb, ran, _ = _stop([1.0, 0.97, 0.96, 0.9], patience=2, min_delta=0.05)
    assert (cb.stopped_epoch, ran, cb.best) == (2, 3, 1.0)
    cb, ran, _ = _stop([1.0, 0.97, 0.96, 0.9], patience=2)   # without: every epoch improves
    assert (cb.stopped_epoch, ran) == (0, 4)


def test_early_stopping_baseline():
    # baseline 0.5, patience 2. Keras 3: an improvement resets wait only if it also beats 0.5.
    # e0 0.8 best (wait 1); e1 0.7 best, wait 2 -- an improving epoch returns before the stop test;
    # e2 0.6 best, wait 3; e3 0.4 beats the baseline -> wait 0; e4 wait 1; e5 wait 2 -> stop.
    cb, ran, _ = _stop([0.8, 0.7, 0.6, 0.4, 0.45, 0.45, 0.3], patience=2, baseline=0.5)
    assert (cb.stopped_epoch, ran, cb.best_epoch) == (5, 6, 3)
    # Never beating the baseline: e0 best (wait 1); e1 worse, wait 2 >= 2 -> stop after e1.
    cb, ran, _ = _stop([0.8, 0.9, 1.0, 0.2], patience=2, baseline=0.5)
    assert (cb.stopped_epoch, ran, cb.best_epoch) == (1, 2, 0)


def test_early_stopping_start_from_epoch():
    # e0, e1 ignored; e2 7.0 best; e3 1.0 best; e4 2.0 wait 1 >= 1 -> stop after e4.
    cb, ran, _ = _stop([5.0, 6.0, 7.0, 1.0, 2.0, 3.0], patience=1, start_from_epoch=2)
    assert (cb.stopped_epoch, ran, cb.best_epoch) == (4, 5, 3)
    cb, ran, _ = _stop([5.0, 6.0, 7.0, 1.0, 2.0, 3.0], patience=1)   # no warm-up: stops after e1
    assert (cb.stopped_epoch, ran) == (1, 2)


def test_early_stopping_mode_auto_for_accuracy_and_forced_min():
    cb, ran, _ = _stop([0.5, 0.6, 0.55, 0.7], monitor="val_acc", patience=1)
    assert (cb.stopped_epoch, cb.best_epoch) == (2, 1)
    cb, ran, _ = _stop([0.5, 0.6, 0.55, 0.7], monitor="val_accuracy", patience=1, mode="min")
    assert (cb.stopped_epoch, cb.best_epoch) == (1, 0)


@pytest.mark.parametrize("values, patience, best_epoch, ran", [
    ([1.0, 0.5, 0.7, 0.8, 0.9], 1, 1, 3),    # stops early after e2; best is e1
    ([1.0, 0.5, 0.7, 0.8, 0.9], 10, 1, 5),   # runs to the end; best is still e1
])
def test_restore_best_weights(values, patience, best_epoch, ran):
    trainer = StubTrainer()
    cb = EarlyStopping(patience=patience, restore_best_weights=True)
    out = run_epochs(trainer, [cb], values, train=True)
    assert out["epochs_run"] == ran
    final, best, last = trainer.weights(), out["weights"][best_epoch], out["weights"][-1]
    # The later SGD steps changed the parameters in place: a kept reference would show them.
    assert not np.allclose(best["weight"], last["weight"])
    for name in final:
        np.testing.assert_array_equal(final[name], best[name])


def test_without_restore_best_weights_the_last_weights_stay():
    trainer = StubTrainer()
    out = run_epochs(trainer, [EarlyStopping(patience=1)], [1.0, 0.5, 0.7, 0.8], train=True)
    np.testing.assert_array_equal(trainer.weights()["weight"], out["weights"][-1]["weight"])


def test_early_stopping_instance_can_be_reused():
    trainer = StubTrainer()
    cb = EarlyStopping(patience=0)
    run_epochs(trainer, [cb], [1.0, 2.0])
    trainer.stop_training = False
    out = run_epochs(trainer, [cb], [1.0, 0.9, 0.8])     # state reset by on_train_begin
    assert (cb.stopped_epoch, out["epochs_run"]) == (0, 3)


# --- monitors, modes and arguments ---------------------------------------------------------------
def test_monitor_aliases_and_auto_mode():
    assert [canonical_monitor(n) for n in ("loss", "accuracy", "acc", "val_accuracy", "val_loss")] == \
        ["train_loss", "train_acc", "train_acc", "val_acc", "val_loss"]
    assert [auto_mode(n) for n in ("val_acc", "train_acc", "val_loss", "train_loss", "auc",
                                   "val_auc", "fmeasure", "lr")] == \
        ["max", "max", "min", "min", "max", "max", "max", "min"]
    assert EarlyStopping(monitor="accuracy").direction == "max"
    assert ReduceLROnPlateau(monitor="loss").direction == "min"


@pytest.mark.parametrize("cls", [EarlyStopping, ReduceLROnPlateau])
def test_unknown_monitor_lists_available_metrics(cls):
    trainer = StubTrainer()
    with pytest.raises(ConfigError, match=r"val_f1.*train_acc, train_loss, val_acc, val_loss"):
        cls(monitor="val_f1").on_epoch_end(trainer, 0, epoch_logs(0, 0.1))
    # val_loss is None when there is no validation set: that is missing too.
    with pytest.raises(ConfigError, match=r"'val_loss'.*available metrics: .*train_loss"):
        cls().on_epoch_end(trainer, 0, epoch_logs(0, 0.1, val_loss=None, val_acc=None))


@pytest.mark.parametrize("make, bad", [
    (lambda: ReduceLROnPlateau(factor=1.0), "1.0"),
    (lambda: ReduceLROnPlateau(factor=1.5), "1.5"),
    (lambda: ReduceLROnPlateau(factor=0), "factor=0"),
    (lambda: ReduceLROnPlateau(factor=-0.5), "-0.5"),
    (lambda: ReduceLROnPlateau(patience=-1), "-1"),
    (lambda: ReduceLROnPlateau(cooldown=-2), "-2"),
    (lambda: ReduceLROnPlateau(min_lr=-1e-3), "-0.001"),
    (lambda: ReduceLROnPlateau(mode="up"), "'up'"),
    (lambda: EarlyStopping(mode="lowest"), "'lowest'"),
    (lambda: EarlyStopping(patience=-3), "-3"),
    (lambda: EarlyStopping(patience=1.5), "1.5"),
    (lambda: EarlyStopping(start_from_epoch=-1), "-1"),
    (lambda: EarlyStopping(min_delta=-0.1), "-0.1"),
    (lambda: EarlyStopping(baseline="low"), "'low'"),
])
def test_bad_arguments_raise_config_error_with_the_value(make, bad):
    with pytest.raises(ConfigError) as info:
        make()
    assert bad in str(info.value)


def test_monitor_callback_is_a_shared_base():
    assert issubclass(EarlyStopping, MonitorCallback) and issubclass(ReduceLROnPlateau, MonitorCallback)
    cb = EarlyStopping(monitor="val_acc", min_delta=0.1)
    assert cb.is_improvement(0.71, 0.6) and not cb.is_improvement(0.7, 0.6)   # 0.7 - 0.6 not > 0.1


# --- with the real Trainer -----------------------------------------------------------------------
def test_callbacks_drive_the_real_trainer(tmp_path):
    from course.engine.callbacks.flags import callbacks_from_flags
    from course.engine.checkpoint import load_checkpoint
    from course.engine.trainer import Trainer
    from tests.stub_trainer import make_model_and_optimizer

    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, size=(8,)).astype("int64"))
               for _ in range(2)]
    model, opt = make_model_and_optimizer(lr=1e-6)   # so small that val_loss cannot move by 1e-4
    callbacks = callbacks_from_flags(early_stop="patience=2,min_delta=0.01",
                                     reduce_lr_on_plateau="factor=0.1,patience=1",
                                     checkpoint="path=last-epoch")
    trainer = Trainer(model, opt, callbacks=callbacks, check_divergence=False, progress=False,
                      run_dir=tmp_path)
    history = trainer.fit(batches, batches, epochs=10)
    # e0 best; e1 no gain: lr 1e-6 -> 1e-7 (RLROP), wait 1 (ES); e2: lr -> 1e-8, wait 2 -> stop.
    assert [logs["lr"] for logs in history] == pytest.approx([1e-6, 1e-6, 1e-7])
    assert callbacks[1].stopped_epoch == 2 and trainer.get_lr() == pytest.approx(1e-8)
    model2, opt2 = make_model_and_optimizer(lr=0.5)
    assert load_checkpoint(tmp_path / "last-epoch", model2, opt2)["epoch"] == 3
    assert opt2.get_lr() == pytest.approx(1e-8)     # the reduced rate survives in the checkpoint
