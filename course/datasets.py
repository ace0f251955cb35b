"""Turn a run's ``dataset`` setting into batches the trainer can loop over.

MNIST is small enough to live in memory, so its batches are sliced straight out of NumPy arrays
(``ArrayLoader``): no per-sample Python work, which is what keeps our loop close to the speed of
training on preloaded tensors. Image folders go through ``paddle.io.DataLoader`` (decoding and
augmentation are per image, and worker processes help there).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.config import RunConfig
from course.errors import ConfigError


class ArrayLoader:
    """Batches of (images reshaped to ``image_shape``, int64 labels) from in-memory arrays.

    Re-iterable, one epoch per iteration; shuffled by its own seeded NumPy generator when
    ``shuffle`` (train data only), and its generator state can be saved and restored so a
    resumed run sees the same order as an uninterrupted one. The last partial batch is kept.
    """

    def __init__(self, images, labels, batch_size, shuffle=False, seed=0, image_shape=(1, 28, 28)):
        if len(images) != len(labels):
            raise ConfigError(f"{len(images)} images but {len(labels)} labels")
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        self.images, self.labels = images, np.asarray(labels, dtype="int64")
        self.batch_size, self.shuffle, self.image_shape = int(batch_size), shuffle, tuple(image_shape)
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __iter__(self):
        n = len(self.images)
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                sel = slice(start, start + self.batch_size)
            else:
                sel = np.sort(order[start:start + self.batch_size])  # sorted: faster gather, same batch
            x = np.ascontiguousarray(self.images[sel], dtype="float32")
            yield x.reshape((-1, *self.image_shape)), self.labels[sel]

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def set_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


@dataclass
class DataBundle:
    train: object            # iterable of (images, labels) batches with len()
    val: object
    test: object | None
    num_classes: int
    input_shape: tuple       # (C, H, W) of one image
    classes: list


def load_dataset(config: RunConfig, progress: bool = True) -> DataBundle:
    """Load the data a run config names: 'mnist', 'mnist:PATH' or 'folder:PATH'."""
    kind, _, path = config.dataset.partition(":")
    if kind == "mnist":
        return _mnist(config, path or None, progress)
    if kind == "folder":
        if not path:
            raise ConfigError("dataset 'folder:' needs a path, e.g. --dataset folder:~/photos")
        return _folder(config, path)
    raise ConfigError(f"unknown dataset {config.dataset!r}; use 'mnist', 'mnist:PATH/mnist.json.gz' "
                      "or 'folder:PATH'")


def _take(split, n):
    images, labels = split
    if n < 0:
        raise ConfigError(f"subset sizes must be >= 0, got {n}")
    return (images[:n], labels[:n]) if n else (images, labels)


def _mnist(config: RunConfig, path, progress: bool) -> DataBundle:
    from data.mnist import load_mnist

    splits = load_mnist(path=path, cache_dir=config.data_cache or None, progress=progress)
    train = _take(splits.train, config.subset)
    val = _take(splits.valid, config.val_subset)
    eval_bs = max(config.batch_size, 100)  # measured: LeNet evaluates fastest at ~100 on a CPU
    return DataBundle(
        train=ArrayLoader(*train, config.batch_size, shuffle=True, seed=config.seed),
        val=ArrayLoader(*val, eval_bs), test=ArrayLoader(*splits.eval, eval_bs),
        num_classes=10, input_shape=(1, 28, 28), classes=[str(i) for i in range(10)])


def _folder(config: RunConfig, path) -> DataBundle:
    from data.image_folder import make_loaders

    size = config.image_size or 64
    loaders = make_loaders(path, image_size=(size, size), batch_size=config.batch_size,
                           validation_split=config.validation_split, seed=config.split_seed,
                           augment=config.augment, num_workers=config.num_workers)
    classes = list(loaders["classes"])
    return DataBundle(train=loaders["train"], val=loaders["val"], test=loaders.get("test"),
                      num_classes=len(classes), input_shape=(3, size, size), classes=classes)
