"""MNIST for the optimizer lab: fetched once, cached, loaded in a fraction of a second.

    splits = load_mnist()                 # MnistSplits: train 50,000 / valid 10,000 / eval 10,000
    images, labels = splits.train         # float32 [N, 784] in [0, 1), int64 [N]
    train_loader = load_data("train")     # the course's generator factory

Cache directory (see ``data.mnist_cache``): the ``cache_dir`` argument, else
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

from data.batches import check_batch_size, iterate_batches
from data.errors import DataError
from data.mnist_cache import (
    CACHE_ENV_VAR, FAST_CACHE_NAME, JSON_NAME, default_cache_dir, make_dir, read_splits_npz,
    remove_stale_temps, resolve_cache_dir, user_cache_path, write_fast_cache,
)
from data.splits import SPLIT_NAMES, MnistSplits, Split

__all__ = ["CACHE_ENV_VAR", "MnistDataset", "MnistSplits", "PreparedMnist", "Split",
           "default_cache_dir", "load_data", "load_mnist", "prepare_mnist"]

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

    ``force`` rebuilds everything even if cached. Returns a ``PreparedMnist``.
    The json.gz is only written for real MNIST (``path`` None) and when ``write_json``.
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
            from data.mnist_fetch import fetch_mnist
            splits, source = fetch_mnist(cache, progress), "download"
        write_fast_cache(splits, fast, source=source)
        built = True
    if write_json and (force or not course_json.is_file()):
        from data.mnist_json import write_mnist_json
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
    from data.mnist_json import read_mnist_json

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

    Args:
        mode: 'train', 'valid' or 'eval'.
        batch_size: examples per batch (the course's BATCHSIZE = 100).
        path: a course-format mnist.json.gz (e.g. './work/mnist.json.gz'); None = real MNIST
            from the cache.
        cache_dir: cache directory, see ``load_mnist``.
        seed: seed of the shuffling order.
        splits: already loaded ``MnistSplits`` to use instead of ``path`` / the cache.
    """
    if mode not in SPLIT_NAMES:
        raise DataError(f"load_data: unknown mode {mode!r}; choose one of "
                        f"{', '.join(repr(m) for m in SPLIT_NAMES)}")
    check_batch_size(batch_size, "load_data")
    if splits is None:
        splits = load_mnist(path=path, cache_dir=cache_dir)
    imgs, labels = splits.split(mode)
    # 验证图像数量和标签数量是否一致 (the course's assert, as a DataError)
    if len(imgs) != len(labels):
        raise DataError(f"load_data: length of {mode}_imgs ({len(imgs)}) should be the same as "
                        f"{mode}_labels ({len(labels)})")
    imgs = np.asarray(imgs, dtype=np.float32).reshape(-1, 1, IMG_ROWS, IMG_COLS)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1, 1)
    rng = np.random.default_rng(seed)

    def data_generator():
        # 训练模式下,打乱训练数据 (shuffle in train mode only)
        yield from iterate_batches(imgs, labels, batch_size, shuffle=mode == "train", rng=rng)

    return data_generator


def __getattr__(name):
    # MnistDataset needs paddle; importing it lazily keeps load_mnist() free of paddle's
    # multi-second import and ~300 MB of memory.
    if name == "MnistDataset":
        from data.mnist_dataset import MnistDataset
        return MnistDataset
    raise AttributeError(f"module 'data.mnist' has no attribute {name!r}")
