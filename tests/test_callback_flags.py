"""callbacks_from_flags turns the key=value settings into configured callbacks, checked up front."""
import pytest

from course.engine.callbacks.flags import callbacks_from_flags, parse_flag
from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.errors import ConfigError
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau
from tests.stub_trainer import StubTrainer, run_epochs


def test_no_flags_no_callbacks():
    assert callbacks_from_flags() == []


def test_all_three_flags():
    cbs = callbacks_from_flags(
        early_stop="monitor=val_acc,patience=2,restore_best_weights=true",
        reduce_lr_on_plateau="monitor=val_accuracy, factor=0.1, patience=1, min_lr=1e-5",
        checkpoint="best")
    reduce, stop, ckpt = cbs
    assert isinstance(reduce, ReduceLROnPlateau) and isinstance(stop, EarlyStopping)
    assert isinstance(ckpt, ModelCheckpoint)
    assert (stop.monitor, stop.patience, stop.restore_best_weights, stop.direction) == \
        ("val_acc", 2, True, "max")
    assert (reduce.monitor, reduce.factor, reduce.patience, reduce.min_lr) == ("val_acc", 0.1, 1, 1e-5)
    assert (ckpt.path, ckpt.save_best_only, ckpt.monitor) == ("best", True, "val_acc")
    assert stop.min_delta == 0.0


def test_checkpoint_presets_and_overrides(tmp_path):
    (ckpt,) = callbacks_from_flags(checkpoint="best,monitor=val_loss")
    assert (ckpt.path, ckpt.save_best_only, ckpt.monitor, ckpt.direction) == ("best", True, "val_loss", "min")
    (ckpt,) = callbacks_from_flags(checkpoint="path=ckpt-{epoch},save_weights_only=yes")
    run_epochs(StubTrainer(run_dir=tmp_path), [ckpt], [1.0, 0.5])   # relative: in run_dir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-1.pdparams", "ckpt-2.pdparams"]


def test_typed_values():
    kw = parse_flag("--early-stop", "baseline=0.5,min_delta=0.01,start_from_epoch=3,mode=max")
    assert kw == {"baseline": 0.5, "min_delta": 0.01, "start_from_epoch": 3, "mode": "max"}
    assert parse_flag("--early-stop", "baseline=none") == {"baseline": None}
    assert parse_flag("--early-stop", "restore_best_weights=False") == {"restore_best_weights": False}


@pytest.mark.parametrize("kwargs, pattern", [
    ({"early_stop": "monitor=val_acc,patiense=2"},
     r"--early-stop: unknown key 'patiense'; valid keys: monitor, min_delta, patience"),
    ({"early_stop": "patience=two"}, r"patience must be an integer, got 'two'"),
    ({"early_stop": "restore_best_weights=maybe"}, r"true or false, got 'maybe'"),
    ({"early_stop": "val_acc"}, r"expected key=value, got 'val_acc'"),
    ({"early_stop": ""}, r"expected key=value pairs"),
    ({"early_stop": "patience=1,patience=2"}, r"'patience' given twice"),
    ({"reduce_lr_on_plateau": "factor=2"}, r"--reduce-lr-on-plateau 'factor=2'.*factor=2\.0"),
    ({"reduce_lr_on_plateau": "cooldown=-1"}, r"cooldown must be an integer >= 0, got -1"),
    ({"reduce_lr_on_plateau": "factor=0.1,min_lr=-1"}, r"min_lr.*-1"),
    ({"checkpoint": "bestest"}, r"unknown preset 'bestest'; choose one of best or give key=value"),
    ({"checkpoint": "monitor=val_acc"}, r"give a path=\.\.\. or a preset"),
    ({"checkpoint": "best,every=2"}, r"unknown key 'every'; valid keys: path, monitor, save_best_only"),
    ({"early_stop": "monitor=nope"}, r"--early-stop 'monitor=nope': monitor 'nope' is not a metric"),
    ({"reduce_lr_on_plateau": "monitor=val_f1"}, r"monitor 'val_f1' is not a metric the trainer logs; choose one of "
                                      r"val_loss, val_acc"),
    ({"checkpoint": "best,monitor=accuracy_top5"}, r"monitor 'accuracy_top5' is not a metric"),
])
def test_flag_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        callbacks_from_flags(**kwargs)
