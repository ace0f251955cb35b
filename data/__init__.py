"""Data loading for the optimizer lab: MNIST as numpy arrays, batches, paddle Datasets.

Importing this package is cheap: it does not import paddle. ``MnistDataset`` (which needs
paddle) is imported lazily on first use.

Public API::

    from data import load_mnist, load_data, MnistDataset, iterate_batches, DataError
"""
import warnings

# Paddle prints this on import on machines without ccache; it is noise for a learner.
warnings.filterwarnings("ignore", message="No ccache found")

from data.batches import iterate_batches  # noqa: E402
from data.errors import DataError  # noqa: E402
from data.mnist import (  # noqa: E402
    CACHE_ENV_VAR,
    default_cache_dir,
    load_data,
    load_mnist,
    prepare_mnist,
)
from data.splits import SPLIT_NAMES, MnistSplits, Split  # noqa: E402

__all__ = [
    "CACHE_ENV_VAR", "DataError", "MnistDataset", "MnistSplits", "SPLIT_NAMES", "Split",
    "default_cache_dir", "iterate_batches", "load_data", "load_mnist", "prepare_mnist",
]


def __getattr__(name):
    # Lazy so that `import data` (and fast-cache loading) never pays for importing paddle.
    if name == "MnistDataset":
        from data.mnist_dataset import MnistDataset
        return MnistDataset
    raise AttributeError(f"module 'data' has no attribute {name!r}")
