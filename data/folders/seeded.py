"""Shuffling and augmentation that depend on the seed, the epoch and the image, never on the worker.

``paddle.io.DataLoader`` shuffles with a sampler that draws from a process-wide generator, and
each of its worker processes reseeds Python's ``random`` (what augmentations draw from) from a
base seed the loader draws anew at every epoch. The images a run trains on then change with
``num_workers`` and with whatever drew random numbers before, and a resumed run cannot see the
images the uninterrupted one saw.

Here an epoch's order is a permutation drawn from ``(seed, epoch)`` alone, and the random draws
of every image come from generators seeded with ``(seed, epoch, index)`` just before its
transform runs, in whichever process loads it. The batches are then the same with 0, 2 or 8
loader workers, and saving the epoch counter (``state_dict``) is all a resume needs.

Example:
    >>> loader = seeded_loader(train_dataset, batch_size=32, seed=0, num_workers=2)
    >>> for images, labels in loader: ...      # epoch 0's order and augmentations
    >>> saved = loader.state_dict()            # {'epoch': 1}
"""
from __future__ import annotations

import random

import numpy as np
import paddle

from data.batches import check_batch_size


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one image's random draws in one epoch (a 32-bit int, as NumPy's seed takes)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class SeededBatchSampler:
    """Batches of ``(index, epoch)`` keys in an order drawn from ``(seed, epoch)``.

    Every ``iter()`` is one epoch and moves the counter on, so the same sampler gives a new order
    each epoch; ``state_dict``/``set_state_dict`` save and restore the counter.

    Args:
        size: number of images.
        batch_size: images per batch (the last batch keeps what is left unless ``drop_last``).
        seed: seed of the order (the run's seed).
        shuffle: False keeps the images in file order (the keys still carry the epoch).
        drop_last: drop a last, smaller batch.
    """

    def __init__(self, size: int, batch_size: int, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = False):
        check_batch_size(batch_size, "SeededBatchSampler")
        self.size, self.batch_size, self.seed = int(size), int(batch_size), int(seed)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch = 0

    def order(self, epoch: int) -> np.ndarray:
        """The image indices of ``epoch`` in the order they are trained on."""
        if not self.shuffle:
            return np.arange(self.size)
        return np.random.default_rng([self.seed, epoch]).permutation(self.size)

    def __iter__(self):
        epoch, order = self.epoch, self.order(self.epoch)
        self.epoch += 1   # when the epoch starts: the loader's workers prefetch from it at once
        for number in range(len(self)):
            batch = order[number * self.batch_size:(number + 1) * self.batch_size]
            yield [(int(index), epoch) for index in batch]

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def state_dict(self) -> dict:
        """``{'epoch': n}``: the next ``iter()`` gives epoch n's order."""
        return {"epoch": self.epoch}

    def set_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""
        self.epoch = int(state["epoch"])


class SeededDraws(paddle.io.Dataset):
    """A dataset whose items, asked for as ``(index, epoch)``, draw their randomness from
    ``sample_seed(seed, epoch, index)``: Python's ``random`` and NumPy's global generator (what
    ``paddle.vision.transforms`` draw from) are seeded with it before the item's transform.
    Python's is put back afterwards, so the caller's own draws are untouched; NumPy's is left at
    the last image's seed, since saving and restoring it costs several times the seeding itself
    (a noticeable share of loading and augmenting a small image) and nothing in this project
    draws from it
    (shuffling and splits have generators of their own). Asked for by a plain index, an item
    draws as the wrapped dataset would.

    Its other attributes (``samples``, ``classes``, ``skipped``, ...) are the wrapped dataset's.

    Args:
        dataset: a map-style dataset (e.g. ``ImageFolderDataset`` with a random transform).
        seed: the run's seed.
    """

    def __init__(self, dataset, seed: int = 0):
        super().__init__()
        self.dataset, self.seed = dataset, int(seed)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            return self.dataset[key]
        index, epoch = key
        saved = random.getstate()
        seed = sample_seed(self.seed, epoch, index)
        random.seed(seed)
        np.random.seed(seed)
        try:
            return self.dataset[index]
        finally:
            random.setstate(saved)

    def __getattr__(self, name):
        # Only called for names this wrapper lacks; dunders stay unresolved (pickling asks for them).
        if name.startswith("__") or name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


class SeededLoader(paddle.io.DataLoader):
    """A ``paddle.io.DataLoader`` over ``SeededDraws`` batched by a ``SeededBatchSampler``, with
    the sampler's ``state_dict``/``set_state_dict`` (what a run's checkpoint saves of its data)."""

    def state_dict(self) -> dict:
        """The sampler's epoch counter."""
        return self.batch_sampler.state_dict()

    def set_state_dict(self, state: dict) -> None:
        """Continue from a saved epoch counter."""
        self.batch_sampler.set_state_dict(state)


def seeded_loader(dataset, batch_size: int, seed: int = 0, shuffle: bool = True,
                  drop_last: bool = False, num_workers: int = 0) -> SeededLoader:
    """A loader whose batches depend only on ``seed`` and the epoch, whatever ``num_workers``."""
    sampler = SeededBatchSampler(len(dataset), batch_size, seed, shuffle, drop_last)
    return SeededLoader(SeededDraws(dataset, seed), batch_sampler=sampler, num_workers=num_workers)
