"""MNIST: fetched once, cached, loaded as numpy arrays in a fraction of a second.

The flow, one module a step: ``fetch`` (download, verify) -> ``splits`` (validate; the
course's train / valid / eval are the fields train / val / test) -> ``cache`` (the fast npz)
and ``json_io`` (the course's mnist.json.gz) -> ``load`` (``load_mnist``, ``prepare_mnist`` and
the course's ``load_data``) -> ``dataset`` (``MnistDataset``, a ``paddle.io.Dataset``).

Importing this package is cheap: ``MnistDataset`` needs paddle (a multi-second import and
~300 MB), so it is imported on first use only.

Example:
    >>> from data.mnist import load_mnist, load_data
    >>> images, labels = load_mnist().train     # float32 [50000, 784], int64 [50000]
    >>> for x, y in load_data("train")():       # the course's generator factory
    ...     pass
"""
from data.mnist.cache import (
    CACHE_ENV_VAR, FAST_CACHE_NAME, JSON_NAME, default_cache_dir, resolve_cache_dir,
    user_cache_path,
)
from data.mnist.load import PreparedMnist, load_data, load_mnist, prepare_mnist
from data.mnist.splits import MnistSplits, Split

__all__ = [
    "CACHE_ENV_VAR", "FAST_CACHE_NAME", "JSON_NAME", "MnistDataset", "MnistSplits",
    "PreparedMnist", "Split", "default_cache_dir", "load_data", "load_mnist", "prepare_mnist",
    "resolve_cache_dir", "user_cache_path",
]


def __getattr__(name):
    # The one lazy accessor of MnistDataset: `import data.mnist` never pays for paddle.
    if name == "MnistDataset":
        from data.mnist.dataset import MnistDataset
        return MnistDataset
    raise AttributeError(f"module 'data.mnist' has no attribute {name!r}")
