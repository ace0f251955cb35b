"""A benchmark's dated result file: bench/results/DATE-MACHINE-BENCHMARK.json.

A measurement means something only with what was measured (the commit, and whether the work tree
had changes), where (the machine, its CPU), on what (Python, Paddle, NumPy, PyTorch), under which
load, and every round, not only a median: the docs quote figures from these files (the latest
of each kind: docs/performance.md), so a figure can always be traced to its run and re-run.

Nothing here imports a framework (versions are read from the installed packages' metadata).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
PACKAGES = ("paddlepaddle", "paddlepaddle-gpu", "numpy", "torch")


def add_results_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--results-dir`` flag every benchmark has."""
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), metavar="DIR",
                        help="write the dated result file (commit, machine, load, every round) "
                             "here; '' writes none")


def git_state() -> dict:
    """The checked-out commit and whether tracked files differ from it; None outside a git clone."""
    def git(*argv):
        out = subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() if out.returncode == 0 else None
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        commit = dirty = None
    return {"commit": commit, "dirty": None if commit is None else bool(dirty)}


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), or what ``platform`` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    """Python's version and those of the installed packages that decide a benchmark's speed."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def record(benchmark: str, args: argparse.Namespace, results: dict, now=None) -> dict:
    """What a result file holds: who measured what, where, under which load, and every number."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"benchmark": benchmark, "date": now.isoformat(timespec="seconds"),
            **git_state(),
            "machine": {"name": socket.gethostname(), "cpu": cpu_model(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
            "versions": versions(), "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
            "args": vars(args),
            "load": {"start": list(results.get("loadavg_start", ())), "end": list(results.get("loadavg_end", ()))},
            "results": results}


def result_path(folder, benchmark: str, now=None) -> Path:
    """``folder/DATE-MACHINE-BENCHMARK.json``, with ``-2``, ``-3``... when that day's name is taken."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    machine = re.sub(r"[^A-Za-z0-9_-]+", "_", socket.gethostname().split(".")[0]) or "machine"
    stem = f"{now:%Y-%m-%d}-{machine}-{benchmark}"
    folder = Path(folder)
    path, n = folder / f"{stem}.json", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.json"
    return path


def write_record(benchmark: str, args: argparse.Namespace, results: dict) -> Path | None:
    """Write the result file into ``args.results_dir``, atomically; returns its path, or None
    when ``--results-dir ''``."""
    from course.engine.files import atomic_write_json   # stdlib only; the one atomic writer

    if not args.results_dir:
        return None
    folder = Path(args.results_dir).expanduser()
    now = datetime.datetime.now(datetime.timezone.utc)
    path = result_path(folder, benchmark, now)
    atomic_write_json(path, record(benchmark, args, results, now))
    return path
