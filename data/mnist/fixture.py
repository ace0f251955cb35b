"""The small real-MNIST test fixture, tests/fixtures/mnist_small.npz: the first N images of each split.

Tests train tiny models on real digits in seconds, without network or the 55 MB cache. Pixels are
stored as uint8 0..255 (lossless: real MNIST values are exactly k/256), labels as int64; the keys
are the course's split names (train_x, train_y, valid_x, valid_y, eval_x, eval_y), compressed.
"""
from pathlib import Path

import numpy as np

from data.errors import DataError
from data.mnist.cache import atomic_write
from data.mnist.splits import COURSE_SPLITS, take_first, to_uint8


def fixture_arrays(splits, counts):
    """The fixture's arrays: uint8 pixels (lossless check), int64 labels.

    Args:
        splits: ``MnistSplits`` to take the first examples of.
        counts: examples per split, keyed by the course's names (train, valid, eval).
    """
    for name, count in counts.items():
        if count < 1:
            raise DataError(f"--{name} must be a positive integer, got {count}")
    small = take_first(splits, {COURSE_SPLITS[name]: n for name, n in counts.items()})
    arrays = {}
    for name, field in COURSE_SPLITS.items():
        images, labels = getattr(small, field)
        if len(labels) < counts[name]:
            raise DataError(f"--{name} {counts[name]}: split '{name}' has only {len(labels)} examples")
        packed = to_uint8(images)
        if packed is None:
            raise DataError(f"split '{name}': pixels are not exactly k/256, cannot store as uint8")
        arrays[f"{name}_x"], arrays[f"{name}_y"] = packed, labels.astype(np.int64)
    return arrays


def write_fixture(arrays, out) -> float:
    """Write ``arrays`` as a compressed npz to ``out`` atomically; return its size in MB."""
    with atomic_write(out) as f:
        np.savez_compressed(f, **arrays)
    return Path(out).stat().st_size / 1e6
