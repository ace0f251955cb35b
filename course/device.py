"""Choose where Paddle computes: the CPU by default, a GPU when this Paddle build can use one."""
from __future__ import annotations

import paddle

from course.errors import ConfigError


def gpu_count() -> int:
    if not paddle.device.is_compiled_with_cuda():
        return 0
    try:
        return paddle.device.cuda.device_count()
    except Exception:  # a CUDA build on a machine without a driver
        return 0


def resolve_device(name: str = "auto") -> str:
    """Map 'auto' | 'cpu' | 'gpu' | 'gpu:N' to a device Paddle can use, or raise ConfigError."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return "gpu:0" if gpu_count() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "gpu" or name.startswith("gpu:"):
        index = name.partition(":")[2] or "0"
        if not index.isdigit():
            raise ConfigError(f"device {name!r}: expected 'gpu' or 'gpu:N' with N a number")
        if not paddle.device.is_compiled_with_cuda():
            raise ConfigError(f"device {name!r} asked for, but this Paddle is the CPU-only build; "
                              "install paddlepaddle-gpu (see README, 'Using a GPU') or use --device cpu")
        count = gpu_count()
        if int(index) >= count:
            raise ConfigError(f"device {name!r} asked for, but {count} GPU(s) are visible")
        return f"gpu:{index}"
    raise ConfigError(f"unknown device {name!r}; choose from: auto, cpu, gpu, gpu:N")


def use_device(name: str = "auto") -> str:
    """Resolve ``name`` and make it Paddle's current device; returns what was chosen."""
    device = resolve_device(name)
    paddle.set_device(device)
    return device
