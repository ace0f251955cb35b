"""Layers the course's networks are built from, where Paddle's own is slow on a CPU.

``Conv2D`` is ``paddle.nn.Conv2D`` (same arguments, parameters and names, so weights and
checkpoints are interchangeable) with a faster CPU path, in two steps:

1. On oneDNN (``models.fast_conv``): the library PyTorch's CPU convolutions use, which the
   paddlepaddle wheel ships but its dygraph never calls. Forward (bias included) and both
   backward passes run on oneDNN's jit kernels and use every thread Paddle is set to; on one
   thread LeNet trains ~1.8x faster than on Paddle's im2col + GEMM kernel, and ~1.3x faster than
   PyTorch (bench/bench_peer.py). Results equal Paddle's within float32 rounding, not bit for
   bit (tests/test_fast_conv.py).
2. Where oneDNN does not apply (another dtype, an unusable library, ``PADDLE_OPT_LAB_FAST_CONV=0``):
   Paddle's kernel with the bias added as ``[C, 1, 1]``. Paddle adds it as ``[1, C, 1, 1]``, and
   on a CPU (Paddle 3.3) that broadcast add is about 5x slower: for LeNet's first conv on a batch
   of 64 the add took 10.5 ms and the convolution 4.2 ms. Bit-identical to ``paddle.nn.Conv2D``
   (tests/test_layers.py), and LeNet trains about 1.5x faster than with it.

Anything else (a GPU, a graph traced for export, NHWC, padding modes other than zeros) runs
``paddle.nn.Conv2D``'s own forward.

``Linear`` is ``paddle.nn.Linear`` called without ``F.linear``'s per-call overhead, its weight
kept [out, in] (PyTorch's layout) for a network's input layer: see its docstring.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops
from paddle.base.framework import _current_expected_place_

from .fast_conv import conv2d as onednn_conv2d
from .fast_conv import conv_relu_pool as onednn_conv_relu_pool


class Conv2D(nn.Conv2D):
    """``paddle.nn.Conv2D`` (same arguments), on oneDNN's kernels in dygraph on a CPU."""

    def on_cpu_fast_path(self, x) -> bool:
        """Whether a call on ``x`` may take the fast paths: what the course uses, in dygraph on a
        CPU. Anything else, and a graph being traced for export (which may run on any device),
        is Paddle's own forward."""
        return (paddle.in_dynamic_mode() and self._data_format == "NCHW"
                and self._padding_mode == "zeros" and x.place.is_cpu_place() and not x.is_dist())

    def forward(self, x):
        if not self.on_cpu_fast_path(x):
            return super().forward(x)
        out = onednn_conv2d(x, self.weight, self.bias, self._stride, self._updated_padding,
                            self._padding_algorithm, self._dilation, self._groups)
        if out is not None:
            return out
        if self.bias is None:
            return super().forward(x)
        out = F.conv2d(x, self.weight, None, stride=self._stride, padding=self._padding,
                       dilation=self._dilation, groups=self._groups, data_format=self._data_format)
        return out + self.bias.unsqueeze([1, 2])


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def conv_relu_pool(conv: Conv2D, pool: nn.MaxPool2D, x):
    """``pool(relu(conv(x)))``, LeNet's block, fused into one oneDNN function where it can be.

    Same parameters and numbers (within float32 rounding) as the three layers one after the other,
    which is what runs anywhere the fused path does not apply: a conv or pool setting it does not
    cover (pool padding, ``ceil_mode``, ``return_mask``; the conv's own conditions), or where
    ``conv`` would not run on oneDNN by itself. Measured on LeNet, one thread: 1.16-1.20x the
    images per CPU second of the conv alone on oneDNN (bench_peer.py, before LeNet called it),
    and oneDNN's multi-threaded kernels then run ~83% of a step instead of ~64% (ONEDNN_VERBOSE),
    what a second thread can speed up. A network opts in by calling it in its ``forward``
    (``models.mnist_nets.LeNet`` does).
    """
    kernel, stride = _pair(pool.ksize), _pair(pool.stride if pool.stride is not None else pool.ksize)
    # A forward hook on either layer (paddle.flops, ch6's check_layers) must see it run: then
    # the layers run one after the other.
    hooked = any(layer._forward_pre_hooks or layer._forward_post_hooks for layer in (conv, pool))
    plain = (not hooked and isinstance(conv, Conv2D) and conv.on_cpu_fast_path(x)
             and isinstance(pool, nn.MaxPool2D) and pool.padding in (0, [0, 0])
             and not pool.ceil_mode and not pool.return_mask and pool.data_format == "NCHW")
    if plain:
        out = onednn_conv_relu_pool(x, conv.weight, conv.bias, conv._stride, conv._updated_padding,
                                    conv._padding_algorithm, conv._dilation, conv._groups, kernel,
                                    stride)
        if out is not None:
            return out
    return pool(F.relu(conv(x)))


def use_fast_conv(model: nn.Layer) -> int:
    """Make every ``paddle.nn.Conv2D`` in ``model`` a :class:`Conv2D`; returns how many changed.

    ``models.build_model`` calls it on every model it builds, for the ``paddle.vision`` networks
    (DenseNet121, MobileNetV2, the official VGG16, ...). Same parameters and state-dict keys:
    only the forward changes.
    """
    changed = 0
    for layer in model.sublayers(include_self=True):
        if type(layer) is nn.Conv2D:
            layer.__class__ = Conv2D
            changed += 1
    return changed


class Linear(nn.Linear):
    """``paddle.nn.Linear`` (same arguments, same initial values), faster on a CPU, with the
    weight stored [out_features, in_features] (PyTorch's layout) when ``transposed=True``.

    In dygraph on a CPU the layer runs the one operator ``nn.Linear`` runs there, Paddle's
    ``linear_v2`` (product and bias, the bias gradient a sum), called directly: ``F.linear`` looks
    up a Paddle flag on every call (~16 us). ``transposed`` is for a network's input layer (see
    ``models.mnist_nets.MLPRelu``): the MKL in the paddlepaddle wheel runs the plain product
    ``x @ W`` slowly when ``W``'s rows are 512 floats long, and for the MLP's first layer,
    [64, 784] x [784, 512], that took 1.20-1.44 ms on one core where ``x @ W.T`` with the weight
    stored [out, in] took 0.82-1.17. A layer whose input needs a gradient is better left [in, out]:
    its input gradient ``dy @ W.T`` is then the fast form, where the [out, in] layout makes it the
    slow one (the MLP's second layer: [64, 256] x [256, 512] 0.37-0.41 ms, against 0.27-0.29).
    The course MLP (784-512-256-10), one thread, SGD, one process, interleaved rounds: this way
    4.18-4.32 ms a step, against 4.43-4.82 with every layer [out, in] and the bias added as a
    product (this layer before), and 5.10-5.23 with ``nn.Linear`` layers.

    A transposed weight is drawn exactly as ``nn.Linear`` draws it (same seed, same values) and
    then transposed, so a model starts where the same model of ``nn.Linear`` layers starts;
    results then differ only by float32 rounding. :func:`adapt_linear_weights` reads weights saved
    in the other layout (the course's own ``.pdparams``, this project's older checkpoints).
    Elsewhere (a GPU, a graph traced for export) the layer runs ``nn.Linear``'s own forward, or
    ``x @ W.T + b`` for a transposed weight.
    """

    def __init__(self, in_features, out_features, weight_attr=None, bias_attr=None, name=None, *,
                 transposed=False):
        super().__init__(in_features, out_features, weight_attr, bias_attr, name)
        self.transposed = transposed
        if transposed:
            drawn = self.weight.numpy()
            # Same parameter object (its name, learning rate, regulariser stay), new shape and data.
            self.weight.get_tensor().set(np.ascontiguousarray(drawn.T), _current_expected_place_())

    def forward(self, x):
        if paddle.in_dynamic_mode() and x.place.is_cpu_place():
            if self.bias is None:
                return _C_ops.matmul(x, self.weight, False, self.transposed)
            return _C_ops.linear_v2(x, self.weight, self.bias, self.transposed)
        if not self.transposed:
            return super().forward(x)
        out = paddle.matmul(x, self.weight, transpose_y=True)
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        in_features, out_features = self.weight.shape[::-1] if self.transposed else self.weight.shape
        layout = ", transposed" if self.transposed else ""
        return f"in_features={in_features}, out_features={out_features}, dtype={self._dtype}{layout}"


def adapt_linear_weights(model: nn.Layer, state: dict) -> dict:
    """``state`` (a state dict for ``model``) with every :class:`Linear`'s weight that was saved in
    the other layout transposed to the layer's own: [in, out] files (``paddle.nn.Linear``'s, the
    course's ``.pdparams``) into a transposed layer, [out, in] ones (this project's checkpoints
    from commits a97c254 to 5fcf178, where every MLP layer was [out, in]) into a plain one.
    Returns ``state`` itself if nothing was transposed. A square weight cannot be told apart, so
    the course's networks transpose non-square layers only."""
    adapted = state
    for prefix, layer in model.named_sublayers(include_self=True):
        key = f"{prefix}.weight" if prefix else "weight"
        saved = state.get(key)
        if not isinstance(layer, Linear) or not hasattr(saved, "shape"):
            continue
        shape, own = list(saved.shape), list(layer.weight.shape)
        if shape != own and shape == own[::-1]:
            adapted = dict(adapted) if adapted is state else adapted
            adapted[key] = saved.T if isinstance(saved, np.ndarray) else saved.t()
    return adapted
