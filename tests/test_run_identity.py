"""Runs that can be trusted: a run directory is reused only with the settings it was trained with,
and a NaN or infinite monitored value means the same thing to every Keras-style callback."""
import json
import math
from pathlib import Path

import pytest

from course.chapters import ch4_optimizers
from course.cli import run_main
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau
from course.engine.config import RunConfig
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
