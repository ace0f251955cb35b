"""The on-disk MNIST cache: where it lives, atomic writes, and the fast ``.npz`` format.

Location (first match wins):
  1. the ``cache_dir`` argument / ``--data-cache`` flag: the directory itself;
  2. ``$PADDLE_OPT_LAB_DATA/mnist`` (``PADDLE_OPT_LAB_DATA`` is the data root of the
     optimizer lab; other data sets may live beside ``mnist/``);
  3. ``$XDG_CACHE_HOME/paddle-optimizer-lab/mnist``, else ``~/.cache/paddle-optimizer-lab/mnist``.
The default is never inside the repository, so 70 MB of data is never committed by accident.

Files in the cache directory:
  ``mnist.npz``       fast cache (uncompressed npz; uint8 pixels when lossless). Loads in ~0.1 s.
  ``mnist.json.gz``   the course's gzip-JSON format, for course code that reads ``./work/mnist.json.gz``.
  ``from-json/<name>-<key>.npz``  fast caches of users' own json.gz files, keyed by
                      (absolute path, size, mtime) so an edited file is converted again.

Every write goes to a temporary file in the same directory and is renamed over the final
name with ``os.replace`` (atomic on POSIX and Windows), so a killed or concurrent writer
never leaves a partial file under the final name.
"""
import contextlib
import hashlib
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from data.errors import DataError
from data.mnist.splits import COURSE_SPLITS, MnistSplits, to_uint8, validate_split

CACHE_ENV_VAR = "PADDLE_OPT_LAB_DATA"
FAST_CACHE_NAME = "mnist.npz"
JSON_NAME = "mnist.json.gz"
USER_CACHE_SUBDIR = "from-json"
FAST_CACHE_VERSION = 1
_TEMP_SUFFIX = ".tmp"
_STALE_TEMP_AGE_S = 24 * 3600  # older temp files belong to writers that were killed


def default_cache_dir():
    """The MNIST cache directory used when no ``cache_dir`` is given (see module docstring)."""
    root = os.environ.get(CACHE_ENV_VAR)
    if root:
        return Path(root).expanduser() / "mnist"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "paddle-optimizer-lab" / "mnist"


def resolve_cache_dir(cache_dir=None):
    """``cache_dir`` as a Path, or the default; the directory is not created here."""
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def make_dir(path):
    """Create ``path`` (and parents); a one-line DataError if that is impossible."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{path}: cannot create cache directory ({exc.strerror or exc})") from exc
    return path


@contextlib.contextmanager
def atomic_write(path):
    """Open a temp file beside ``path`` for binary writing; rename it to ``path`` on success.

    On any exception (or if the process dies) the final name is untouched; the temp file is
    removed when Python can still run cleanup code.
    """
    path = Path(path)
    make_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    except OSError as exc:
        raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the rename must not become visible before the data
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a cache may be shared by several users
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, DataError):
            raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from exc
        raise


def remove_stale_temps(directory, max_age_s=_STALE_TEMP_AGE_S):
    """Delete temp files left by writers that were killed more than ``max_age_s`` ago."""
    now = time.time()
    for tmp in Path(directory).glob(f".*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()


def user_cache_path(source, cache_dir):
    """Fast-cache path for a user's json.gz, keyed by its absolute path, size and mtime."""
    source = Path(source).resolve()
    st = source.stat()
    key = hashlib.sha256(f"{source}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    stem = source.name.split(".")[0] or "mnist"
    return Path(cache_dir) / USER_CACHE_SUBDIR / f"{stem}-{key}.npz"


def write_fast_cache(splits, path, source=""):
    """Write ``splits`` as an uncompressed npz (uint8 pixels when lossless), atomically."""
    arrays = {}
    for name, field in COURSE_SPLITS.items():  # the file keeps the course's names
        images, labels = getattr(splits, field)
        packed = to_uint8(images)
        arrays[f"{name}_x"] = images if packed is None else packed
        arrays[f"{name}_y"] = labels.astype(np.int64, copy=False)
    meta = {"version": FAST_CACHE_VERSION, "source": str(source)}
    # Stored as a unicode scalar so np.load never needs allow_pickle=True.
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **arrays)  # uncompressed: zlib would cost ~0.5 s at every load
    return Path(path)


def read_splits_npz(path):
    """Read an npz holding train_x, train_y, valid_x, valid_y, eval_x, eval_y; validate it.

    Used for the fast cache and for the test fixture (``tests/fixtures/mnist_small.npz``).
    Images may be uint8 (0..255, converted to float32 k/256) or floats in [0, 1].
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [f"{n}_{s}" for n in COURSE_SPLITS for s in "xy" if f"{n}_{s}" not in npz.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)}; expected "
                                f"train_x, train_y, valid_x, valid_y, eval_x, eval_y")
            # One split at a time keeps peak memory at ~1 split of uint8 plus the float32 result.
            parts = {field: validate_split(name, npz[f"{name}_x"], npz[f"{name}_y"], path)
                     for name, field in COURSE_SPLITS.items()}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc}); delete it to rebuild the cache") \
            from exc
    return MnistSplits(**parts)


def file_size(path) -> str:
    """'12.3 MB', or 'missing' for a path that is not a file."""
    return f"{Path(path).stat().st_size / 1e6:.1f} MB" if path and Path(path).is_file() else "missing"


def describe_cache(cache_dir=None, source=None) -> list:
    """Where the cache is and which of its files exist (for ``source``, a user's json.gz, its own)."""
    cache = resolve_cache_dir(cache_dir)
    lines = [f"cache dir : {cache}"]
    if source:
        if not Path(source).is_file():
            raise DataError(f"{source}: no such file (expected the course's gzip-JSON mnist.json.gz)")
        fast = user_cache_path(source, cache)
        return lines + [f"fast cache: {fast} ({file_size(fast)})"]
    return lines + [f"fast cache: {cache / FAST_CACHE_NAME} ({file_size(cache / FAST_CACHE_NAME)})",
                    f"course    : {cache / JSON_NAME} ({file_size(cache / JSON_NAME)})"]
