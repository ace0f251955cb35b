"""Result files are replaced whole: a failed or killed write leaves the old file, never a torn one.

A sweep resumes from metrics.json, result.json and last.pdckpt, so a half-written one would
break the resume (or silently change a result). Each test interrupts a real write where it
hurts -- the disk fills up halfway through the data, the process is killed there, the final
rename fails -- and looks at what a reader finds. The data itself is written by whatever
``open`` the code uses: ``writes_intercepted`` wraps every file opened for binary writing.
"""
import builtins
import contextlib
import errno
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course.engine.files import (atomic_paddle_save, atomic_write_bytes, atomic_write_csv,
                                 atomic_write_json, atomic_write_text)

REPO = Path(__file__).resolve().parents[1]
OLD = b"old contents, complete\n"
ROWS = [{"epoch": e, "val_acc": 0.5 + e / 10} for e in range(1, 40)]

# name -> a write of something much longer than OLD to ``path``
WRITES = {
    "bytes": lambda path: atomic_write_bytes(path, b"new " * 2000),
    "text": lambda path: atomic_write_text(path, "nouveau, 新的 " * 500),
    "json": lambda path: atomic_write_json(path, ROWS),
    "csv": lambda path: atomic_write_csv(path, ROWS),
    "paddle": lambda path: atomic_paddle_save({"rows": ROWS, "weights": np.arange(5000.0)}, path),
}


class _Intercepted:
    """A file opened for binary writing whose ``write`` goes through ``on_write(file, data)``."""

    def __init__(self, file, on_write):
        self._file, self._on_write = file, on_write

    def write(self, data):
        return self._on_write(self._file, data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@contextlib.contextmanager
def writes_intercepted(on_write):
    """Inside, every file opened for binary writing (open, Path.open, os.fdopen) writes through
    ``on_write(file, data)``: the code under test may use any of them."""
    real_open = io.open

    def open_(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return _Intercepted(f, on_write) if "b" in mode and set(mode) & set("wax+") else f

    builtins.open = io.open = open_
    try:
        yield
    finally:
        builtins.open = io.open = real_open


def half_then(interrupt):
    """An ``on_write`` that writes the first half of the data, flushes it, then ``interrupt()``s."""
    def on_write(file, data):
        file.write(bytes(data)[: len(data) // 2])
        file.flush()
        interrupt()
    return on_write


def _disk_full():
    raise OSError(errno.ENOSPC, "No space left on device")


def _killed():
    os.kill(os.getpid(), signal.SIGKILL)


def old_file(tmp_path) -> Path:
    target = tmp_path / "metrics.json"
    target.write_bytes(OLD)
    return target


def only_the_old_file(target) -> bool:
    """Is ``target`` still the whole old file, and alone in its folder (no temporary file)?"""
    return target.read_bytes() == OLD and list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("kind", WRITES)
def test_a_write_that_fails_halfway_leaves_the_old_file_and_no_temporary_file(tmp_path, kind):
    target = old_file(tmp_path)
    with pytest.raises(OSError, match="No space left"), writes_intercepted(half_then(_disk_full)):
        WRITES[kind](target)
    assert only_the_old_file(target)


def test_a_writer_killed_halfway_leaves_the_old_file(tmp_path):
    target = old_file(tmp_path)
    code = ("import sys\nfrom tests.test_files import WRITES, _killed, half_then, writes_intercepted\n"
            "with writes_intercepted(half_then(_killed)):\n    WRITES['bytes'](sys.argv[1])\n")
    done = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert target.read_bytes() == OLD
    # What the kill leaves is a temporary file that run_experiment's '.*.tmp' clean-up removes.
    assert {p.name for p in tmp_path.iterdir()} - {target.name} == {p.name for p in tmp_path.glob(".*.tmp")}


@pytest.mark.parametrize("kind", WRITES)
def test_a_reader_finds_the_old_file_until_the_new_one_is_whole(tmp_path, kind):
    target = old_file(tmp_path)
    seen = []

    def read_then_write(file, data):
        seen.append(target.read_bytes())      # what a reader would find at this moment
        return file.write(data)

    with writes_intercepted(read_then_write):
        WRITES[kind](target)
    assert seen and all(view == OLD for view in seen)
    new = target.read_bytes()
    assert new != OLD and list(tmp_path.iterdir()) == [target]
    if kind == "json":
        assert json.loads(new) == ROWS


@pytest.mark.parametrize("kind", WRITES)
def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, kind):
    target = old_file(tmp_path)

    def replace(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="cross-device"):
        WRITES[kind](target)
    assert only_the_old_file(target)


def test_a_new_file_has_the_permissions_of_any_file_the_user_makes(tmp_path):
    # (a temporary file is made 0600: left so, results could not be shared)
    atomic_write_text(tmp_path / "result.json", "{}")
    (tmp_path / "plain.json").write_text("{}")
    assert (tmp_path / "result.json").stat().st_mode == (tmp_path / "plain.json").stat().st_mode
