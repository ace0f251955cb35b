"""The course's own MNIST file, ``mnist.json.gz``: read with checks, write quickly.

Format (from the course chapter 【手写数字识别】之数据处理)::

    [[train_imgs, train_labels], [valid_imgs, valid_labels], [eval_imgs, eval_labels]]

gzip-compressed JSON; each image is a list of 784 floats (pixel/256), each label an int 0..9.
Course code reads it with ``json.load(gzip.open('./work/mnist.json.gz'))``, so what we write
must stay plain JSON. Reading takes ~8 s and ~2.8 GB (Python lists of floats), which is why
``data.mnist.load`` converts it once to the fast npz cache.
"""
import gzip
import json
import zlib
from pathlib import Path

import numpy as np

from data.errors import DataError
from data.mnist.cache import atomic_write
from data.mnist.splits import COURSE_SPLITS, IMAGE_SIZE, MnistSplits, validate_split

NESTING = "[[train_imgs, train_labels], [valid_imgs, valid_labels], [eval_imgs, eval_labels]]"
_CHUNK = 1000  # images formatted per step: small enough for a smooth progress bar
# JSON text of k/256 for k in 0..255, exactly what json.dumps(float) gives ("0.0", "0.00390625").
_PIXEL_TEXT = np.array([json.dumps(k / 256.0) for k in range(256)], dtype=object)


def read_mnist_json(path):
    """Read and validate a course-format ``mnist.json.gz``; return ``MnistSplits``.

    Every problem raises a one-line ``DataError`` naming ``path``: missing file, not gzip,
    truncated gzip, invalid JSON, wrong nesting, images of other than 784 values, labels
    outside 0..9, images and labels of different lengths, pixels outside [0, 1].
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file (expected the course's gzip-JSON mnist.json.gz)")
    if not path.is_file():
        raise DataError(f"{path}: not a file (expected the course's gzip-JSON mnist.json.gz)")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except gzip.BadGzipFile as exc:
        raise DataError(f"{path}: not a gzip file ({exc})") from exc
    except EOFError as exc:
        raise DataError(f"{path}: truncated gzip file (the compressed data ends early)") from exc
    except (zlib.error, OSError) as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc})") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") \
            from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: invalid JSON (not UTF-8 text: {exc.reason})") from exc
    del raw  # the decompressed text is ~300 MB; free it before building arrays

    if not isinstance(data, list) or len(data) != 3:
        raise DataError(f"{path}: expected {NESTING}, got {_describe(data)}")
    parts = {}
    for (name, field), part in zip(COURSE_SPLITS.items(), data):
        if not (isinstance(part, list) and len(part) == 2
                and isinstance(part[0], list) and isinstance(part[1], list)):
            raise DataError(f"{path}: split '{name}' must be [images, labels] (two lists), "
                            f"got {_describe(part)}; expected {NESTING}")
        images = _images_array(part[0], name, path)
        labels = _labels_array(part[1], name, path)
        part.clear()  # drop the Python lists of this split as soon as it is converted
        parts[field] = validate_split(name, images, labels, path)
    return MnistSplits(**parts)


def _describe(value):
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    return f"a JSON {type(value).__name__}"


def _images_array(images, name, path):
    where = f"{path}: split '{name}'"
    try:
        array = np.array(images, dtype=np.float32)
    except (ValueError, TypeError):
        array = None
    if array is not None and array.ndim == 2:
        if array.shape[1] != IMAGE_SIZE:
            raise DataError(f"{where}: images have {array.shape[1]} values, "
                            f"expected {IMAGE_SIZE} (28x28)")
        return array
    if array is not None and array.size == 0:
        raise DataError(f"{where} has no images")
    # Ragged or mistyped: find the first offending image for a precise message.
    for i, image in enumerate(images):
        if not isinstance(image, list):
            raise DataError(f"{where}: image {i} is {_describe(image)}, "
                            f"expected a list of {IMAGE_SIZE} numbers")
        if len(image) != IMAGE_SIZE:
            raise DataError(f"{where}: image {i} has {len(image)} values, "
                            f"expected {IMAGE_SIZE} (28x28)")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in image):
            raise DataError(f"{where}: image {i} contains a value that is not a number")
    raise DataError(f"{where}: images must be lists of {IMAGE_SIZE} numbers")


def _labels_array(labels, name, path):
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels):
        raise DataError(f"{path}: split '{name}': labels must be integers 0..9")
    return np.array(labels)


def write_mnist_json(splits, path, progress=False, compresslevel=6):
    """Write ``splits`` in the course's gzip-JSON format to ``path``, atomically.

    Pixels that are exactly k/256 (all of real MNIST) are formatted from a 256-entry table,
    ~4x faster than ``json.dumps``; other floats fall back to ``json.dumps``. The output is
    compact JSON that ``json.load`` reads back to the same float32 values.
    """
    total = sum(len(split.labels) for split in splits)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="img", desc=f"writing {Path(path).name}", disable=not progress)
    # mtime=0 and a fixed inner name make the file byte-identical for identical data.
    with bar, atomic_write(path) as raw, gzip.GzipFile(
            filename="mnist.json", mode="wb", fileobj=raw, compresslevel=compresslevel,
            mtime=0) as gz:
        gz.write(b"[")
        for index, (images, labels) in enumerate(splits):
            gz.write(b"[[" if index == 0 else b",[[")
            for start in range(0, len(images), _CHUNK):
                if start:
                    gz.write(b",")
                gz.write(_format_images(images[start:start + _CHUNK]).encode("ascii"))
                bar.update(min(_CHUNK, len(images) - start))
            gz.write(b"],")
            gz.write(json.dumps(np.asarray(labels).tolist(), separators=(",", ":")).encode("ascii"))
            gz.write(b"]")
        gz.write(b"]")
    return Path(path)


def _format_images(images):
    """JSON text ``[..],[..],...`` (no outer brackets) for a chunk of float32 images."""
    scaled = images * np.float32(256.0)
    codes = scaled.astype(np.uint8)
    if scaled.max() <= 255.0 and scaled.min() >= 0.0 and np.array_equal(codes, scaled):
        rows = _PIXEL_TEXT[codes]
        return ",".join("[" + ",".join(row) + "]" for row in rows.tolist())
    return json.dumps(np.asarray(images).tolist(), separators=(",", ":"))[1:-1]
