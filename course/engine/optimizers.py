"""Optimizers by name, with the defaults of the framework a run names: Paddle's, Keras's or PyTorch's.

The registry maps a short, lower-case name to a Paddle optimizer class and the settings a learner
may change (PaddleClas ``build_optimizer``, as a dict, never an ``eval`` of a string). A setting
is given in the name, ``'momentum(momentum=0.5)'`` or ``'adam(beta2=0.99)'``; every setting not
given takes the value of the run's ``--defaults``: ``paddle`` (Paddle 3's own defaults, what the
course's fluid code ran with), ``keras`` (Keras 3, what the Keras articles ran with) or ``torch``
(PyTorch 2). The same name means a different optimizer in each: Adam's epsilon is 1e-8 in Paddle
and PyTorch and 1e-7 in Keras; RMSProp's rho is 0.95, 0.9 and 0.99 (PyTorch's ``alpha``).
The values below were read from each library's source (Paddle 3.3 ``python/paddle/optimizer``,
Keras 3 ``keras/src/optimizers``, PyTorch 2.13 ``torch/optim``). 'momentum' and 'nesterov' are
SGD with momentum 0.9 in all three: Keras's and PyTorch's SGD default to no momentum at all, and
'sgd' is that. Keras has no RAdam and PyTorch no LAMB: asking for them is an error.

Where Paddle's class computes a framework's rule with other numbers, they are mapped: Keras's
NAdam decays its momentum by 0.96**t, which is Paddle's ``momentum_decay=1`` (PyTorch's and
Paddle's is 0.96**(0.004 t)); Keras's LAMB scales every step by its trust ratio, Paddle's
``always_adapt=True``. Where no Paddle setting can express the rule, the run keeps Paddle's rule
with the framework's numbers (tests/test_framework_rules.py measures each departure):

- Keras Adam, AdamW: epsilon is added to sqrt(v) before the bias correction ("epsilon hat"),
  i.e. to sqrt(v_hat) as epsilon / sqrt(1 - beta2**t), which shrinks to epsilon over the first
  few thousand steps; Paddle adds a constant epsilon. Only gradients below ~1e-5 notice.
- Keras Adagrad: epsilon inside the square root; Paddle's outside. Keras's accumulator starts
  at 0.1, so the two differ by less than 3e-7 relative.
- PyTorch RMSProp: epsilon outside the square root, Paddle's inside: the run passes epsilon**2,
  since sqrt(v + eps**2) is sqrt(v) + eps to within eps / sqrt(v) relative (and a factor of at
  most sqrt(2) where sqrt(v) is near eps).
- Keras and PyTorch Adamax: epsilon after the max (Keras) or on |g| (PyTorch); Paddle adds it to
  beta2 * u inside the max, where it accumulates towards epsilon / (1 - beta2).
- Keras SGD with momentum keeps the rate inside its velocity (v = mu v - lr g): the same steps
  as Paddle's v = mu v + g, w -= lr v while the rate is constant; after a rate change Keras's
  velocity still carries the old rates for a while.

Weight decay is always the run's ``--weight-decay`` (the course's L2 regularisation, 正则化), never
a framework's default decay (AdamW's 0.01 in Paddle and PyTorch, 0.004 in Keras): Paddle adds
``weight_decay * w`` to the gradient for every optimizer here except two. AdamW's decay is
decoupled (``w -= lr * weight_decay * w``), and LAMB's goes into the update its trust ratio
scales (``lamb_weight_decay``). tests/test_optimizer_rules.py checks Paddle's steps by hand in
NumPy, tests/test_framework_rules.py Keras's and PyTorch's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from course import compat
from course.engine.errors import ConfigError
from course.speed.steps import fp32_on_cpu

FRAMEWORKS = ("paddle", "keras", "torch")    # the order of every defaults tuple below


@dataclass(frozen=True)
class Entry:
    """How one registered optimizer is built."""

    paddle_class: str       # a name in paddle.optimizer, looked up when built (Paddle 2.6 lacks some)
    summary: str            # one line, for --help and the report
    settings: dict          # setting (a keyword of the class) -> its default under each FRAMEWORKS
    fixed: dict = field(default_factory=dict)     # keywords the name itself implies
    decay: tuple = ("weight_decay", None)         # (keyword taking --weight-decay, its value at 0)

    def available(self, framework: str) -> bool:
        """Whether ``framework`` has this optimizer (a None default: it has not)."""
        index = FRAMEWORKS.index(framework)
        return all(values[index] is not None for values in self.settings.values())


def _all(value):
    return (value, value, value)


_BETAS = {"beta1": _all(0.9), "beta2": _all(0.999)}
# name -> Entry; the defaults tuples are (paddle, keras, torch)
OPTIMIZERS = {
    "sgd": Entry("SGD", "plain stochastic gradient descent", {}),
    "momentum": Entry("Momentum", "SGD with momentum (heavy ball)", {"momentum": _all(0.9)}),
    "nesterov": Entry("Momentum", "Nesterov accelerated momentum", {"momentum": _all(0.9)},
                      fixed={"use_nesterov": True}),
    "adagrad": Entry("Adagrad", "per-parameter rate from summed squared gradients",
                     {"epsilon": (1e-6, 1e-7, 1e-10), "initial_accumulator_value": (0.0, 0.1, 0.0)}),
    "rmsprop": Entry("RMSProp", "AdaGrad with a moving average of squared gradients",
                     {"rho": (0.95, 0.9, 0.99), "epsilon": (1e-6, 1e-7, 1e-8), "momentum": _all(0.0),
                      "centered": _all(False)}),
    "adam": Entry("Adam", "momentum + RMSProp with bias correction",
                  {**_BETAS, "epsilon": (1e-8, 1e-7, 1e-8)}),
    "adamw": Entry("AdamW", "Adam with decoupled weight decay", {**_BETAS, "epsilon": (1e-8, 1e-7, 1e-8)},
                   decay=("weight_decay", 0.0)),
    "adadelta": Entry("Adadelta", "AdaGrad variant with unit-corrected steps",
                      {"rho": (0.95, 0.95, 0.9), "epsilon": (1e-6, 1e-7, 1e-6)}),
    "adamax": Entry("Adamax", "Adam with an infinity-norm second moment",
                    {**_BETAS, "epsilon": (1e-8, 1e-7, 1e-8)}),
    "nadam": Entry("NAdam", "Adam with Nesterov momentum",
                   {**_BETAS, "epsilon": (1e-8, 1e-7, 1e-8), "momentum_decay": (0.004, 1.0, 0.004)}),
    "radam": Entry("RAdam", "Adam with a rectified warm-up of the variance",
                   {**_BETAS, "epsilon": (1e-8, None, 1e-8)}),
    "lamb": Entry("Lamb", "layer-wise adaptive Adam (large batches)",
                  {**_BETAS, "epsilon": (1e-6, 1e-7, None)}, decay=("lamb_weight_decay", 0.0)),
}

# Spellings learners copy from Keras, PyTorch or the old fluid API.
ALIASES = {"nag": "nesterov", "sgdm": "momentum", "adam_w": "adamw"}
# A setting's allowed values: [low, high) (high None: no upper bound).
_RANGES = {"beta1": (0.0, 1.0), "beta2": (0.0, 1.0), "rho": (0.0, 1.0), "momentum": (0.0, 1.0),
           "epsilon": (0.0, None), "initial_accumulator_value": (0.0, None),
           "momentum_decay": (0.0, None)}
_SPEC = re.compile(r"\s*([A-Za-z_][\w]*)\s*(?:\((.*)\))?\s*$", re.S)


def available_optimizers() -> list:
    """The registry's names this Paddle can build, in the registry's order (course/compat.py:
    Paddle 2.6 has no NAdam or RAdam)."""
    return [key for key, entry in OPTIMIZERS.items() if compat.optimizer_class(entry.paddle_class)]


def canonical_optimizer(name: str) -> str:
    """Return the registry key for ``name`` (case-insensitive), or raise ConfigError listing the
    choices (or, for one this Paddle lacks, naming the Paddle that has it)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; choose from: {', '.join(available_optimizers())}")
    if compat.optimizer_class(OPTIMIZERS[key].paddle_class) is None:
        raise ConfigError(f"{key}: {compat.missing_optimizer(OPTIMIZERS[key].paddle_class)}")
    return key


def parse_optimizer(text: str) -> tuple[str, dict]:
    """'momentum(momentum=0.5)' -> ('momentum', {'momentum': 0.5}); 'adam' -> ('adam', {}).

    Values are numbers or true/false; the name is canonical and the settings are checked against
    it (``check_settings``) except for their values' ranges and the framework.
    """
    match = _SPEC.match(str(text))
    if not match:
        raise ConfigError(f"expected an optimizer name, optionally with settings as in "
                          f"'momentum(momentum=0.5)', got {text!r}")
    name, inside = canonical_optimizer(match.group(1)), match.group(2) or ""
    settings = {}
    for item in filter(None, (part.strip() for part in inside.split(","))):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise ConfigError(f"{name}: expected setting=value in {text!r}, got {item!r}")
        settings[key] = {"true": True, "false": False}.get(value.lower(), _number(value))
    return name, settings


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text          # check_settings names it as ill-typed


def check_settings(name: str, settings: dict, framework: str = "paddle") -> dict:
    """``settings`` for optimizer ``name`` under ``framework``'s defaults, checked and normalised
    (numbers as floats), or a one-line ConfigError naming the optimizer and its valid settings."""
    if framework not in FRAMEWORKS:
        raise ConfigError(f"--defaults: unknown framework {framework!r}; choose one of "
                          f"{', '.join(FRAMEWORKS)}")
    entry = OPTIMIZERS[canonical_optimizer(name)]
    if not entry.available(framework):
        others = [f for f in FRAMEWORKS if entry.available(f)]
        raise ConfigError(f"--defaults: {framework} has no {name} optimizer; use --defaults "
                          f"{' or '.join(others)}, or another optimizer")
    valid = ", ".join(entry.settings) or "none"
    checked = {}
    for key, value in settings.items():
        if key not in entry.settings:
            raise ConfigError(f"{name}: unknown setting {key!r}; valid settings: {valid}")
        checked[key] = _checked_value(name, key, value, entry.settings[key][0], valid)
    return dict(sorted(checked.items()))     # one order: equal settings, equal config.json


def _checked_value(name: str, key: str, value, default, valid: str):
    kind = bool if isinstance(default, bool) else float
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, (bool, int, float)):
        raise ConfigError(f"{name}: {key} must be {'true or false' if kind is bool else 'a number'}, "
                          f"got {value!r}; valid settings: {valid}")
    if kind is bool:
        return value
    low, high = _RANGES[key]
    if not (low <= value and (high is None or value < high)):
        where = f">= {low:g}" if high is None else f"in [{low:g}, {high:g})"
        raise ConfigError(f"{name}: {key} must be {where}, got {value:g}")
    return float(value)


def describe(name: str, settings: dict) -> str:
    """The optimizer as a report names it: 'momentum(momentum=0.5)', or 'adam' without settings."""
    if not settings:
        return name
    return f"{name}({','.join(f'{k}={_text(v)}' for k, v in sorted(settings.items()))})"


def folder_part(name: str, settings: dict) -> str:
    """The same in a form safe for a folder name on every system and unquoted in a shell:
    'momentum_momentum=0.5', 'adam_beta1=0.8_beta2=0.99'."""
    return "".join([name, *(f"_{k}={_text(v)}" for k, v in sorted(settings.items()))])


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def resolved_settings(name: str, settings: dict | None = None, framework: str = "paddle") -> dict:
    """Every setting of optimizer ``name``: ``settings`` over ``framework``'s defaults."""
    entry = OPTIMIZERS[canonical_optimizer(name)]
    index = FRAMEWORKS.index(framework)
    return {**{k: values[index] for k, values in entry.settings.items()}, **(settings or {})}


def build_optimizer(name, learning_rate, parameters, weight_decay: float = 0.0,
                    settings: dict | None = None, defaults: str = "paddle"):
    """Build optimizer ``name`` over ``parameters`` with ``defaults``' values for every setting
    not in ``settings`` (``name`` may carry settings too: 'adam(beta2=0.99)').

    ``learning_rate`` is a float > 0 or a ``paddle.optimizer.lr.LRScheduler``; ``weight_decay`` is the
    L2 coefficient (0 = none). The values come from a RunConfig, which has checked them. Only
    trainable parameters are handed to Paddle, so a frozen backbone gets no optimizer state.
    """
    name, own = parse_optimizer(name)
    settings = check_settings(name, {**own, **(settings or {})}, defaults)
    entry = OPTIMIZERS[name]
    cls = compat.optimizer_class(entry.paddle_class)    # canonical_optimizer checked it is there
    trainable = [p for p in parameters if not p.stop_gradient]
    keywords = {**resolved_settings(name, settings, defaults), **entry.fixed}
    if defaults == "torch" and name == "rmsprop":
        keywords["epsilon"] **= 2        # PyTorch's epsilon is outside the root (module docstring)
    if defaults == "keras" and name == "lamb":
        keywords["always_adapt"] = True  # Keras scales every step by the trust ratio
    if name == "adam":
        # Paddle's multi-tensor path (made for GPUs) updates every weight in one kernel call; on
        # a CPU its per-parameter kernel is several times slower. Same rule, rounding-level
        # differences. fp32 weights on the CPU only (it refuses float64).
        keywords["use_multi_tensor"] = fp32_on_cpu(trainable)
    decay_keyword, off = entry.decay
    keywords[decay_keyword] = float(weight_decay) or off
    return cls(learning_rate=learning_rate, parameters=trainable, **keywords)
