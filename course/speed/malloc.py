"""Keep freed memory in the process, so a training step's buffers are not page-faulted in anew.

Paddle's CPU allocator takes each tensor from the C library's ``malloc`` and gives it back at
once. glibc's defaults return large freed blocks to the system (blocks past the mmap threshold
are unmapped; free space at the top of the heap past the trim threshold is trimmed), so the
next step's buffer of the same size is new memory, and the kernel zero-fills it page by page on
first touch: a kernel that writes a fresh multi-megabyte gradient (LeNet's first max-pool
backward, the MLP's 784x512 weight gradient) then spends most of its time in page faults
(tests/test_cpu_tuning.py counts them).

This sets the two glibc thresholds, as ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
in the environment would before start-up: blocks up to 32 MiB (glibc's largest mmap threshold)
come from the heap, and the heap keeps up to 256 MiB of free space for reuse. A process's memory
then stays at its peak instead of shrinking between steps. Numbers do not change (the same
kernels on other addresses). Nothing is done where the C library has no ``mallopt`` (macOS,
Windows, musl) or where the user has set either variable.
"""
from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20    # glibc's maximum (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TRIM_THRESHOLD = 256 << 20
ENV_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory(environ=os.environ) -> bool:
    """Set glibc's mmap and trim thresholds as above; True if both were set."""
    if any(name in environ for name in ENV_VARS):
        return False
    # The process's own symbols hold glibc's mallopt where there is one (ctypes.util's
    # find_library("c") would start a subprocess in every worker).
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                            TRIM_THRESHOLD))
