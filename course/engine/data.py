"""Turn a run's ``dataset`` setting into the batches the trainer loops over.

MNIST is small enough to live in memory, so its batches are sliced straight out of NumPy arrays
(``data.batches.ArrayLoader``): no per-sample Python work, which is what keeps our loop close to
the speed of training on preloaded tensors. Image folders go through ``paddle.io.DataLoader``
(decoding and augmentation are per image, and worker processes help there).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from course.engine.errors import ConfigError
from data.batches import ArrayLoader

FOLDER_IMAGE_SIZE = 64       # an image folder's side in pixels when the config says 0
MNIST_EVAL_BATCH = 100       # measured: LeNet evaluates fastest at about 100 images a batch on a CPU
AUTO_LOADER_WORKERS = -1     # --num-workers -1: chosen from the cores this run has (loader_workers)
# Decoding and augmenting a batch of photos rarely needs more processes than this to keep one GPU busy.
MAX_AUTO_LOADER_WORKERS = 8


@dataclass
class DataBundle:
    """A run's data: train/val/test batches and what a model needs to know about them."""

    train: object            # iterable of (images, labels) batches with len()
    val: object
    test: object | None
    num_classes: int
    input_shape: tuple       # (C, H, W) of one image
    classes: list

    def describe(self) -> str:
        """'20,000 training, 10,000 validation and 10,000 test images (10 classes)'."""
        sizes = [f"{_size(self.train):,} training", f"{_size(self.val):,} validation"]
        if self.test is not None:
            sizes.append(f"{_size(self.test):,} test")
        return f"{', '.join(sizes[:-1])} and {sizes[-1]} images ({self.num_classes} classes)"

    def sizes(self) -> tuple[int, int]:
        """(training images, validation images)."""
        return _size(self.train), _size(self.val)


def _size(loader) -> int:
    # ArrayLoader counts its images; a paddle.io.DataLoader's dataset does.
    return loader.num_samples if hasattr(loader, "num_samples") else len(loader.dataset)


def load_dataset(config, progress: bool = True) -> DataBundle:
    """Load the data a (validated) RunConfig names: 'mnist', 'mnist:PATH' or 'folder:PATH'."""
    kind, _, path = config.dataset.partition(":")
    path = os.path.expanduser(path)   # 'folder:~/photos', as --help shows it
    if kind == "mnist":
        return _mnist(config, path or None, progress)
    return _folder(config, path)


def _mnist(config, path, progress: bool) -> DataBundle:
    from data.mnist import load_mnist

    if path is not None and not os.path.isfile(path):   # the flag's name, not only the file's
        problem = "is a directory" if os.path.isdir(path) else "no such file"
        raise ConfigError(f"--dataset: {path}: {problem} (expected the course's gzip-JSON "
                          "mnist.json.gz, or an .npz of its splits)")
    splits = load_mnist(path=path, cache_dir=config.data_cache or None, progress=progress)
    train = _first(splits.train, config.subset, "--subset", "training")
    val = _first(splits.val, config.val_subset, "--val-subset", "validation")
    _check_two_classes(splits.train[1], config.replace(subset=0), path)
    _check_two_classes(train[1], config, path)
    eval_batch = max(config.batch_size, MNIST_EVAL_BATCH)
    return DataBundle(
        train=ArrayLoader(*train, config.batch_size, shuffle=True, seed=config.seed),
        val=ArrayLoader(*val, eval_batch), test=ArrayLoader(*splits.test, eval_batch),
        num_classes=10, input_shape=(1, 28, 28), classes=[str(i) for i in range(10)])


def _first(split, n: int, flag: str, what: str):
    images, labels = split
    if n > len(images):
        raise ConfigError(f"{flag}: {n:,} is more than the {len(images):,} {what} images there are "
                          "(0 = all of them)")
    return (images[:n], labels[:n]) if n else (images, labels)


def _check_two_classes(labels, config, path) -> None:
    """A training set of one class trains to a meaningless 100%: refuse it, naming the flag."""
    import numpy as np

    found = np.unique(labels)
    if len(found) >= 2:
        return
    which = f"the first {len(labels):,} training images" if config.subset else \
        f"the {len(labels):,} training images of {path or 'MNIST'}"
    what = f"are all labelled {found[0]}" if len(found) else "hold no image"
    raise ConfigError(f"{'--subset' if config.subset else '--dataset'}: {which} {what}; a classifier "
                      "needs at least two classes to learn")


def loader_workers(setting: int, cores: int | None = None) -> int:
    """The DataLoader worker processes of an image-folder run: ``setting``, or for -1 (auto) one
    per core this run has, less one for the training loop, at most ``MAX_AUTO_LOADER_WORKERS``.

    The cores a run has are ``cores``, else ``OMP_NUM_THREADS`` (``device.set_cpu_threads`` sets
    it to each sweep run's share, local or on Ray: one per core when ``--jobs`` fills the CPU, so
    0 workers there), else all of them.
    The number never changes what a run learns (``data.folders.seeded``), only how fast it loads.
    """
    if setting != AUTO_LOADER_WORKERS:
        return setting
    if cores is None:
        cores = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
    return max(0, min(MAX_AUTO_LOADER_WORKERS, cores - 1))


def _folder(config, path) -> DataBundle:
    from data.folders import make_loaders

    size = config.image_size or FOLDER_IMAGE_SIZE
    loaders = make_loaders(path, image_size=(size, size), batch_size=config.batch_size,
                           validation_split=config.validation_split, seed=config.split_seed,
                           augment=config.augment, num_workers=loader_workers(config.num_workers),
                           shuffle_seed=config.seed, limits=(config.subset, config.val_subset))
    classes = list(loaders["classes"])
    return DataBundle(train=loaders["train"], val=loaders["val"], test=loaders.get("test"),
                      num_classes=len(classes), input_shape=(3, size, size), classes=classes)
