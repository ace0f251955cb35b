"""What VisualDL reads from a sweep's records: per-step curves, short run names, one tag set.

Read with VisualDL's own ``LogReader``, as its server does: every run logs its training loss and
rate every ``log_every_n_steps`` optimizer steps at the global step (``train/batch_loss``,
``train/batch_lr``) beside the per-epoch tags, under a display name ('adam lr=0.01'), and a run
interrupted and resumed leaves exactly the records of the run that was never stopped.
"""
import json
import math
from pathlib import Path

import pytest
from visualdl import LogReader

from course.engine.config import RunConfig
from course.engine.experiment import run_experiment
from course.engine.vdl import run_display_name
from course.sweep.grid import Sweep
from course.sweep.runner import run_sweep
from tests.test_resume import interrupt_after_epochs

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"
EPOCH_TAGS = {"loss/train_loss", "loss/val_loss", "metric/train_acc", "metric/val_acc", "optimizer/lr"}
STEP_TAGS = {"train/batch_loss", "train/batch_lr"}
SUMMARY_TAGS = {"trial/best_val_acc", "trial/test_acc", "trial/test_loss"}


def records(run_dir) -> dict:
    """A run's records as VisualDL reads them: its display name, and every scalar tag's
    (step, value) points (NaN as the string 'nan', so that equal runs compare equal)."""
    files = list((Path(run_dir) / "vdl").glob("vdlrecords.*.log"))
    assert len(files) == 1, files
    reader = LogReader(file_path=str(files[0]))
    out = {"name": reader.get_data("meta_data", "meta_data_tag")[0].meta_data.display_name}
    for tag in reader.get_tags()["scalar"]:
        out[tag] = [(r.id, r.value if math.isfinite(r.value) else str(r.value))
                    for r in reader.get_data("scalar", tag)]
    return out


def test_every_run_logs_its_steps_under_a_short_name_with_the_same_tags(tmp_path):
    # 640 images / batch 32 = 20 steps an epoch, 2 epochs, a point every 3 steps: 3, 6, ..., 39.
    # Momentum at a rate of 10,000 blows up within its first steps: its curve must still have the
    # same tags, ending at the step whose loss was not finite.
    base = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=2, batch_size=32, subset=640,
                     val_subset=200, log_every_n_steps=3)
    sweep = Sweep(base, optimizers=[{"optimizer": "sgd", "lr": 0.01}, {"optimizer": "adam", "lr": 0.01},
                                    {"optimizer": "momentum", "lr": 1e4}], logdir=str(tmp_path))
    run_sweep(sweep, jobs=1, progress=False)
    runs = {d.name: records(d) for _, d in sweep.runs()}

    assert {r["name"] for r in runs.values()} == {"sgd lr=0.01", "adam lr=0.01", "momentum lr=10000"}
    tag_sets = [frozenset(r) - {"name"} for r in runs.values()]
    assert tag_sets[0] == EPOCH_TAGS | STEP_TAGS | SUMMARY_TAGS and len(set(tag_sets)) == 1

    for name in ("sgd-lr0.01-seed0", "adam-lr0.01-seed0"):
        steps = [s for h in json.loads((sweep.root / name / "metrics.json").read_text()) for s in h["steps"]]
        loss, lr = runs[name]["train/batch_loss"], runs[name]["train/batch_lr"]
        assert [step for step, _ in loss] == [step for step, _, _ in steps] == list(range(3, 41, 3))
        assert [v for _, v in loss] == pytest.approx([v for _, v, _ in steps], rel=1e-6)
        assert [v for _, v in lr] == pytest.approx([0.01] * 13)
        assert [step for step, _ in runs[name]["loss/val_loss"]] == [1, 2]     # per epoch, kept

    blown = runs["momentum-lr10000-seed0"]["train/batch_loss"]
    kept = [s for h in json.loads((sweep.root / "momentum-lr10000-seed0" / "metrics.json").read_text())
            for s in h["steps"]]
    assert [step for step, _ in blown] == [step for step, _, _ in kept]
    assert all(step % 3 == 0 for step, _ in blown[:-1])
    assert blown[-1][1] == "nan" and blown[-1][0] % 3 != 0    # the step it blew up at (4), off the grid


def test_the_rate_logged_at_a_step_is_the_rate_that_step_used(tmp_path):
    # A per-batch exponential decay: step s (from 1) trains with lr * rate ** ((s - 1) / decay_steps).
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", optimizer="sgd", lr=0.1, epochs=1,
                       batch_size=32, subset=320, val_subset=100, schedule="exponential",
                       schedule_args={"decay_steps": 2, "decay_rate": 0.5}, log_every_n_steps=2)
    run_experiment(config, tmp_path / "run", progress=False)
    lr = records(tmp_path / "run")["train/batch_lr"]
    assert [s for s, _ in lr] == [2, 4, 6, 8, 10]
    assert [v for _, v in lr] == pytest.approx([0.1 * 0.5 ** ((s - 1) / 2) for s, _ in lr], rel=1e-6)


@pytest.mark.parametrize("k", [1, 2])
def test_a_resumed_runs_records_equal_the_uninterrupted_runs(tmp_path, monkeypatch, k):
    # Dropout, Adam moments, a per-batch schedule and a shuffled loader; 10 steps an epoch and a
    # point every 3 steps, so the points do not start afresh with each epoch.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_keras", optimizer="adam", lr=0.01,
                       epochs=3, batch_size=64, subset=640, val_subset=200, seed=7,
                       schedule="exponential", schedule_args={"decay_steps": 5, "decay_rate": 0.8},
                       log_every_n_steps=3)
    run_experiment(config, tmp_path / "whole", progress=False)
    with monkeypatch.context() as m:
        interrupt_after_epochs(m, k)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "cut", progress=False)
    assert [s for s, _ in records(tmp_path / "cut")["train/batch_loss"]] == list(range(3, 10 * k + 1, 3))
    run_experiment(config, tmp_path / "cut", progress=False)

    whole, resumed = records(tmp_path / "whole"), records(tmp_path / "cut")
    assert [s for s, _ in whole["train/batch_loss"]] == list(range(3, 31, 3))
    assert resumed == whole
    assert resumed["name"] == "mlp_keras adam lr=0.01"     # a run of its own: its model first


def test_the_seed_joins_the_name_only_when_the_sweep_has_several(tmp_path):
    config = RunConfig(optimizer="adam", lr=0.01, seed=1)
    assert config.display_name() == "adam lr=0.01"
    assert config.replace(label="plateau", lr=0.001).display_name() == "adam+plateau lr=0.001"

    def name_in(sweep_json, other_seed_run=False):
        root = tmp_path / f"sweep{len(list(tmp_path.iterdir()))}"
        (root / config.run_name()).mkdir(parents=True)
        if other_seed_run:   # the grid's seed 0, beside a confirmation's seed 1
            (root / config.replace(seed=0).run_name()).mkdir()
        (root / "sweep.json").write_text(json.dumps(sweep_json))
        return run_display_name(config, root / config.run_name())

    assert name_in({"seeds": [1]}) == "adam lr=0.01"
    assert name_in({"seeds": [0, 1]}) == "adam lr=0.01 seed=1"
    assert name_in({"seeds": [0], "confirmation": {"seeds": [1, 2]}}) == "adam lr=0.01 seed=1"
    assert name_in({"seeds": [1]}, other_seed_run=True) == "adam lr=0.01 seed=1"
    assert run_display_name(config, tmp_path / "alone" / "run") == "lenet adam lr=0.01"
