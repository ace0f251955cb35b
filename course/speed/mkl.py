"""Let the MKL inside the paddlepaddle wheel use its AVX2 kernels on AMD processors.

Paddle's CPU matmul (``nn.Linear``, and the GEMM of its own convolution kernel) calls the MKL it
ships (``paddle/libs/libmklml_intel.so``, MKL 2019). That MKL picks its code path from the CPU
vendor, and on an AMD processor it takes a generic SSE path whatever the CPU supports, several
times slower than its AVX2 path on the same matmul. ``MKL_DEBUG_CPU_TYPE=5`` is the switch that
MKL versions before 2020.1 read to take their AVX2 path on any vendor.

The switch is set only where it is right: an AMD processor whose flags include AVX2 and FMA, and
a user who has not set it. MKL reads it when it first runs, so it must be set before the first
matmul (``course.speed.tune_process`` does it before a model's first step). On Intel
processors nothing is set: there MKL already picks the best path, and forcing AVX2 would cost
AVX-512. Numbers change within float32 rounding (another GEMM kernel), not beyond.
"""
from __future__ import annotations

import os

ENV_VAR = "MKL_DEBUG_CPU_TYPE"
AVX2 = "5"


def _cpu_info(path: str = "/proc/cpuinfo") -> tuple[str, set]:
    """(vendor id, flags) of the first processor listed, ("", set()) where unknown."""
    vendor, flags = "", set()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor, flags


def wants_avx2_switch(vendor: str, flags: set, environ=os.environ) -> bool:
    """True if MKL should be told to use AVX2: an AMD CPU with AVX2 + FMA, the switch unset."""
    return (vendor == "AuthenticAMD" and {"avx2", "fma"} <= flags
            and environ.get(ENV_VAR) is None)


def use_avx2_on_amd(environ=os.environ) -> bool:
    """Set ``MKL_DEBUG_CPU_TYPE=5`` where :func:`wants_avx2_switch` says so; True if it did."""
    vendor, flags = _cpu_info()
    if not wants_avx2_switch(vendor, flags, environ):
        return False
    environ[ENV_VAR] = AVX2
    return True
