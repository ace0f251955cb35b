"""Speed on a CPU, in one place, behind one setting (``--fast-kernels``, on by default).

The models a learner reads (``models/``) are plain Paddle. :func:`apply` makes a built model
(and its optimizer) faster on a CPU without changing its parameters or state-dict keys, and is the only code in the
project that uses Paddle's private APIs or native libraries (tests/test_architecture.py checks):

- every ``paddle.nn.Conv2D`` becomes a :class:`~course.speed.layers.FastConv2D`, whose forward
  and backward run on the oneDNN library the paddlepaddle wheel ships (``onednn.py``);
- LeNet's conv + ReLU + max-pool blocks run as one oneDNN function each (``block.py``);
- every ``paddle.nn.Linear`` calls its operator directly (:class:`~course.speed.layers.FastLinear`),
  a plain SGD optimizer steps by its kernel alone, and the trainer's cross-entropy is the two
  kernel calls ``F.cross_entropy`` ends in (``steps.py``; bit-identical, Python saved per step);
- the process is tuned once (:func:`tune_process`): MKL's AVX2 kernels on AMD processors
  (``mkl.py``) and freed memory kept for reuse (``malloc.py``).

Results equal Paddle's own kernels within float32 rounding, not bit for bit, which over a run
can move the last digits of its accuracy; so the setting is part of a run's identity, and a run
resumes bit for bit with the setting it started with. Where a path cannot apply (a GPU, a graph
traced for export, a Paddle whose oneDNN cannot be loaded) Paddle's own kernels run, and the
first time that happens for a reason other than the device it prints one line.
Side-by-side figures: docs/performance.md.
"""
from __future__ import annotations

import paddle.nn as nn

from models.mnist_nets import LeNet

from . import onednn
from .layers import FastConv2D, FastLinear, lenet_forward
from .malloc import keep_freed_memory
from .mkl import use_avx2_on_amd
from .steps import cross_entropy, shorten_sgd_step

_tuned = []


def tune_process() -> None:
    """Set the process-wide knobs once: MKL's dispatch (read at MKL's first call, so this runs
    before a model's first step) and glibc's malloc thresholds."""
    if not _tuned:
        _tuned.append((use_avx2_on_amd(), keep_freed_memory()))


_FAST_LAYERS = {nn.Conv2D: FastConv2D, nn.Linear: FastLinear}


def apply(model: nn.Layer, optimizer=None) -> int:
    """Swap the fast implementations into ``model`` (and ``optimizer``, if given: SGD's short
    step); returns how many layers changed.

    Same parameters, state-dict keys, optimizer state and (within float32 rounding) numbers.
    Calling it twice changes nothing more.
    """
    tune_process()
    changed = 0
    for layer in model.sublayers(include_self=True):
        if type(layer) in _FAST_LAYERS:
            layer.__class__ = _FAST_LAYERS[type(layer)]
            changed += 1
    if isinstance(model, LeNet) and "forward" not in vars(model):   # the one fused network
        model.forward = lenet_forward.__get__(model)
        changed += 1
    if optimizer is not None:
        shorten_sgd_step(optimizer)
    return changed


def apply_to_trainer(trainer) -> None:
    """:func:`apply` to a Trainer's model and optimizer, and its cross-entropy made the short one."""
    apply(trainer.model, trainer.optimizer)
    trainer.cross_entropy = cross_entropy


def is_applied(model: nn.Layer) -> bool:
    """Whether :func:`apply` has sped up ``model``."""
    return any(isinstance(layer, tuple(_FAST_LAYERS.values()))
               for layer in model.sublayers(include_self=True))


enabled, set_enabled = onednn.enabled, onednn.set_enabled

__all__ = ["apply", "apply_to_trainer", "cross_entropy", "enabled", "is_applied", "set_enabled",
           "tune_process"]
