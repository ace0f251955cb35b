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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
    except BaseException:
        tmp.unlink(missing_ok=True)
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
