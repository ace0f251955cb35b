"""What a valid MNIST data set is: three splits of (images, labels), checked once.

The course calls the splits train / valid / eval, and so do its ``mnist.json.gz`` and our npz
files (keys ``train_x``, ``valid_x``, ``eval_x``...); the engine says train / val / test, as
do ``MnistSplits``' fields. ``COURSE_SPLITS`` is the one table between the two vocabularies;
``split_field`` accepts either spelling where a user names a split.

Every source (the course's gzip-JSON file, the fast ``.npz`` cache, the downloaded idx files,
the pickle in the PyPI wheel) ends in ``validate_split``, so the rest of the code can trust
``MnistSplits``: images float32 ``[N, 784]`` with values in ``[0, 1]``, labels int64 ``[N]``
in ``0..9``, equal lengths.

MNIST pixels are stored as bytes 0..255 and the course divides by 256, so every value is
exactly ``k/256``; ``to_uint8`` / ``from_uint8`` convert losslessly (4x smaller on disk).
"""
from typing import NamedTuple

import numpy as np

from data.errors import DataError

# Course / on-disk name -> MnistSplits field, in the order the course's files hold them.
COURSE_SPLITS = {"train": "train", "valid": "val", "eval": "test"}
SPLIT_NAMES = tuple(COURSE_SPLITS.values())  # the fields of MnistSplits
# What a user may pass: the course's names first (they are the ones a learner knows).
SPLIT_CHOICES = tuple(dict.fromkeys((*COURSE_SPLITS, *SPLIT_NAMES)))
IMAGE_SIZE = 784  # 28 x 28 pixels, flattened
NUM_CLASSES = 10


class Split(NamedTuple):
    """One split: ``images`` float32 [N, 784] in [0, 1], ``labels`` int64 [N] in 0..9."""

    images: np.ndarray
    labels: np.ndarray


class MnistSplits(NamedTuple):
    """MNIST in the course's split: train 50,000 / val 10,000 / test 10,000.

    The course's valid and eval splits are the fields ``val`` and ``test``. Each field is a
    ``Split`` (a tuple ``(images, labels)``), so ``images, labels = splits.train`` works, as
    does ``splits.split("valid")`` with either vocabulary.
    """

    train: Split
    val: Split
    test: Split

    def split(self, name):
        """Return the split called ``name``: 'train', 'valid' / 'val' or 'eval' / 'test'."""
        return getattr(self, split_field(name, "unknown MNIST split"))

    def __repr__(self):
        sizes = ", ".join(f"{name}={len(getattr(self, name).labels)}" for name in SPLIT_NAMES)
        return f"MnistSplits({sizes})"


def split_field(name, problem):
    """The ``MnistSplits`` field for a split name of either vocabulary ('valid' -> 'val').

    Example:
        >>> split_field("eval", "unknown split"), split_field("test", "unknown split")
        ('test', 'test')

    Args:
        name: 'train', 'valid', 'eval' (the course's) or 'val', 'test' (the engine's).
        problem: start of the DataError message for any other name, e.g. "load_data: unknown
            mode"; the name and the choices follow it.
    """
    if name in SPLIT_NAMES:
        return name
    if isinstance(name, str) and name in COURSE_SPLITS:
        return COURSE_SPLITS[name]
    raise DataError(f"{problem} {name!r}; choose one of "
                    f"{', '.join(repr(choice) for choice in SPLIT_CHOICES)}")


def from_uint8(pixels):
    """uint8 pixels 0..255 -> float32 pixels k/256, exactly as the course's data holds them."""
    # One pass with a float32 output: astype() then divide would allocate twice.
    return np.multiply(pixels, np.float32(1.0 / 256.0), dtype=np.float32)


def to_uint8(images):
    """float32 images -> uint8 if every value is exactly k/256 with k in 0..255, else None."""
    scaled = images * np.float32(256.0)
    if scaled.size and (scaled.max() > 255.0 or scaled.min() < 0.0):
        return None
    codes = scaled.astype(np.uint8)
    if not np.array_equal(codes, scaled):
        return None
    return codes


def validate_split(name, images, labels, source):
    """Check one split's arrays and return it as a ``Split`` of float32 / int64 arrays.

    Args:
        name: split name, used in messages.
        images: array [N, 784] (or [N, 28, 28]) of uint8 0..255 or floats in [0, 1].
        labels: integer array [N] (or [N, 1]) with values 0..9.
        source: the file the arrays came from, named first in every message.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    where = f"{source}: split '{name}'"
    if len(images) == 0:
        raise DataError(f"{where} has no images")
    if images.ndim == 3 and images.shape[1:] == (28, 28):
        images = images.reshape(len(images), IMAGE_SIZE)
    if images.ndim != 2 or images.shape[1] != IMAGE_SIZE:
        raise DataError(f"{where}: images have shape {list(images.shape)}, "
                        f"expected [N, {IMAGE_SIZE}] (28x28 pixels each)")
    if images.dtype == np.uint8:
        images = from_uint8(images)
    elif images.dtype.kind == "f":
        images = images.astype(np.float32, copy=False)
        low, high = float(images.min()), float(images.max())
        if not (0.0 <= low and high <= 1.0):  # also false for NaN
            raise DataError(f"{where}: pixel values must lie in [0, 1], found {low:g}..{high:g}")
    else:
        raise DataError(f"{where}: images must be numbers, got dtype {images.dtype}")

    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"{where}: labels have shape {list(labels.shape)}, expected [N]")
    if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be integers 0..9, got dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{where}: label {labels[i]} at index {i} is outside 0..9")
    if len(images) != len(labels):
        raise DataError(f"{where} has {len(images)} images but {len(labels)} labels; "
                        f"they must have the same length")
    return Split(images, labels)


def validate_splits(parts, source):
    """Validate ``{course name: (images, labels)}`` for all three splits; return ``MnistSplits``.

    ``parts`` is keyed train / valid / eval, the names the files use; messages name them so.
    """
    return MnistSplits(**{field: validate_split(name, *parts[name], source)
                          for name, field in COURSE_SPLITS.items()})


def take_first(splits, counts):
    """Return the first ``counts[name]`` examples of each split (a cheap view, no copy)."""
    return MnistSplits(*(
        Split(getattr(splits, name).images[:counts[name]], getattr(splits, name).labels[:counts[name]])
        for name in SPLIT_NAMES
    ))
