"""Choose where Paddle computes: the CPU by default, a GPU when this Paddle build can use one."""
from __future__ import annotations

import paddle

from course.engine.errors import ConfigError

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
                          "paddlepaddle-gpu (see README, 'Using a GPU') or use --device cpu")
    count = gpu_count()
    if int(index) >= count:
        raise ConfigError(f"--device {name}: only {count} GPU(s) are visible")
    return f"gpu:{index}"


def use_device(name: str = "auto") -> str:
    """Resolve ``name`` and make it Paddle's current device; returns what was chosen."""
    device = resolve_device(name)
    paddle.set_device(device)
    return device


def cpu_threads() -> int:
    """The threads Paddle's CPU kernels use in this process now (its OpenMP: MKL's and oneDNN's
    too). A fresh process has 1 (Paddle's default)."""
    from models.fast_conv import threads

    return threads() or 1


def set_cpu_threads(count: int) -> None:
    """Make Paddle's CPU kernels (OpenMP, MKL, oneDNN) use ``count`` threads from now on.

    A run's numbers depend on its thread count within float32 rounding (oneDNN's and MKL's
    reductions split their sums by thread), so a sweep fixes each run's count
    (``course.sweep.runner.threads_per_job``) and a resumed run keeps the one it started with.
    """
    paddle.base.core.set_num_threads(max(int(count), 1))
