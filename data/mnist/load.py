"""MNIST for the optimizer lab: fetched once, cached, loaded in a fraction of a second.

    splits = load_mnist()                 # MnistSplits: train 50,000 / val 10,000 / test 10,000
    images, labels = splits.train         # float32 [N, 784] in [0, 1), int64 [N]
    train_loader = load_data("train")     # the course's generator factory

Cache directory (see ``data.mnist.cache``): the ``cache_dir`` argument, else
``$PADDLE_OPT_LAB_DATA/mnist``, else ``$XDG_CACHE_HOME/paddle-optimizer-lab/mnist``
(``~/.cache/paddle-optimizer-lab/mnist``). It holds the fast cache ``mnist.npz`` and the
course's ``mnist.json.gz``. ``scripts/prepare_mnist.py`` fills it ahead of time.

A user's own course-format file is accepted with ``load_mnist(path="work/mnist.json.gz")``:
it is validated once (~8 s) and converted to a fast cache, so later loads take ~0.1 s.
"""
import sys
import time
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from data.batches import ArrayLoader, check_batch_size
from data.errors import DataError
from data.mnist.cache import (
    FAST_CACHE_NAME, JSON_NAME, make_dir, read_splits_npz, remove_stale_temps, resolve_cache_dir,
    user_cache_path, write_fast_cache,
)
from data.mnist.splits import MnistSplits, split_field

IMG_ROWS, IMG_COLS = 28, 28


class PreparedMnist(NamedTuple):
    """What ``prepare_mnist`` did: where the files are and how long it took."""

    fast_cache: Path            # the npz that load_mnist reads
    json_path: Optional[Path]   # the course-format file (None if not written / not asked)
    splits: MnistSplits
    built: bool                 # False when everything was already cached
    seconds: float


def load_mnist(path=None, cache_dir=None, progress=True):
    """Return MNIST as ``MnistSplits`` of numpy arrays, fetching and caching it the first time.

    Example:
        >>> splits = load_mnist()
        >>> images, labels = splits.val       # the course's 'valid': float32 [10000, 784]

    Args:
        path: None for real MNIST from the cache (downloaded once); or a course-format
            ``mnist.json.gz`` of your own (validated, then cached as npz keyed by its path,
            size and mtime); or an ``.npz`` with train_x, train_y, ... (read directly).
        cache_dir: cache directory; default ``default_cache_dir()``.
        progress: show download / conversion progress on stderr.

    Raises:
        DataError: a missing or bad file, or no source of MNIST reachable.
    """
    if path is None:
        fast = resolve_cache_dir(cache_dir) / FAST_CACHE_NAME
        if fast.is_file():
            return read_splits_npz(fast)
    # First use: fetch (or convert), and for real MNIST also write the course's json.gz once.
    return prepare_mnist(path=path, cache_dir=cache_dir, write_json=True,
                         progress=progress).splits


def prepare_mnist(path=None, cache_dir=None, force=False, write_json=True, progress=True):
    """Make sure the fast cache (and, for real MNIST, the course's json.gz) exists.

    What ``scripts/prepare_mnist.py`` runs; ``load_mnist`` calls it on first use.

    Example:
        >>> done = prepare_mnist(cache_dir="/data/mnist")
        >>> done.fast_cache, done.built, f"{done.seconds:.1f} s"

    Args:
        path: None for real MNIST; or a course-format json.gz / an npz, as in ``load_mnist``.
        cache_dir: cache directory; default ``default_cache_dir()``.
        force: rebuild everything even if cached.
        write_json: also write the course's json.gz (only for real MNIST, ``path`` None).
        progress: show download / conversion progress on stderr.

    Returns:
        ``PreparedMnist``: the files, the splits, whether anything was built, the time taken.
    """
    started = time.perf_counter()
    cache = resolve_cache_dir(cache_dir)
    if path is not None and Path(path).suffix == ".npz":
        splits = read_splits_npz(path)
        return PreparedMnist(Path(path), None, splits, False, time.perf_counter() - started)
    if path is not None:
        return _prepare_user_json(Path(path), cache, force, progress, started)

    fast, course_json = cache / FAST_CACHE_NAME, cache / JSON_NAME
    built = False
    if fast.is_file() and not force:
        splits = read_splits_npz(fast)
    else:
        make_dir(cache)
        remove_stale_temps(cache)
        if course_json.is_file() and not force:
            # e.g. the course's own file copied here: convert it instead of downloading.
            splits, source = _read_json(course_json, progress), course_json
        else:
            # Imported here, like json_io: a cache hit never pays for the fetch / JSON code.
            from data.mnist.fetch import fetch_mnist
            splits, source = fetch_mnist(cache, progress), "download"
        write_fast_cache(splits, fast, source=source)
        built = True
    if write_json and (force or not course_json.is_file()):
        from data.mnist.json_io import write_mnist_json
        write_mnist_json(splits, course_json, progress=progress)
        built = True
    return PreparedMnist(fast, course_json if course_json.is_file() else None, splits, built,
                         time.perf_counter() - started)


def _prepare_user_json(path, cache, force, progress, started):
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "no such file"
        raise DataError(f"{path}: {problem} (expected the course's gzip-JSON mnist.json.gz)")
    fast = user_cache_path(path, cache)
    if fast.is_file() and not force:
        return PreparedMnist(fast, path, read_splits_npz(fast), False,
                             time.perf_counter() - started)
    splits = _read_json(path, progress)
    make_dir(fast.parent)
    remove_stale_temps(fast.parent)
    write_fast_cache(splits, fast, source=path.resolve())
    return PreparedMnist(fast, path, splits, True, time.perf_counter() - started)


def _read_json(path, progress):
    from data.mnist.json_io import read_mnist_json

    if progress:
        print(f"reading {path} (gzip-JSON, ~10 s; converted once to a fast cache)",
              file=sys.stderr, flush=True)
    return read_mnist_json(path)


def load_data(mode="train", batch_size=100, path=None, cache_dir=None, seed=None, *,
              splits=None):
    """The course's ``load_data`` (【手写数字识别】之数据处理 / 之优化算法): a generator factory.

    ``load_data('train')()`` yields ``(images, labels)`` numpy batches: images float32
    [B, 1, 28, 28], labels int64 [B, 1]; the last, smaller batch is included. Only 'train'
    is shuffled, in a new order on every call of the factory (reproducible with ``seed``).
    The batches come from an ``ArrayLoader``, the loader the trainer uses.

    Example:
        >>> train_loader = load_data("train", batch_size=100, seed=0)
        >>> for images, labels in train_loader():   # one epoch
        ...     loss = train_step(images, labels)

    Args:
        mode: the course's 'train', 'valid' or 'eval' (or the engine's 'val', 'test').
        batch_size: examples per batch (the course's BATCHSIZE = 100).
        path: a course-format mnist.json.gz (e.g. './work/mnist.json.gz'); None = real MNIST
            from the cache.
        cache_dir: cache directory, see ``load_mnist``.
        seed: seed of the shuffling order.
        splits: already loaded ``MnistSplits`` to use instead of ``path`` / the cache.
    """
    field = split_field(mode, "load_data: unknown mode")
    check_batch_size(batch_size, "load_data")
    if splits is None:
        splits = load_mnist(path=path, cache_dir=cache_dir)
    imgs, labels = getattr(splits, field)
    # 验证图像数量和标签数量是否一致 (the course's assert, as a DataError)
    if len(imgs) != len(labels):
        raise DataError(f"load_data: length of {mode}_imgs ({len(imgs)}) should be the same as "
                        f"{mode}_labels ({len(labels)})")
    # Labels [N, 1]: the course's batches of labels are [B, 1].
    loader = ArrayLoader(imgs, np.reshape(labels, (-1, 1)), batch_size, shuffle=field == "train",
                         seed=seed, image_shape=(1, IMG_ROWS, IMG_COLS))

    def data_generator():
        # 训练模式下,打乱训练数据 (shuffle in train mode only): one epoch, a new order each call
        yield from loader

    return data_generator
