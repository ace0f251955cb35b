"""Runs that can be trusted: a run directory is reused only with the settings it was trained with,
a setting marked neutral truly cannot change what a run learns, and a NaN or infinite monitored
value means the same thing to every Keras-style callback."""
import dataclasses
import json
import math
from pathlib import Path

import paddle
import pytest

from course.chapters import ch4_optimizers
from course.cli import run_main
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau
from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.engine.experiment import run_experiment
from tests.stub_trainer import StubTrainer, run_epochs

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_small.npz"
SWEEP = ["--dataset", f"mnist:{FIXTURE}", "--model", "mlp_relu", "--optimizers", "sgd,adam",
         "--lrs", "0.01", "--subset", "300", "--val-subset", "200", "--jobs", "1", "--no-progress"]


def sweep(tmp_path, *extra):
    return run_main(ch4_optimizers.main, [*SWEEP, "--logdir", str(tmp_path), *extra])


def results(tmp_path) -> dict:
    return {p.parent.name: p.read_text() for p in tmp_path.rglob("result.json")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 1-epoch sweep of 2 runs, copied fresh for each test that changes it."""
    root = tmp_path_factory.mktemp("finished")
    assert sweep(root, "--epochs", "1") == 0
    return root


def copy_of(finished, tmp_path):
    import shutil

    shutil.copytree(finished, tmp_path / "runs")
    return tmp_path / "runs"


def test_changed_settings_stop_the_sweep_before_anything_is_written(finished, tmp_path, capsys):
    logdir = copy_of(finished, tmp_path)
    paths = set(logdir.rglob("*"))
    before = {p: p.stat().st_mtime_ns for p in paths if p.is_file()}
    assert sweep(logdir, "--epochs", "2", "--weight-decay", "0.001") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "holds 2 run(s) trained with other settings (weight_decay 0.0 -> 0.001, epochs 1 -> 2)" in err
    assert "another --logdir" in err and "--overwrite" in err
    assert {p: p.stat().st_mtime_ns for p in logdir.rglob("*") if p.is_file()} == before   # untouched
    assert set(logdir.rglob("*")) == paths                                      # nothing new


def test_another_precision_is_another_run(finished, tmp_path, capsys):
    # --amp auto resolved to off on this CPU when the runs were trained; bf16 must not reuse them,
    # while auto (still off here) and an explicit off do.
    logdir = copy_of(finished, tmp_path)
    assert sweep(logdir, "--epochs", "1", "--amp", "bf16") == 2
    assert "trained with other settings (amp 'off' -> 'bf16')" in capsys.readouterr().err
    old = results(logdir)
    assert sweep(logdir, "--epochs", "1", "--amp", "off") == 0 and results(logdir) == old


def test_report_only_refuses_runs_trained_with_other_settings(finished, tmp_path, capsys):
    assert sweep(copy_of(finished, tmp_path), "--epochs", "3", "--report-only") == 2
    assert "trained with other settings (epochs 1 -> 3)" in capsys.readouterr().err


def test_overwrite_trains_the_changed_runs_again(finished, tmp_path):
    logdir = copy_of(finished, tmp_path)
    assert sweep(logdir, "--epochs", "2", "--overwrite") == 0
    for text in results(logdir).values():
        assert json.loads(text)["epochs_run"] == 2
    sweep_json = json.loads(next(logdir.rglob("sweep.json")).read_text())
    assert sweep_json["base"]["epochs"] == 2          # sweep.json holds what was run


def test_neutral_settings_reuse_the_runs_and_the_report_follows_them(finished, tmp_path, capsys):
    logdir = copy_of(finished, tmp_path)
    old = results(logdir)
    # The target accuracy only sums the runs up: the same runs, counted to the new target.
    assert sweep(logdir, "--epochs", "1", "--target-acc", "0.05", "--device", "cpu") == 0
    assert results(logdir) == old
    table = next(logdir.rglob("comparison.md")).read_text()
    assert "epochs to 5%" in table and "| 1 | 1 |" in table.replace("—", "")


def test_the_identity_ignores_only_neutral_settings():
    saved = RunConfig().to_dict()
    assert RunConfig(device="cpu", data_cache="/x", target_acc=0.9, num_workers=2).changes_from(saved) == []
    assert RunConfig(seed=1, lr=0.1).changes_from(saved) == ["lr 0.01 -> 0.1", "seed 0 -> 1"]
    assert RunConfig(schedule_args={"decay_rate": 0.5}, schedule="exponential").changes_from(saved) == [
        "schedule 'constant' -> 'exponential'", "schedule_args {} -> {'decay_rate': 0.5}"]


def test_a_damaged_run_file_is_a_one_line_error_naming_it(finished, tmp_path, capsys):
    logdir = copy_of(finished, tmp_path)
    config = next(logdir.rglob("config.json"))
    config.write_text("{not json")
    assert sweep(logdir, "--epochs", "1") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {config} is damaged") and "delete the run directory" in err
    assert len(err.splitlines()) == 1


# --- one rule for a NaN or infinite monitored value -------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_early_stopping_counts_a_non_finite_first_value_as_no_improvement(bad):
    stop = EarlyStopping(monitor="val_loss", patience=2)
    out = run_epochs(StubTrainer(), [stop], [bad, 0.5, 0.4, 0.45, 0.46])
    # The run recovers at epoch 2; the NaN is not its best, 0.4 is, and it stops 2 epochs later.
    assert stop.best == 0.4 and stop.best_epoch == 2 and out["epochs_run"] == 5


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_reduce_lr_counts_a_non_finite_first_value_as_no_improvement(bad):
    reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    out = run_epochs(StubTrainer(lr=0.1), [reduce], [bad, 0.5, 0.4])
    assert out["lrs"] == pytest.approx([0.05, 0.05, 0.05]) and reduce.best == 0.4


def test_checkpoint_never_saves_a_non_finite_value_as_best(tmp_path):
    ckpt = ModelCheckpoint("best", monitor="val_loss", save_best_only=True)
    run_epochs(StubTrainer(run_dir=tmp_path), [ckpt], [math.nan, 0.5, math.inf])
    assert [epoch for epoch, _ in ckpt.saved] == [1] and ckpt.best == 0.5


# --- run identity, field by field --------------------------------------------------------------
SMALL = dict(dataset=f"mnist:{FIXTURE}", model="mlp_relu", subset=256, val_subset=128, epochs=2,
             seed=3)
NEUTRAL = [f.name for f in dataclasses.fields(RunConfig) if f.metadata.get("neutral")]
IDENTITY = [f.name for f in dataclasses.fields(RunConfig) if not f.metadata.get("neutral")]
# A value each neutral field takes here that differs from SMALL's; a field newly marked neutral
# must be added, with a value that would show it changing what is learned.
NEUTRAL_VALUES = {"device": "cpu", "data_cache": "elsewhere", "target_acc": 0.5, "num_workers": 0,
                  "log_every_n_steps": 1}


def learned(run_dir) -> dict:
    """What a run learned: its curves (not their timing or logging), its test numbers, its weights."""
    history = json.loads((run_dir / "metrics.json").read_text())
    result = json.loads((run_dir / "result.json").read_text())
    weights = paddle.load(str(run_dir / "model.pdparams"))
    return {"curves": [{k: h[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr")}
                       for h in history],
            "test": (result["test_loss"], result["test_acc"]),
            "weights": {k: v.numpy().tolist() for k, v in weights.items()}}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("small") / "run"
    run_experiment(RunConfig(**SMALL), run_dir, progress=False, log_visualdl=False)
    return learned(run_dir)


@pytest.mark.parametrize("name", NEUTRAL)
def test_a_neutral_setting_cannot_change_what_a_run_learns(name, small_run, tmp_path):
    assert name in NEUTRAL_VALUES, f"{name} is marked neutral: give it a value to train with here"
    value = NEUTRAL_VALUES[name]
    if name == "data_cache":
        value = str(tmp_path / value)
    assert value != getattr(RunConfig(**SMALL), name)
    config = RunConfig(**SMALL, **{name: value})
    run_experiment(config, tmp_path / "run", progress=False, log_visualdl=False)
    assert learned(tmp_path / "run") == small_run


def other_value(value):
    """A value of ``value``'s type that differs from it (valid or not: it is only compared)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    return {"other": 1} if isinstance(value, dict) else value + "x"


@pytest.mark.parametrize("name", IDENTITY)
def test_a_run_folder_trained_with_another_value_of_a_setting_is_refused(name, tmp_path):
    # The folder holds a run whose config.json differs in this one setting: resuming it with
    # these settings would mix two runs, so the run stops before it loads or writes anything.
    config = RunConfig(**SMALL)
    saved = {**config.to_dict(), name: other_value(getattr(config, name))}
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    # ... and one trained epoch (a folder with config.json alone is a failed start, not a run)
    (tmp_path / "run" / "metrics.json").write_text(json.dumps([{"epoch": 1}]))
    with pytest.raises(ConfigError, match=rf"trained with other settings \({name} "):
        run_experiment(config, tmp_path / "run", progress=False, log_visualdl=False)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "metrics.json"]
