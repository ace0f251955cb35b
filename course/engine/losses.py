"""The classification loss the trainer uses: Paddle's cross-entropy, called without its Python wrapper.

Why: ``paddle.nn.functional.cross_entropy`` checks its arguments and builds a label mask it
does not use for the default settings (three extra operators) before it calls the kernel;
on one CPU core that is 0.1 ms of the course MLP's ~5 ms training step. For hard integer labels,
softmax on, mean over the batch and no class weights or ignored label (the trainer's only
case), it ends in the two calls below, so loss and gradients are bit-identical
(tests/test_short_steps.py).
"""
from __future__ import annotations

from paddle import _C_ops

_IGNORE_NONE = -100    # Paddle's default ignore_index: no label is ignored


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of ``logits`` [N, C] against int64 ``labels`` [N, 1]."""
    # (logits, label, soft_label, use_softmax, numeric_stable_mode, ignore_index, axis),
    # as paddle.nn.functional.cross_entropy passes them
    _, loss = _C_ops.cross_entropy_with_softmax(logits, labels, False, True, True, _IGNORE_NONE, -1)
    return _C_ops.mean_all(loss)
