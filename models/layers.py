"""Layers the course's networks are built from, where Paddle's own is slow on a CPU.

``Conv2D`` is ``paddle.nn.Conv2D`` with its bias added in a faster way. Paddle adds a conv's
bias as a ``[1, C, 1, 1]`` tensor, and on a CPU (Paddle 3.3) that broadcast add is about 5x
slower than adding the same bias as ``[C, 1, 1]``: for LeNet's first conv on a batch of 64
the add took 10.5 ms and the convolution itself 4.2 ms. Adding it as ``[C, 1, 1]`` gives
bit-identical outputs and gradients (tests/test_layers.py) and trains LeNet about 1.5x faster
(bench/bench_training.py measures both side by side). Same parameters and names, so weights
and checkpoints are interchangeable with ``paddle.nn.Conv2D``.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Conv2D(nn.Conv2D):
    """``paddle.nn.Conv2D`` (same arguments), with the bias added as ``[C, 1, 1]`` on a CPU."""

    def forward(self, x):
        # The fast path covers what the course uses in dygraph on a CPU; anything else, and a
        # graph being traced for export (which may run on any device), is Paddle's own forward.
        if (not paddle.in_dynamic_mode() or self.bias is None or self._data_format != "NCHW"
                or self._padding_mode != "zeros" or not x.place.is_cpu_place() or x.is_dist()):
            return super().forward(x)
        out = F.conv2d(x, self.weight, None, stride=self._stride, padding=self._padding,
                       dilation=self._dilation, groups=self._groups, data_format=self._data_format)
        return out + self.bias.unsqueeze([1, 2])
