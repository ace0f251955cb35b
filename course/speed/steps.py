"""The two calls of a training step that Paddle wraps in Python it has nothing to do in:
SGD's ``step`` and the cross-entropy. Both end in the same kernels as Paddle's own code, so the
numbers are bit-identical (tests/test_speed_steps.py); the saving is the Python Paddle runs
around its kernels on every step, which matters most for a small network (docs/performance.md
has the figures).
"""
from __future__ import annotations

import paddle
from paddle import _C_ops

_IGNORE_NONE = -100    # F.cross_entropy's default ignore_index: no label is ignored


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of ``logits`` [N, C] against int64 ``labels`` [N, 1].

    What ``F.cross_entropy(logits, labels)`` computes in dygraph with its defaults (hard labels,
    softmax on, mean over the batch, no class weights, no ignored label), without its argument
    checks and the label mask it builds and, for those settings, never uses.
    """
    if not paddle.in_dynamic_mode():
        return paddle.nn.functional.cross_entropy(logits, labels)
    # (logits, label, soft_label, use_softmax, numeric_stable_mode, ignore_index, axis),
    # as F.cross_entropy passes them
    _, loss = _C_ops.cross_entropy_with_softmax(logits, labels, False, True, True, _IGNORE_NONE, -1)
    return _C_ops.mean_all(loss)


def fp32_on_cpu(parameters) -> bool:
    """Whether every parameter is float32 on the CPU: where the CPU's short paths apply."""
    return all(p.dtype == paddle.float32 and p.place.is_cpu_place() for p in parameters)


class ShortStepSGD(paddle.optimizer.SGD):
    """Paddle's SGD whose step, where it is nothing but ``w -= lr * g``, is the kernel calls alone.

    ``Optimizer.step`` walks Paddle's general machinery (program guards, gradient clipping,
    regularisation, accumulators, a decorated call per parameter), mostly Python. Where it has
    nothing to do (fp32 parameters on the CPU, one parameter group, no weight decay, clipping,
    per-parameter rate or regulariser) this step refreshes the learning-rate tensor as Paddle's
    does (a schedule's rate is copied in) and runs Paddle's ``sgd_`` kernel on each parameter.
    The first step, anything else, and graphs traced for export take Paddle's own step.
    """

    _short_ok = None   # whether the short step applies: decided after the first step

    def _short_step_applies(self) -> bool:
        params = self._parameter_list
        return (bool(params) and not isinstance(params[0], dict) and self.regularization is None
                and self._grad_clip is None and fp32_on_cpu(params)
                and all(getattr(p, "regularizer", None) is None
                        and (p.optimize_attr or {}).get("learning_rate", 1.0) == 1.0
                        for p in params))

    def step(self) -> None:
        if self._short_ok is None or not paddle.in_dynamic_mode():
            # The first step is Paddle's own: it creates the learning-rate tensor and whatever
            # else Paddle sets up lazily. The parameters' settings do not change after it.
            super(ShortStepSGD, self).step()
            self._short_ok = self._short_step_applies()
            return
        if not self._short_ok:
            return super(ShortStepSGD, self).step()
        self._create_global_learning_rate()
        lr = self._global_learning_rate()
        with paddle.no_grad():
            for p in self._parameter_list:
                grad = p._grad_ivar()
                if grad is not None and not p.stop_gradient:
                    _C_ops.sgd_(p, lr, grad, None, False)


def shorten_sgd_step(optimizer) -> bool:
    """Give a built ``paddle.optimizer.SGD`` the short step; whether it did (other classes keep
    their own). Its state is untouched: only the class changes."""
    if type(optimizer) is not paddle.optimizer.SGD:
        return False
    optimizer.__class__ = ShortStepSGD
    return True
