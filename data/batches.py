"""Mini-batches straight from numpy arrays: the fast path the trainer uses.

Going through ``paddle.io.DataLoader`` costs a Python call and a collate per example; for
MNIST held in memory, slicing whole batches out of the arrays is ~100x faster and gives the
same batches. Shuffling uses a ``numpy.random.Generator`` so that a seed fixes the order.
"""
import numbers

import numpy as np

from data.errors import DataError


def iterate_batches(images, labels, batch_size, shuffle=False, rng=None, drop_last=False):
    """Yield ``(images_batch, labels_batch)`` numpy pairs covering the data once.

    The last, smaller batch is included unless ``drop_last`` (as in the course's
    ``data_generator``). Without shuffling, batches are views in the original order.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> for x, y in iterate_batches(images, labels, 100, shuffle=True, rng=rng):
        ...     train_step(x, y)

    Args:
        images: array [N, ...].
        labels: array [N, ...]; must have the same length as ``images``.
        batch_size: positive int.
        shuffle: visit the examples in a random order (a new order on every call).
        rng: ``numpy.random.Generator`` (or an int seed) used when shuffling; None means
            a fresh unseeded generator.
        drop_last: skip the final batch when it has fewer than ``batch_size`` examples.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise DataError(f"iterate_batches: {len(images)} images but {len(labels)} labels; "
                        f"they must have the same length")
    check_batch_size(batch_size, "iterate_batches")
    if rng is not None and not isinstance(rng, (np.random.Generator, numbers.Integral)):
        raise DataError(f"iterate_batches: rng must be a numpy.random.Generator or an int seed, "
                        f"got {type(rng).__name__}")
    return _batches(images, labels, int(batch_size), shuffle, rng, drop_last)


def _batches(images, labels, batch_size, shuffle, rng, drop_last):
    # A separate generator function so that argument errors are raised at the call,
    # not at the first next().
    count = len(images)
    order = np.random.default_rng(rng).permutation(count) if shuffle else None
    stop = count - count % batch_size if drop_last else count
    for start in range(0, stop, batch_size):
        if order is None:
            yield images[start:start + batch_size], labels[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            yield images[index], labels[index]


def check_batch_size(batch_size, where):
    """Raise DataError unless ``batch_size`` is a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise DataError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")


def count_batches(count, batch_size, drop_last=False):
    """Number of batches ``iterate_batches`` yields for ``count`` examples."""
    check_batch_size(batch_size, "count_batches")
    return count // batch_size if drop_last else -(-count // batch_size)
