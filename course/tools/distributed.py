"""Data-parallel training on several processes (the course's chapter 6, 多卡并行训练).

Start one process per device with Paddle's launcher; every process runs the same script::

    python -m paddle.distributed.launch --nproc_per_node 2 scripts/train_distributed.py   # CPU (gloo)
    python -m paddle.distributed.launch --gpus 0,1 scripts/train_distributed.py           # 2 GPUs (NCCL)

Each process (a *rank*) builds the same model from the same seed, wraps it in
``paddle.DataParallel`` and trains on its own shard of every batch. ``loss.backward()`` then
averages the gradients over all ranks (an all-reduce), so every rank takes the same optimizer step
and the weights stay identical everywhere. ``batch_size`` stays "images per optimizer step": with
2 processes each one computes 32 of a 64-image batch, and the run follows the single-process run's
curve up to floating-point rounding (no dropout) -- the shards of one step together are exactly
the single-process batch.

Only rank 0 writes anything (config, metrics, VisualDL, checkpoints, result); the epoch metrics
every rank logs are summed over all ranks first, so they describe the whole data, and every rank
takes the same early-stopping / learning-rate decisions.
"""
from __future__ import annotations

import os

import numpy as np
import paddle

from course.engine.config import RunConfig
from course.engine.data import DataBundle
from course.engine.errors import ConfigError
from course.engine.trainer import Trainer
from data.batches import ArrayLoader


# --- who am I --------------------------------------------------------------------------------------
def world() -> tuple[int, int]:
    """(rank, world_size) from the launcher's environment; (0, 1) in a plain ``python`` run.

    ``paddle.distributed.launch`` sets ``PADDLE_TRAINER_ID`` and ``PADDLE_TRAINERS_NUM`` in every
    process it starts. Read here (not from ``paddle.distributed.get_rank()``) so the answer is
    known before, and without, ``init_parallel_env``.
    """
    try:
        rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
        size = int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))
    except ValueError:
        raise ConfigError("PADDLE_TRAINER_ID / PADDLE_TRAINERS_NUM must be integers, got "
                          f"{os.environ.get('PADDLE_TRAINER_ID')!r} / "
                          f"{os.environ.get('PADDLE_TRAINERS_NUM')!r}") from None
    if size < 1 or not 0 <= rank < size:
        raise ConfigError(f"rank {rank} does not fit world size {size} "
                          "(PADDLE_TRAINER_ID / PADDLE_TRAINERS_NUM)")
    return rank, size


def is_main_process() -> bool:
    """True on rank 0, the only process that writes files and prints progress."""
    return world()[0] == 0


def init_distributed(device: str) -> tuple[int, int]:
    """Join the process group (gloo on CPU, NCCL on GPU) when launched with several processes.

    ``device`` is what ``course.engine.device.resolve_device`` chose; on GPUs each rank takes the card the
    launcher gave it (``--gpus 0,1``: rank 0 -> the first, rank 1 -> the second). Returns
    (rank, world_size); with one process nothing is initialised and nothing is needed.
    """
    rank, size = world()
    if device.startswith("gpu") and size > 1:
        device = f"gpu:{paddle.distributed.ParallelEnv().device_id}"
    paddle.set_device(device)
    if size > 1:
        paddle.distributed.init_parallel_env()
    return rank, size


def all_reduce_sum(values, world_size: int) -> list[float]:
    """Sum a few Python floats over all ranks (float64, so counts stay exact)."""
    if world_size == 1:
        return [float(v) for v in values]
    tensor = paddle.to_tensor(np.asarray(values, dtype="float64"))
    paddle.distributed.all_reduce(tensor)
    return [float(v) for v in tensor.numpy()]


# --- each rank's share of the data -----------------------------------------------------------------
def shard_data(data: DataBundle, rank: int, world_size: int) -> DataBundle:
    """This rank's view of ``data``: sharded train batches, sharded validation and test.

    MNIST's ``ArrayLoader`` is sharded by ``ArrayLoader.shard`` (batch k of rank r is the r-th
    stride of the single-process batch k); a ``paddle.io.DataLoader`` (image folders) is rebuilt
    on a ``paddle.io.DistributedBatchSampler``.
    """
    if world_size == 1:
        return data

    def shard(loader, train: bool):
        if loader is None:
            return None
        if isinstance(loader, ArrayLoader):
            return loader.shard(rank, world_size, pad=train)
        if isinstance(loader, paddle.io.DataLoader):
            return _distributed_dataloader(loader, rank, world_size, train)
        raise ConfigError(f"cannot shard a {type(loader).__name__} over processes")

    return DataBundle(train=shard(data.train, True), val=shard(data.val, False),
                      test=shard(data.test, False), num_classes=data.num_classes,
                      input_shape=data.input_shape, classes=data.classes)


class _EpochedLoader:
    """A DataLoader on a DistributedBatchSampler that reshuffles each epoch (``set_epoch``)."""

    def __init__(self, loader, sampler):
        self.loader, self.sampler, self.epoch = loader, sampler, 0
        self.num_samples = sampler.num_samples

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)   # same seed + epoch on every rank: one permutation
        self.epoch += 1
        return iter(self.loader)


def _distributed_dataloader(loader, rank, world_size, train):
    batch_size = loader.batch_sampler.batch_size
    if batch_size % world_size:
        raise ConfigError(f"batch size {batch_size} must be divisible by the number of processes "
                          f"({world_size})")
    # Evaluation is also padded here (the sampler always pads); at most W-1 images count twice.
    sampler = paddle.io.DistributedBatchSampler(
        loader.dataset, batch_size=batch_size // world_size, num_replicas=world_size, rank=rank,
        shuffle=train, drop_last=False)
    rebuilt = paddle.io.DataLoader(loader.dataset, batch_sampler=sampler,
                                   num_workers=loader.num_workers)
    return _EpochedLoader(rebuilt, sampler)


# --- the trainer, with metrics over all ranks ------------------------------------------------------
class DistributedTrainer(Trainer):
    """A ``Trainer`` whose epoch metrics are summed over all ranks before anyone sees them.

    The training step itself is the plain Trainer's: ``model`` is a ``paddle.DataParallel``, whose
    ``backward`` averages the gradients. What changes is bookkeeping: a rank's own loss and
    accuracy cover only its shard, so they are all-reduced (weighted by samples) and every rank
    logs, checks divergence and runs its callbacks on the same numbers.
    """

    world_size = 1

    @classmethod
    def from_trainer(cls, trainer: Trainer, world_size: int) -> "DistributedTrainer":
        """The trainer ``build_training`` made, with distributed bookkeeping."""
        new = cls.__new__(cls)
        new.__dict__.update(trainer.__dict__)
        new.world_size = world_size
        return new

    def train_epoch(self, batches, epoch: int = 0):
        # The plain loop stops at the first NaN loss. A rank leaving its loop alone would leave the
        # others blocked in the next all-reduce, so here the whole epoch runs and the all-reduced
        # (NaN) train loss marks the run diverged on every rank at once.
        check, self.check_divergence = self.check_divergence, False
        try:
            loss, acc = super().train_epoch(batches, epoch)
        finally:
            self.check_divergence = check
        return self._global(loss, acc, batches)

    def evaluate(self, batches):
        loss, acc = super().evaluate(batches)
        return self._global(loss, acc, batches)

    def _global(self, loss, acc, batches):
        if self.world_size == 1:
            return loss, acc
        n = getattr(batches, "num_samples", 1)
        loss_sum, correct, seen = all_reduce_sum([loss * n, acc * n, n], self.world_size)
        return loss_sum / max(seen, 1), correct / max(seen, 1)


# --- one run -----------------------------------------------------------------------------------------
class DataParallel:
    """The placement of a launched multi-process run (see ``course.engine.experiment.SingleProcess``).

    Every rank trains on its shard of each batch; only rank 0 writes config.json, metrics,
    vdl/, last.pdckpt, model.pdparams and result.json (and best.pdckpt with ``checkpoint='best'``).
    """

    def __init__(self):
        self.rank, self.size = world()
        self.writes = self.rank == 0

    def start(self, device_name: str) -> str:
        """Resolve the device and join the process group; return the device."""
        from course.engine.device import resolve_device

        device = resolve_device(device_name)
        self.rank, self.size = init_distributed(device)
        return device

    def prepare(self, data: DataBundle) -> DataBundle:
        """This rank's shard of the run's data."""
        return shard_data(data, self.rank, self.size)

    def wrap_trainer(self, trainer: Trainer) -> Trainer:
        """Wrap the model in paddle.DataParallel and the trainer in a DistributedTrainer; only
        rank 0 keeps its checkpoint callback."""
        from course.engine.callbacks.model_checkpoint import ModelCheckpoint

        if not self.writes:  # a checkpoint callback without a run_dir would write into the cwd
            trainer.callbacks = [cb for cb in trainer.callbacks if not isinstance(cb, ModelCheckpoint)]
        if self.size > 1:
            trainer.model = paddle.DataParallel(trainer.model)  # backward() averages gradients
        return DistributedTrainer.from_trainer(trainer, self.size)

    def add_to_result(self, result: dict) -> dict:
        """Add the number of processes and each one's share of a batch to the run's result."""
        result.update(world_size=self.size, batch_per_process=result["batch_size"] // self.size)
        return result


def run_dir_for(config: RunConfig, logdir, world_size: int):
    """'<logdir>/<dataset>-<model>/<optimizer>-lr<lr>-seed<seed>-<N>proc': runs with other numbers
    of processes are other runs."""
    from pathlib import Path

    return Path(logdir) / config.group_name() / f"{config.run_name()}-{world_size}proc"


def run_distributed(config: RunConfig, run_dir, progress: bool = True, log_visualdl: bool = True) -> dict:
    """``course.engine.experiment.run_experiment`` on every launched process; only rank 0 writes.

    Every rank trains and returns the same result dict. A restarted run continues from
    last.pdckpt with the same number of processes; run with one process (plain ``python``) it
    is an ordinary run.
    """
    from course.engine.experiment import run_experiment

    return run_experiment(config, run_dir, progress, log_visualdl, placement=DataParallel())
