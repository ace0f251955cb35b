"""The fast implementations ``course.speed.apply`` swaps into a built model.

- :class:`FastConv2D`: ``paddle.nn.Conv2D`` with the same parameters and state-dict keys, whose
  forward runs on oneDNN (``onednn.conv2d``) in dygraph on a CPU. Where oneDNN does not apply
  (another dtype, an unusable library) it runs Paddle's kernel with the bias added as
  ``[C, 1, 1]``: Paddle adds it as ``[1, C, 1, 1]``, a broadcast that its CPU kernel runs several
  times slower, with bit-identical results (tests/test_speed_apply.py).
- :func:`lenet_forward`: LeNet's ``pool(relu(conv(x)))`` blocks as one oneDNN function each
  (``block.py``), the model's own forward wherever the fused path does not apply.
- :class:`FastLinear`: ``paddle.nn.Linear`` calling Paddle's ``linear_v2`` operator directly
  (Paddle 3.3 and newer): ``F.linear`` reads a Paddle flag on every call, then calls ``linear``,
  which on a CPU takes longer for the same numbers. Bit-identical (tests/test_speed_apply.py).

Anything else (a GPU, a graph traced for export, NHWC, padding modes other than zeros) runs
``paddle.nn.Conv2D``'s own forward.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops

from .onednn import conv2d as onednn_conv2d
from .onednn import conv_relu_pool as onednn_conv_relu_pool


class FastConv2D(nn.Conv2D):
    """``paddle.nn.Conv2D`` (same arguments and parameters), on oneDNN's kernels in dygraph on a CPU."""

    def on_cpu_fast_path(self, x) -> bool:
        """Whether a call on ``x`` may take the fast paths: dygraph on a CPU, NCHW, zero padding.
        A graph being traced for export (which may run on any device) is Paddle's own forward."""
        return (paddle.in_dynamic_mode() and self._data_format == "NCHW"
                and self._padding_mode == "zeros" and x.place.is_cpu_place()
                and not (hasattr(x, "is_dist") and x.is_dist()))   # auto-parallel: Paddle's own

    def forward(self, x):
        if not self.on_cpu_fast_path(x):
            return super(FastConv2D, self).forward(x)
        out = onednn_conv2d(x, self.weight, self.bias, self._stride, self._updated_padding,
                            self._padding_algorithm, self._dilation, self._groups)
        if out is not None:
            return out
        if self.bias is None:
            return super(FastConv2D, self).forward(x)
        out = F.conv2d(x, self.weight, None, stride=self._stride, padding=self._padding,
                       dilation=self._dilation, groups=self._groups, data_format=self._data_format)
        return out + self.bias.unsqueeze([1, 2])


class FastLinear(nn.Linear):
    """``paddle.nn.Linear`` (same arguments and parameters), its operator called directly."""

    # Paddle 3.3 has it; before, there is only ``linear``, what F.linear calls: left to Paddle.
    direct = hasattr(_C_ops, "linear_v2")

    def forward(self, x):
        if self.direct and self.bias is not None and paddle.in_dynamic_mode():
            return _C_ops.linear_v2(x, self.weight, self.bias, False)   # False: weight is [in, out]
        return super(FastLinear, self).forward(x)


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _fusable(conv, pool, x) -> bool:
    """Whether ``pool(relu(conv(x)))`` may run as one oneDNN function: no forward hook on either
    layer (``paddle.flops`` and ch6's layer checks must see them run), a FastConv2D on its fast
    path, and a max-pool without padding, ceil mode or returned indices."""
    hooked = any(layer._forward_pre_hooks or layer._forward_post_hooks for layer in (conv, pool))
    return (not hooked and isinstance(conv, FastConv2D) and conv.on_cpu_fast_path(x)
            and isinstance(pool, nn.MaxPool2D) and pool.padding in (0, [0, 0])
            and not pool.ceil_mode and not pool.return_mask and pool.data_format == "NCHW")


def conv_relu_pool(conv, pool, x):
    """``pool(relu(conv(x)))`` as one oneDNN function where it can be, else the three layers."""
    if _fusable(conv, pool, x):
        kernel = _pair(pool.ksize)
        stride = _pair(pool.stride if pool.stride is not None else pool.ksize)
        out = onednn_conv_relu_pool(x, conv.weight, conv.bias, conv._stride, conv._updated_padding,
                                    conv._padding_algorithm, conv._dilation, conv._groups,
                                    kernel, stride)
        if out is not None:
            return out
    return pool(F.relu(conv(x)))


def lenet_forward(model, x):
    """``models.mnist_nets.LeNet.forward`` with each conv + ReLU + max-pool block fused: the same
    parameters, and the same numbers within float32 rounding (tests/test_fast_conv.py)."""
    x = conv_relu_pool(model.conv1, model.pool1, x)
    x = conv_relu_pool(model.conv2, model.pool2, x)
    return model.fc(paddle.flatten(x, start_axis=1))
