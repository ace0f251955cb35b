"""Data loading for the optimizer lab; the folders follow the flow.

- ``data.mnist``: MNIST fetched, validated, cached and loaded as numpy arrays
  (``load_mnist``, the course's ``load_data``; ``data.mnist.MnistDataset`` for paddle.io).
- ``data.folders``: class-per-folder image datasets, augmentation, demo image trees.
- ``data.batches``: ``ArrayLoader``, the one in-memory batching stack (sharding included).
- ``data.errors``: ``DataError``, the one exception type.

Importing this package is cheap: it does not import paddle.

Example:
    >>> from data import load_mnist, ArrayLoader
    >>> images, labels = load_mnist().train
    >>> for x, y in ArrayLoader(images, labels, batch_size=64, shuffle=True, seed=0):
    ...     pass
"""
import warnings

# Paddle prints this on import on machines without ccache; it is noise for a learner.
warnings.filterwarnings("ignore", message="No ccache found")

from data.batches import ArrayLoader  # noqa: E402
from data.errors import DataError  # noqa: E402
from data.mnist import (  # noqa: E402
    CACHE_ENV_VAR, MnistSplits, PreparedMnist, Split, default_cache_dir, load_data, load_mnist,
    prepare_mnist,
)

__all__ = [
    "ArrayLoader", "CACHE_ENV_VAR", "DataError", "MnistSplits", "PreparedMnist", "Split",
    "default_cache_dir", "load_data", "load_mnist", "prepare_mnist",
]
