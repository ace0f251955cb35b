"""Choose where Paddle computes: the CPU by default, a GPU when this Paddle build can use one;
and, for a sweep, how many runs train at once and on which card (``plan_workers``)."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import paddle

from course.engine.errors import ConfigError
from course.speed.threads import get_num_threads, set_num_threads

DEVICE_CHOICES = "auto, cpu, gpu, gpu:N"


def gpu_count() -> int:
    """Number of GPUs this Paddle build can see (0 on the CPU-only build)."""
    if not paddle.device.is_compiled_with_cuda():
        return 0
    try:
        return paddle.device.cuda.device_count()
    except Exception:  # a CUDA build on a machine without a driver
        return 0


def check_device_name(name: str) -> str:
    """Check the spelling of a device name ('auto', 'cpu', 'gpu', 'gpu:N'), not whether it exists.

    A config names its device once and may be read on another machine (an exported run, say),
    so whether the GPU is there is asked only when the run starts (``resolve_device``).
    """
    text = (name or "auto").strip().lower()
    index = text.partition(":")[2] if text.startswith("gpu:") else "0"
    if text not in ("auto", "cpu", "gpu") and not (text.startswith("gpu:") and index.isdigit()):
        raise ConfigError(f"unknown device {name!r}; choose from: {DEVICE_CHOICES}")
    return text


def resolve_device(name: str = "auto") -> str:
    """Map 'auto' | 'cpu' | 'gpu' | 'gpu:N' to a device Paddle can use here, or raise ConfigError."""
    name = check_device_name(name)
    if name == "auto":
        return "gpu:0" if gpu_count() else "cpu"
    if name == "cpu":
        return "cpu"
    index = name.partition(":")[2] or "0"
    if not paddle.device.is_compiled_with_cuda():
        raise ConfigError(f"--device {name}: this Paddle is the CPU-only build; install "
                          "paddlepaddle-gpu (see docs/gpu_and_aistudio.md) or use --device cpu")
    count = gpu_count()
    if int(index) >= count:
        raise ConfigError(f"--device {name}: only {count} GPU(s) are visible")
    return f"gpu:{index}"


def use_device(name: str = "auto") -> str:
    """Resolve ``name`` and make it Paddle's current device; returns what was chosen."""
    device = resolve_device(name)
    paddle.set_device(device)
    return device


@dataclass(frozen=True)
class WorkerPlan:
    """How many runs train at once, and the card each worker process is pinned to.

    ``cards[i]`` is worker i's ``CUDA_VISIBLE_DEVICES`` (inside it the card is then ``gpu:0``,
    which a run's device 'auto' or 'gpu' resolves to); empty when the runs are not spread over
    cards (a CPU, or one card named by ``--device gpu:N``).
    """
    jobs: int
    cards: tuple = ()

    def describe(self, runs: int | None = None) -> str:
        """'2 at a time (one per GPU: 0, 1)' or '4 at a time', for ``runs`` runs to train (fewer
        runs than workers start fewer workers)."""
        jobs = self.jobs if runs is None else min(self.jobs, max(runs, 1))
        cards = f" (on GPU {', '.join(self.cards[:jobs])})" if self.cards and jobs > 1 else ""
        return f"{jobs} at a time{cards}"


def plan_workers(jobs: int | str, device: str = "auto", gpus: int | None = None,
                 cores: int | None = None) -> WorkerPlan:
    """Resolve ``--jobs`` ('auto' or a number >= 1, as ``validate.parse_jobs`` gives it) for
    runs on ``device`` (the setting).

    'auto' trains one run per visible GPU when the runs go to GPUs ('auto' or 'gpu' with a GPU
    present): two runs on one card only compete for its memory and its time. On a CPU it is one
    run per core, each single-threaded (course.sweep.runner). A number is taken as given; on GPUs
    its workers are dealt out over the cards in turn. ``--device gpu:N`` puts every run on card
    N, so 'auto' is one run there. ``gpus`` and ``cores`` default to what this machine has
    (tests pass them).
    """
    name = check_device_name(device)
    gpus = gpu_count() if gpus is None else gpus
    cores = (os.cpu_count() or 1) if cores is None else cores
    spread = gpus > 0 and name in ("auto", "gpu")
    if jobs == "auto":
        jobs = gpus if spread else 1 if name.startswith("gpu") else cores
    if not spread or jobs == 1:
        return WorkerPlan(jobs)
    return WorkerPlan(jobs, tuple(visible_cards(gpus)[i % gpus] for i in range(jobs)))


def visible_cards(gpus: int) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` names of the ``gpus`` cards Paddle sees: the entries of the
    variable when it is set already (cards '2,3' are Paddle's gpu:0 and gpu:1), else 0..gpus-1."""
    given = [c.strip() for c in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if c.strip()]
    return given[:gpus] if len(given) >= gpus else [str(i) for i in range(gpus)]


def cpu_threads() -> int:
    """The threads Paddle's CPU kernels use in this process now (its OpenMP: MKL's and oneDNN's
    too). A fresh process has 1 (Paddle's default)."""
    return get_num_threads()


@contextlib.contextmanager
def cpu_threads_during(count: int | None):
    """Inside the block Paddle's CPU kernels use ``count`` threads; after it, however it ends,
    the count they had before. ``None`` (a run on a GPU, a run with no count of its own)
    changes nothing, ``OMP_NUM_THREADS`` included."""
    if not count:
        yield
        return
    before = cpu_threads()
    set_cpu_threads(count)
    try:
        yield
    finally:
        set_cpu_threads(before)


def set_cpu_threads(count: int) -> None:
    """Make Paddle's CPU kernels (OpenMP, MKL, oneDNN) use ``count`` threads from now on.

    A run's numbers depend on its thread count within float32 rounding (oneDNN's and MKL's
    reductions split their sums by thread), so a sweep fixes each run's count
    (``course.sweep.runner.threads_per_job``) and a resumed run keeps the one it started with.
    The count also goes into ``OMP_NUM_THREADS``, where what sizes itself by the cores a run has
    reads it (``course.engine.data.loader_workers``, and a DataLoader's worker processes);
    OpenMP itself read the variable at import, so that changes no thread count.
    """
    count = max(int(count), 1)
    set_num_threads(count)
    os.environ["OMP_NUM_THREADS"] = str(count)
