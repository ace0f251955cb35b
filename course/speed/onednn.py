"""Convolutions on oneDNN's CPU kernels, the ones PyTorch's CPU convolutions use, for Paddle dygraph.

Paddle's dygraph ``conv2d`` on a CPU is im2col + GEMM, one image at a time, and ignores a second
thread. The paddlepaddle wheel ships oneDNN (``paddle/libs/libdnnl.so.3``) but dygraph never
selects its oneDNN kernels (they are chosen only for tensors already in oneDNN's layout, which no
Python tensor is), and ``FLAGS_use_mkldnn`` only reaches static graphs. This module calls the
shipped library itself (``dnnl.py``, through ctypes: nothing to compile) and wraps forward and
backward as an autograd function (``conv.py``, ``block.py``). Outputs and gradients equal
Paddle's within float32 rounding (tests/test_fast_conv.py).

:func:`conv2d` and :func:`conv_relu_pool` return None where they do not apply (not float32, not
4-D, an unusable library, no optimized kernel for the shape); the caller then runs Paddle's own
kernel, and the first such fallback for a reason other than the tensor's type prints one line.
"""
from __future__ import annotations

import ctypes
import os

import paddle

from .dnnl import DnnlError, library

_state = {"disabled": False, "warned": False, "failed": set(), "omp": None}


def _warn_once(message: str) -> None:
    if not _state["warned"]:
        _state["warned"] = True
        print(f"course.speed: {message}; using Paddle's own convolution kernels"
              " (said once per process)", flush=True)


def enabled() -> bool:
    """True if convolutions may run on oneDNN here (the library loads, and it is not turned off)."""
    if _state["disabled"]:
        return False
    try:
        library()
    except (DnnlError, OSError, AttributeError) as error:
        _state["disabled"] = True
        _warn_once(f"oneDNN cannot be used ({error})")
        return False
    return True


def set_enabled(flag: bool) -> None:
    """Let convolutions run on oneDNN in this process, or not (tests compare both kernels)."""
    _state["disabled"] = not flag


def threads() -> int:
    """The OpenMP thread count oneDNN will use now (0 if it cannot be read)."""
    if _state["omp"] is None:
        _state["omp"] = lambda: 0
        path = os.path.join(os.path.dirname(paddle.__file__), "libs", "libiomp5.so")
        try:   # Paddle's own OpenMP runtime: the one oneDNN's threads come from in its wheel
            _state["omp"] = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0)).omp_get_max_threads
        except (OSError, AttributeError):
            pass
    return _state["omp"]()


def _paddings(padding, algorithm, x_shape, w_shape, stride, dilation):
    """(top, left), (bottom, right), dilation as Paddle's conv2d resolves them; None if unknown."""
    if algorithm == "VALID":
        return (0, 0), (0, 0), dilation
    if algorithm == "SAME":   # Paddle's UpdatePaddingAndDilation: SAME ignores the dilation
        pads = []
        for size, k, s in zip(x_shape[2:], w_shape[2:], stride):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        return (pads[0][0], pads[1][0]), (pads[0][1], pads[1][1]), (1, 1)
    if algorithm != "EXPLICIT" or not all(isinstance(p, int) for p in padding):
        return None
    if len(padding) == 2:
        return tuple(padding), tuple(padding), dilation
    if len(padding) == 4:   # [top, bottom, left, right]
        return (padding[0], padding[2]), (padding[1], padding[3]), dilation
    return None


def _conv_key(x, weight, bias, stride, padding, algorithm, dilation, groups):
    """ConvPlan's arguments for this call, or None where the fast path does not apply."""
    if not enabled() or x.ndim != 4 or x.dtype != paddle.float32 or weight.dtype != paddle.float32:
        return None
    stride, dilation = tuple(stride), tuple(dilation)
    resolved = _paddings(list(padding), algorithm, x.shape, weight.shape, stride, dilation)
    if resolved is None:
        return None
    pad_l, pad_r, dilation = resolved
    out_hw = [(size + lo + hi - d * (k - 1) - 1) // s + 1 for size, lo, hi, d, k, s in
              zip(x.shape[2:], pad_l, pad_r, dilation, weight.shape[2:], stride)]
    if min(out_hw) < 1 or x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups:
        return None   # Paddle's kernel raises its own error for these
    return (tuple(x.shape), tuple(weight.shape), bias is not None, stride, pad_l, pad_r, dilation,
            groups)


def _plan(make, key):
    """``make()``, or None after printing (once) why oneDNN cannot run the case ``key`` names (a
    conv, or a fused block: a block oneDNN refuses leaves its plain conv on oneDNN)."""
    if key in _state["failed"]:
        return None
    try:
        return make()
    except DnnlError as error:
        _state["failed"].add(key)
        _warn_once(str(error))
        return None


def conv2d(x, weight, bias, stride, padding, algorithm, dilation, groups):
    """``F.conv2d(x, weight, bias, stride, padding, dilation, groups)`` on oneDNN, NCHW, float32.

    ``padding`` and ``algorithm`` are what ``paddle.nn.Conv2D`` keeps as ``_updated_padding``
    and ``_padding_algorithm``. Returns None where the fast path does not apply; the caller
    then runs Paddle's kernel.
    """
    key = _conv_key(x, weight, bias, stride, padding, algorithm, dilation, groups)
    if key is None:
        return None
    from .conv import apply_plan, plan_for

    plan = _plan(lambda: plan_for(*key, threads()), key)
    return None if plan is None else apply_plan(x, weight, bias, plan)


def conv_relu_pool(x, weight, bias, stride, padding, algorithm, dilation, groups, kernel,
                   pool_stride):
    """``max_pool2d(relu(conv2d(x, weight, bias, ...)), kernel, pool_stride)`` as one oneDNN
    function (block.py); None where it does not apply. Pooling without padding, floor mode."""
    key = _conv_key(x, weight, bias, stride, padding, algorithm, dilation, groups)
    if key is None:
        return None
    from .block import BlockPlan
    from .conv import apply_plan, cached

    pool_key = ("block", key, tuple(kernel), tuple(pool_stride), threads())
    plan = _plan(lambda: cached(pool_key, lambda: BlockPlan(key, kernel, pool_stride)), pool_key)
    return None if plan is None else apply_plan(x, weight, bias, plan)


__all__ = ["conv2d", "conv_relu_pool", "enabled", "set_enabled", "threads"]
