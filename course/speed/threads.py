"""How many threads Paddle's CPU kernels use (its OpenMP: MKL's and oneDNN's too).

Paddle has no public call for either; they live here with the project's other uses of its
internals, and ``course.engine.device`` offers them to the rest of the code.
"""
from __future__ import annotations

import paddle

from .onednn import threads


def get_num_threads() -> int:
    """The thread count now; a fresh process has 1 (Paddle's default)."""
    return threads() or 1


def set_num_threads(count: int) -> None:
    """Make Paddle's CPU kernels use ``count`` threads from now on."""
    paddle.base.core.set_num_threads(count)
