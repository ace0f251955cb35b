"""Benchmarks that need a fresh Python process each time: the sweep, and loading MNIST.

- ``sweep_throughput``: ``course.sweep.runner.run_sweep`` over 4 LeNet runs in a temporary logdir,
  timed inside a fresh process (after its imports and after MNIST is loaded, as the CLI does
  before it starts the sweep), with the environment the user's shell gives it: ``--jobs 1``
  trains the runs one after another in that process, ``--jobs 2`` in two worker processes.
- ``load_seconds_and_memory``: MNIST as numpy arrays in a fresh interpreter, from our fast cache
  or the course's way, ``json.load(gzip.open('mnist.json.gz'))``: seconds from the start of the
  script (imports included), seconds of the load itself (after ``import numpy``/``data.mnist``),
  and the process's peak resident memory.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SWEEP_OPTIMIZERS = ["sgd", "momentum", "adagrad", "adam"]   # 4 runs, none diverges at lr 0.01

_SWEEP_CODE = """
import json, sys, time
import course
from course.engine.config import RunConfig
from course.sweep.grid import Sweep
from course.sweep.runner import run_sweep
from data.mnist import load_mnist
dataset, images, epochs, val_images, jobs, logdir, optimizers = sys.argv[1:8]
images, epochs, val_images, jobs = int(images), int(epochs), int(val_images), int(jobs)
# The default sweep's settings (scripts/compare_optimizers.py) but for the optimizers and epochs.
base = RunConfig(dataset=dataset, model="lenet", epochs=epochs, subset=images, val_subset=val_images, lr=0.01)
# Loaded here, before the clock starts, as scripts/compare_optimizers.py does.
train_size = len(load_mnist(path=dataset.partition(":")[2] or None).train[0])
sweep = Sweep(base, optimizers.split(","), [0.01], [0], logdir)
def cpu_seconds():
    import resource
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
start, cpu = time.perf_counter(), cpu_seconds()
results = run_sweep(sweep, jobs=jobs, progress=False)
seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu   # children are reaped by now
trained = sum(r["epochs_run"] for r in results) * min(images, train_size)
print("BENCH " + json.dumps({"seconds": seconds, "cpu_seconds": cpu, "images": trained, "runs": len(results),
                             "run_seconds": [r["total_seconds"] for r in results],
                             "diverged": sum(r["diverged"] for r in results)}))
"""

# Peak memory is this process image's high-water mark, VmHWM. ru_maxrss is kept for reference but
# is not used: on Linux a child that execs carries over the peak of the process it was forked
# from (here the benchmark, with paddle loaded: ~400 MB), whatever the child itself uses.
_PEAK = """
def peak_mb():
    import resource
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def report(images):
    import resource
    print("BENCH " + json.dumps({"seconds": time.perf_counter() - start, "load_seconds": time.perf_counter() - loading,
          "images": images, "peak_mb": peak_mb(), "cpu_seconds": time.process_time(),
          "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CACHE_CODE = """
import time
start = time.perf_counter()
import json, sys
from data.mnist import load_mnist
loading = time.perf_counter()
splits = load_mnist(path=sys.argv[1] or None, progress=False)
""" + _PEAK + """
report(sum(len(x) for x, _ in (splits.train, splits.val, splits.test)))
"""

_JSON_CODE = """
import time
start = time.perf_counter()
import gzip, json, sys
import numpy as np
loading = time.perf_counter()
data = json.load(gzip.open(sys.argv[1]))   # the course's load_data
arrays = [(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)) for x, y in data]
""" + _PEAK + """
report(sum(len(x) for x, _ in arrays))
"""


_STARTUP_CODE = """
import sys
import course, course.engine.experiment, paddle
from data.mnist import load_mnist
load_mnist(path=sys.argv[1] or None, progress=False)
print("BENCH {}")
"""


def _run_code(code: str, args: list, env: dict, timeout: float = 1800) -> dict:
    env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"benchmark subprocess failed (exit {proc.returncode}):\n" + "\n".join(tail))
    return json.loads(lines[-1][len("BENCH "):])


def sweep_throughput(dataset: str, images: int, epochs: int, val_images: int, jobs: int, env: dict) -> dict:
    """One sweep of 4 LeNet runs (``epochs`` x ``images`` images, validated on ``val_images``
    each epoch, 0 = all) with ``jobs`` at a time.

    Returns wall and CPU seconds (the sweep process and its workers), images trained
    (runs x epochs x images), images per wall second and per CPU second.
    """
    logdir = tempfile.mkdtemp(prefix="bench-sweep-")
    try:
        out = _run_code(_SWEEP_CODE, [dataset, images, epochs, val_images, jobs, logdir,
                                      ",".join(SWEEP_OPTIMIZERS)], env)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    out["images_per_s"] = out["images"] / out["seconds"]
    out["images_per_cpu_s"] = out["images"] / max(out["cpu_seconds"], 1e-9)
    return out


def worker_startup_seconds(dataset: str, env: dict) -> float:
    """Wall seconds for a fresh process to import paddle and the engine and load MNIST.

    Every run of a ``--jobs 2`` sweep pays this once (``--jobs 1`` pays it once per sweep).
    """
    start = time.perf_counter()
    _run_code(_STARTUP_CODE, [dataset.partition(":")[2]], env)
    return time.perf_counter() - start


def load_seconds_and_memory(kind: str, path, env: dict) -> dict:
    """``kind`` 'cache' (``load_mnist(path)``; path None = the user cache) or 'json' (a json.gz)."""
    if kind == "cache":
        return _run_code(_CACHE_CODE, [path or ""], env)
    if kind == "json":
        return _run_code(_JSON_CODE, [path], env)
    raise ValueError(f"unknown load kind {kind!r}")


def load_sources(dataset: str) -> dict:
    """Which files the load benchmark reads for ``--dataset``: {'cache': path, 'json': path|None}.

    'mnist' -> the user cache ('' = ``load_mnist()``'s default) and its mnist.json.gz;
    'mnist:X.npz' -> X only (no json);
    'mnist:X.json.gz' -> the fast cache made from X, and X itself.
    """
    from data.mnist import JSON_NAME, resolve_cache_dir

    kind, _, path = dataset.partition(":")
    if kind != "mnist":
        raise ValueError(f"--dataset must be 'mnist' or 'mnist:PATH', got {dataset!r}")
    if not path:
        course_json = resolve_cache_dir(None) / JSON_NAME
        return {"cache": "", "json": str(course_json) if course_json.is_file() else None}
    if path.endswith(".npz"):
        return {"cache": path, "json": None}
    return {"cache": path, "json": path}
