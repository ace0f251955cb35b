"""Mini-batches straight from in-memory arrays: the one loader of the trainer, the data-parallel
chapter and the course's ``load_data``.

MNIST is small enough to live in memory, so batches are sliced straight out of NumPy arrays: no
per-sample Python work and no collate, which is what keeps the training loop close to the speed
of training on preloaded tensors (``paddle.io.DataLoader`` costs ~100x more per MNIST epoch).

Sharding for data-parallel training (the course's chapter 6, 多卡并行训练) is a view of the same
loader: every rank draws the same permutation from the same seed and takes every W-th image of
it, so the shards of one step together are exactly the single-process batch.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from data.errors import DataError


class ArrayLoader:
    """Batches of (float32 images reshaped to ``image_shape``, int64 labels) from arrays.

    Re-iterable, one epoch per iteration, the last partial batch kept. With ``shuffle`` (train
    data only) every epoch visits the images in a new order drawn from the loader's own seeded
    NumPy generator; ``state_dict`` / ``set_state_dict`` save and restore that generator, so a
    resumed run sees the same order as an uninterrupted one. ``shard`` gives one process's part
    of every batch for data-parallel training.

    Example:
        >>> train = ArrayLoader(images, labels, batch_size=64, shuffle=True, seed=0)
        >>> for x, y in train:          # x float32 [64, 1, 28, 28], y int64 [64]
        ...     step(x, y)
        >>> mine = train.shard(rank=1, world_size=2)   # 32 of every 64, same order

    Args:
        images: array [N, ...] whose rows hold ``prod(image_shape)`` values each.
        labels: array [N] (or [N, 1]: batches of labels then keep that shape).
        batch_size: images per batch, a positive int.
        shuffle: a new random order every epoch; False keeps the arrays' order.
        seed: seed of the shuffling generator (None: a fresh, unseeded one).
        image_shape: shape of one yielded image, e.g. (1, 28, 28) for CNNs or (784,) for MLPs.
    """

    def __init__(self, images, labels, batch_size, shuffle=False, seed=0, image_shape=(1, 28, 28)):
        if len(images) != len(labels):
            raise DataError(f"ArrayLoader: {len(images)} images but {len(labels)} labels; "
                            "they must have the same length")
        check_batch_size(batch_size, "ArrayLoader")
        self.images, self.labels = images, np.asarray(labels, dtype="int64")
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.image_shape = tuple(image_shape)
        self.rng = np.random.default_rng(seed)
        self.rank, self.world_size, self.pad = 0, 1, True

    @property
    def num_samples(self) -> int:
        """Images this loader yields per epoch (a shard's padding included)."""
        count = len(self.images)
        if self.pad:
            count = -(-count // self.world_size) * self.world_size
        return len(range(self.rank, count, self.world_size))

    def __len__(self):
        return -(-self.num_samples // self.batch_size)

    def __iter__(self):
        n = len(self.images)
        order = self.rng.permutation(n) if self.shuffle else None
        if order is None and self.world_size == 1:
            mine = None   # in order: slices are views, no gather at all
        else:
            mine = shard_indices(np.arange(n) if order is None else order,
                                 self.rank, self.world_size, self.pad)
        for start in range(0, self.num_samples, self.batch_size):
            if mine is None:
                sel = slice(start, start + self.batch_size)
            else:
                # Sorted: a faster gather, and the same batch.
                sel = np.sort(mine[start:start + self.batch_size])
            x = np.ascontiguousarray(self.images[sel], dtype="float32")
            yield x.reshape((-1, *self.image_shape)), self.labels[sel]

    def state_dict(self) -> dict:
        """The shuffling generator's state, ``{"rng": ...}``, to save with a checkpoint."""
        return {"rng": self.rng.bit_generator.state}

    def set_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned: the next epoch continues the saved order."""
        self.rng.bit_generator.state = state["rng"]

    def shard(self, rank: int, world_size: int, pad: bool = True) -> ArrayLoader:
        """This process's view: ``batch_size // world_size`` images of every batch.

        The view keeps the same arrays and the SAME generator object (shared, not copied), so
        it draws the permutation every rank draws, and saving or restoring either one's state
        moves both. Batch k of rank r is the r-th stride of the single-process batch k.

        Example:
            >>> loader = ArrayLoader(images, labels, batch_size=64, shuffle=True, seed=0)
            >>> mine = loader.shard(rank, world_size=2)              # training: padded
            >>> val = ArrayLoader(vx, vy, 100).shard(rank, 2, pad=False)  # each image once

        Args:
            rank: this process, 0 <= rank < world_size.
            world_size: the number of processes; must divide ``batch_size``.
            pad: give every rank the same number of batches (training: a rank with one step
                fewer would leave the others waiting in the gradient all-reduce); False for
                evaluation, where the shards are disjoint and cover the data exactly.
        """
        _check_rank(rank, world_size)
        if self.world_size != 1:
            raise DataError(f"ArrayLoader.shard: this loader is already rank {self.rank} of "
                            f"{self.world_size}; shard the single-process loader")
        if self.batch_size % world_size:
            raise DataError(f"batch size {self.batch_size} must be divisible by the number of "
                            f"processes ({world_size}): each one computes an equal share of it")
        part = copy.copy(self)   # shallow: the arrays and the generator are shared
        part.rank, part.world_size, part.pad = rank, world_size, pad
        part.batch_size = self.batch_size // world_size
        return part


def shard_indices(order, rank: int, world_size: int, pad: bool = True) -> np.ndarray:
    """Rank ``rank``'s share of ``order``: positions rank, rank + W, rank + 2W, ...

    Like ``paddle.io.DistributedBatchSampler``: with ``pad`` the order is first extended with its
    own first elements to a multiple of W, so every rank gets the same number of samples.
    Without ``pad`` the shards are disjoint and cover ``order`` exactly.

    Example:
        >>> shard_indices(np.arange(5), rank=1, world_size=2)
        array([1, 3, 0])

    Args:
        order: the epoch's order of sample indices, array [N].
        rank: this process, 0 <= rank < world_size.
        world_size: the number of processes.
        pad: repeat the first elements so that every rank's share has ceil(N / W) samples.
    """
    _check_rank(rank, world_size)
    order = np.asarray(order)
    if pad and len(order) % world_size:
        extra = world_size - len(order) % world_size
        order = np.concatenate([order, np.resize(order, extra)])
    return order[rank::world_size]


def check_batch_size(batch_size, where):
    """Raise DataError unless ``batch_size`` is a positive int (bools and floats are refused).

    Example:
        >>> check_batch_size(0, "load_data")   # DataError: load_data: batch_size must be ...

    Args:
        batch_size: the value to check.
        where: the caller's name; it starts the message.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise DataError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")


def _check_rank(rank, world_size):
    """Raise DataError unless ``0 <= rank < world_size`` (integers)."""
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
               for n in (rank, world_size)) or world_size < 1 or not 0 <= rank < world_size:
        raise DataError(f"rank {rank!r} does not fit world size {world_size!r}")
