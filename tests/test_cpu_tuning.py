"""What importing the models does to the process for CPU speed, with or without oneDNN:

- course.speed.malloc: freed memory stays in the process, so a training step's large buffers
  are not page-faulted in anew at every step (what made LeNet's pooling backward 4x slower);
- course.speed.mkl: Paddle's MKL takes its AVX2 path on AMD processors that have it.
"""
import ctypes
import resource
import statistics

import paddle
import pytest

import models  # noqa: F401  (importing the models sets the thresholds, as every run does)
from course import speed
from course.speed.malloc import keep_freed_memory
from course.speed.mkl import _cpu_info, wants_avx2_switch

PAGE = resource.getpagesize()


def faults_per_allocation(nbytes: int, times: int = 21) -> float:
    """The median of the minor page faults of a new filled tensor of ``nbytes``, freed again
    each time (the median: one allocation may still grow the heap)."""
    faults = []
    for _ in range(3 + times):   # the first ones may grow the heap
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        paddle.full([nbytes // 4], 1.0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(faults[3:])


def test_a_freed_buffer_is_reused_without_page_faults():
    if not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("this C library has no glibc mallopt")
    speed.tune_process()   # what course.speed.apply does before a model's first step
    nbytes = 16 << 20   # LeNet's largest step buffer is 4 MB; VGG's are larger
    # With glibc's defaults every allocation faults in all its pages (4,096 here, measured).
    assert faults_per_allocation(nbytes) < nbytes // PAGE // 40


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_a_users_own_malloc_setting_is_left_alone(name):
    assert keep_freed_memory({name: "131072"}) is False


@pytest.mark.parametrize("vendor,flags,env,expected", [
    ("AuthenticAMD", {"avx2", "fma", "sse2"}, {}, True),
    ("AuthenticAMD", {"avx", "sse2"}, {}, False),                  # no AVX2: MKL would crash
    ("GenuineIntel", {"avx2", "fma"}, {}, False),                   # MKL already picks its best
    ("AuthenticAMD", {"avx2", "fma"}, {"MKL_DEBUG_CPU_TYPE": "4"}, False),   # the user's choice
])
def test_mkl_is_switched_to_avx2_only_on_amd_cpus_that_have_it(vendor, flags, env, expected):
    assert wants_avx2_switch(vendor, flags, env) is expected


def test_cpuinfo_is_read_from_the_first_processor(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 fma\n\n"
                    "processor\t: 1\nvendor_id\t: Other\nflags\t\t: fpu\n")
    assert _cpu_info(str(info)) == ("AuthenticAMD", {"fpu", "avx2", "fma"})
    assert _cpu_info(str(tmp_path / "missing")) == ("", set())
