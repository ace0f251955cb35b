"""Writing results so that a kill at any moment never leaves a half-written file.

Every result file is written to a temporary file in the same directory and then renamed over the
final name: ``os.replace`` is atomic on one file system, so a reader sees the old file or the new
one, never a torn one (a sweep stopped by kill -9 is resumed from these files).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should read like any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not err.filename:   # a full disk's write names no file
            err.filename = str(path)
        raise


def atomic_write_text(path, text: str) -> None:
    """``atomic_write_bytes`` of ``text`` as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    """``obj`` as indented JSON, atomically (NaN and Infinity kept as JSON allows them)."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=True) + "\n")


def atomic_write_csv(path, rows: list[dict], columns: list[str] | None = None) -> None:
    """``rows`` (dicts) as CSV with ``columns`` (default: the first row's keys), atomically."""
    columns = columns or (list(rows[0]) if rows else [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def atomic_paddle_save(obj, path) -> None:
    """``paddle.save`` through a temporary file, then rename (paddle.save itself writes in place)."""
    import paddle

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        paddle.save(obj, str(tmp))
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not err.filename:
            err.filename = str(path)
        raise


def check_writable(folder, flag: str) -> None:
    """Raise ConfigError naming ``flag`` unless ``folder`` can be created and written in.

    Probed by making (and removing) a temporary folder in the nearest existing ancestor, so a
    path under a file, a read-only or foreign file system, or /proc is caught before a run starts,
    and nothing is left behind.
    """
    from course.engine.errors import ConfigError

    folder = Path(folder).expanduser().absolute()
    ancestor = next(p for p in (folder, *folder.parents) if p.exists())
    if not ancestor.is_dir():
        raise ConfigError(f"{flag}: {ancestor} is a file, not a folder (it is in the path {folder})")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=ancestor))
    except OSError as err:
        raise ConfigError(f"{flag}: cannot create folders in {ancestor} ({err.strerror or err}), so "
                          f"not {folder}") from None


def read_json(path, default=None):
    """The JSON in ``path``, or ``default`` if the file does not exist.

    A file that exists but is not JSON (edited by hand, or written by something else: this
    project's own writes are atomic) is a one-line ConfigError naming it.
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except (UnicodeError, json.JSONDecodeError) as err:
        from course.engine.errors import ConfigError

        raise ConfigError(f"{path} is damaged ({err}); delete the run directory that holds it to "
                          "train that run again") from None


def atomic_write_all(folder, write) -> None:
    """All of a set of files or none: ``write(staging)`` writes them into a temporary folder
    inside ``folder``, then each is renamed into ``folder``. A write that fails (a full disk)
    leaves the files already in ``folder`` as they were, not some new and some old."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", suffix=".tmp", dir=folder))
    try:
        write(staging)
        for made in sorted(staging.iterdir()):
            os.replace(made, folder / made.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale(folder) -> None:
    """Remove the temporary files and folders a process killed while writing left in ``folder``."""
    for stale in Path(folder).glob(".*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
