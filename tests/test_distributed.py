"""Data-parallel training: shards, rank-0-only files, and a real 2-process run on the CPU (gloo)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.tools.distributed import DistributedTrainer, _distributed_dataloader, run_distributed, world
from data.batches import ArrayLoader, shard_indices
from data.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "mnist_small.npz"
SCRIPT = ROOT / "scripts" / "train_distributed.py"
RUN_FILES = {"config.json", "metrics.json", "metrics.csv", "last.pdckpt", "model.pdparams", "result.json"}


def clean_env():
    """This environment without the launcher's variables (a test run under a launcher stays rank 0)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PADDLE_", "FLAGS_selected"))}


# --- (b) sharding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n,world_size", [(10, 2), (11, 2), (11, 3), (2, 4)])
def test_evaluation_shards_are_disjoint_and_cover_the_data(n, world_size):
    order = np.random.default_rng(0).permutation(n)
    shards = [shard_indices(order, r, world_size, pad=False) for r in range(world_size)]
    joined = np.concatenate(shards)
    assert len(joined) == n and sorted(joined) == list(range(n))


@pytest.mark.parametrize("n,world_size", [(10, 2), (11, 2), (11, 3), (2, 4)])
def test_training_shards_have_equal_sizes_and_cover_the_data(n, world_size):
    # Equal sizes, or a rank with one step fewer would leave the others waiting in all-reduce.
    order = np.random.default_rng(1).permutation(n)
    shards = [shard_indices(order, r, world_size) for r in range(world_size)]
    assert len({len(s) for s in shards}) == 1
    assert set(np.concatenate(shards)) == set(range(n))
    assert sum(map(len, shards)) - n < world_size          # padding: fewer than W repeats


def test_rank_batches_together_are_the_single_process_batch():
    images = np.arange(20 * 4, dtype="float32").reshape(20, 4)
    labels = np.arange(20)

    def loader():
        return ArrayLoader(images, labels, batch_size=8, shuffle=True, seed=5, image_shape=(4,))

    single = [set(y) for _, y in loader()]
    ranks = [list(loader().shard(r, 2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(single) == 3
    for k, batch in enumerate(single):
        parts = [set(ranks[r][k][1]) for r in range(2)]
        assert not parts[0] & parts[1] and parts[0] | parts[1] == batch
        assert all(len(ranks[r][k][1]) == len(batch) // 2 for r in range(2))
    # Same generator on every rank: the second epoch is another, shared permutation.
    a, b = loader().shard(0, 2), loader().shard(1, 2)
    list(a), list(b)
    epoch2 = [set(y) for _, y in a] + [set(y) for _, y in b]
    assert set().union(*epoch2) == set(range(20))


def test_batch_size_must_split_evenly_over_processes():
    base = ArrayLoader(np.zeros((6, 4), "float32"), np.zeros(6), batch_size=5, image_shape=(4,))
    with pytest.raises(DataError, match="batch size 5 must be divisible by the number of processes"):
        base.shard(0, 2)


def test_folder_loaders_are_rebuilt_on_a_distributed_batch_sampler():
    dataset = paddle.io.TensorDataset([paddle.arange(10, dtype="float32").reshape([10, 1]),
                                       paddle.arange(10).reshape([10, 1])])
    loader = paddle.io.DataLoader(dataset, batch_size=4, shuffle=True)
    ranks = [_distributed_dataloader(loader, r, 2, train=True) for r in range(2)]
    for epoch in range(2):
        seen = [np.concatenate([y.numpy().ravel() for _, y in rank]) for rank in ranks]
        assert len(seen[0]) == len(seen[1]) == 5
        assert set(seen[0]) | set(seen[1]) == set(range(10)) and not set(seen[0]) & set(seen[1])
        if epoch == 0:
            first = seen[0]
    assert list(seen[0]) != list(first)                   # set_epoch reshuffled the second epoch


# --- (c) who writes ---------------------------------------------------------------------------------
def test_rank_and_world_size_come_from_the_launcher_environment(monkeypatch):
    monkeypatch.delenv("PADDLE_TRAINER_ID", raising=False)
    monkeypatch.delenv("PADDLE_TRAINERS_NUM", raising=False)
    assert world() == (0, 1)
    monkeypatch.setenv("PADDLE_TRAINER_ID", "1")
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    assert world() == (1, 2)
    monkeypatch.setenv("PADDLE_TRAINER_ID", "2")
    with pytest.raises(ConfigError, match="rank 2 does not fit world size 2"):
        world()


def test_one_process_run_matches_an_ordinary_run(tmp_path, monkeypatch):
    monkeypatch.delenv("PADDLE_TRAINER_ID", raising=False)
    monkeypatch.delenv("PADDLE_TRAINERS_NUM", raising=False)
    from course.engine.experiment import run_experiment
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", optimizer="adam", lr=0.001,
                       epochs=1, subset=512, val_subset=300)
    ours = run_distributed(config, tmp_path / "dist", progress=False, log_visualdl=False)
    plain = run_experiment(config, tmp_path / "plain", progress=False, log_visualdl=False)
    assert ours["world_size"] == 1 and ours["final_val_acc"] == plain["final_val_acc"]
    assert RUN_FILES <= {p.name for p in (tmp_path / "dist").iterdir()}


def test_rank_1_trains_but_writes_nothing(tmp_path, monkeypatch):
    # Rank 1 of 2 in this one process: the collectives are faked (the other rank is pretended to
    # hold the same numbers), everything else is the real run, checkpoint callback included.
    import course.tools.distributed as distributed
    monkeypatch.setenv("PADDLE_TRAINER_ID", "1")
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    monkeypatch.setattr(distributed, "init_distributed", lambda device: (1, 2))
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda values, size: [v * size for v in values])
    monkeypatch.setattr(paddle, "DataParallel", lambda layer: layer)
    monkeypatch.chdir(tmp_path)
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", optimizer="adam", lr=0.001,
                       epochs=2, subset=512, val_subset=300, checkpoint="best")
    result = run_distributed(config, tmp_path / "run", progress=False)
    assert result["epochs_run"] == 2 and result["world_size"] == 2 and result["final_val_acc"] > 0.5
    assert list(tmp_path.iterdir()) == []                  # no run directory, nothing in the cwd
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    monkeypatch.setattr(distributed, "init_distributed", lambda device: (0, 2))
    run_distributed(config, tmp_path / "run", progress=False, log_visualdl=False)
    assert RUN_FILES | {"best.pdckpt"} <= {p.name for p in (tmp_path / "run").iterdir()}


def test_distributed_trainer_keeps_the_built_trainer():
    from course.engine.trainer import Trainer
    model = paddle.nn.Linear(2, 2)
    plain = Trainer(model, paddle.optimizer.SGD(0.1, parameters=model.parameters()), seed=7)
    wrapped = DistributedTrainer.from_trainer(plain, 1)
    assert wrapped.model is model and wrapped.seed == 7 and wrapped.world_size == 1


# --- (a) two real processes -------------------------------------------------------------------------
def test_two_processes_follow_the_one_process_curve_and_only_rank_0_writes(tmp_path, monkeypatch):
    monkeypatch.delenv("PADDLE_TRAINER_ID", raising=False)
    monkeypatch.delenv("PADDLE_TRAINERS_NUM", raising=False)
    flags = ["--dataset", f"mnist:{FIXTURE}", "--model", "mlp_relu", "--optimizer", "adam",
             "--lr", "0.001", "--subset", "2048", "--val-subset", "1000", "--epochs", "2",
             "--batch-size", "64", "--checkpoint", "best", "--no-progress"]
    cwd = tmp_path / "cwd"          # every rank's working directory: must stay empty
    cwd.mkdir()
    launch = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", str(tmp_path / "launch-logs"), str(SCRIPT), *flags, "--logdir", str(tmp_path / "two")],
        cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=180)
    worker_logs = "\n".join(p.read_text(errors="replace")[-2000:]
                            for p in sorted((tmp_path / "launch-logs").glob("workerlog.*")))
    assert launch.returncode == 0, launch.stdout[-2000:] + launch.stderr[-2000:] + worker_logs

    (two_dir,) = (tmp_path / "two").glob("*/*")              # exactly one run directory
    assert two_dir.name.endswith("-2proc")
    assert {p.name for p in two_dir.iterdir()} == RUN_FILES | {"best.pdckpt", "vdl"}
    assert len(list((two_dir / "vdl").iterdir())) == 1       # one VisualDL record file: rank 0's
    assert list(cwd.iterdir()) == []
    assert "final val_acc" not in (tmp_path / "launch-logs" / "workerlog.1").read_text()

    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", optimizer="adam", lr=0.001,
                       epochs=2, batch_size=64, subset=2048, val_subset=1000, checkpoint="best")
    one = run_distributed(config, tmp_path / "one", progress=False, log_visualdl=False)
    two = json.loads((two_dir / "result.json").read_text())
    assert two["world_size"] == 2 and two["batch_per_process"] == 32
    assert one["final_val_acc"] > 0.8 and two["final_val_acc"] > 0.8
    assert abs(one["final_val_acc"] - two["final_val_acc"]) <= 0.05
    # Same batches split in two, gradients averaged: the same curve up to float rounding.
    two_history = json.loads((two_dir / "metrics.json").read_text())
    one_history = json.loads((tmp_path / "one" / "metrics.json").read_text())
    for a, b in zip(one_history, two_history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)


def test_script_help_works():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True,
                         timeout=60, env=clean_env())
    assert out.returncode == 0 and "--nproc_per_node 2" in out.stdout and "(default: 64)" in out.stdout
