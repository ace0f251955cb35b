"""Optimizers by name: the course's SGD / Momentum / AdaGrad / RMSProp / Adam and the rest Paddle ships.

The registry maps a short, lower-case name to a function that builds the Paddle optimizer, so a
sweep is a list of names, never an `eval` of a string (PaddleClas `build_optimizer`, as a dict).

Weight decay is the course's L2 regularisation (ch. "正则化"): Paddle adds ``weight_decay * w`` to
the gradient for every optimizer here except two. AdamW's decay is decoupled from the gradient
(Loshchilov & Hutter: ``w -= lr * weight_decay * w``; Paddle's default 0.01 is 0 here unless asked
for), and LAMB's goes into the update its trust ratio scales (``lamb_weight_decay``).
(tests/test_optimizer_rules.py checks every optimizer's step against these rules, by hand in NumPy.)
"""
from __future__ import annotations

import paddle

from course import compat
from course.engine.errors import ConfigError


def _fp32_on_cpu(parameters) -> bool:
    return all(p.dtype == paddle.float32 and p.place.is_cpu_place() for p in parameters)


def _adam(learning_rate, parameters, weight_decay):
    # Paddle's CPU `adam` kernel took 5.5 ms a step for the course MLP's 535k weights (as long
    # as the rest of the training step); its multi-tensor path (`merged_adam`, Paddle's own,
    # made for GPUs) took 0.8 ms. Same rule, rounding-level differences. Only for fp32 weights
    # (the multi-tensor path refuses float64, which tools/optimizer_paths uses) on the CPU: the
    # GPU keeps the default path (it could not be measured here).
    return paddle.optimizer.Adam(learning_rate=learning_rate, parameters=parameters,
                                 weight_decay=weight_decay or None,
                                 use_multi_tensor=_fp32_on_cpu(parameters))


def _plain(class_name, **fixed):
    """A builder for ``paddle.optimizer.<class_name>``, which takes (learning_rate, parameters,
    weight_decay); the class is looked up when it builds (not every Paddle has every one)."""
    def build(learning_rate, parameters, weight_decay):
        return getattr(paddle.optimizer, class_name)(learning_rate=learning_rate, parameters=parameters,
                                                     weight_decay=weight_decay or None, **fixed)
    return build


def _adamw(learning_rate, parameters, weight_decay):
    return paddle.optimizer.AdamW(learning_rate=learning_rate, parameters=parameters,
                                  weight_decay=weight_decay or 0.0)


# name -> (builder, one-line description shown by --help and in the report)
OPTIMIZERS = {
    "sgd": (_plain("SGD"), "plain stochastic gradient descent"),
    "momentum": (_plain("Momentum", momentum=0.9),
                 "SGD with momentum 0.9 (heavy ball)"),
    "nesterov": (_plain("Momentum", momentum=0.9, use_nesterov=True),
                 "Nesterov accelerated momentum 0.9"),
    "adagrad": (_plain("Adagrad"), "per-parameter rate from summed squared gradients"),
    "rmsprop": (_plain("RMSProp", rho=0.9),
                "AdaGrad with a moving average (rho 0.9, as Keras; PyTorch's alpha is 0.99)"),
    "adam": (_adam, "momentum + RMSProp with bias correction"),
    "adamw": (_adamw, "Adam with decoupled weight decay"),
    "adadelta": (_plain("Adadelta"), "AdaGrad variant with unit-corrected steps"),
    "adamax": (_plain("Adamax"), "Adam with an infinity-norm second moment"),
    "nadam": (_plain("NAdam"), "Adam with Nesterov momentum"),
    "radam": (_plain("RAdam"), "Adam with a rectified warm-up of the variance"),
    "lamb": (lambda learning_rate, parameters, weight_decay: paddle.optimizer.Lamb(
        learning_rate=learning_rate, parameters=parameters, lamb_weight_decay=weight_decay or 0.0),
        "layer-wise adaptive Adam (large batches)"),
}

# The optimizers not every supported Paddle has (course/compat.py): registry key -> Paddle class.
NEWER = {"nadam": "NAdam", "radam": "RAdam"}

# Spellings learners copy from Keras, PyTorch or the old fluid API.
ALIASES = {"nag": "nesterov", "sgdm": "momentum", "adam_w": "adamw"}


def available_optimizers() -> list:
    """The registry's names this Paddle can build, in the registry's order."""
    return [key for key in OPTIMIZERS if key not in NEWER or compat.optimizer_class(NEWER[key])]


def canonical_optimizer(name: str) -> str:
    """Return the registry key for ``name`` (case-insensitive), or raise ConfigError listing the
    choices (or, for one this Paddle lacks, naming the Paddle that has it)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; choose from: {', '.join(available_optimizers())}")
    if key not in available_optimizers():
        raise ConfigError(f"{key}: {compat.missing_optimizer(NEWER[key])}")
    return key


def build_optimizer(name, learning_rate, parameters, weight_decay: float = 0.0):
    """Build optimizer ``name`` over ``parameters``.

    ``learning_rate`` is a float > 0 or a ``paddle.optimizer.lr.LRScheduler``; ``weight_decay`` is the
    L2 coefficient (0 = none). The values come from a RunConfig, which has checked them. Only
    trainable parameters are handed to Paddle, so a frozen backbone gets no optimizer state.
    """
    builder, _ = OPTIMIZERS[canonical_optimizer(name)]
    trainable = [p for p in parameters if not p.stop_gradient]
    return builder(learning_rate, trainable, float(weight_decay))
