"""Learning-rate schedules by name: ``build_schedule('exponential', 1e-4, steps_per_epoch, epochs, ...)``.

Every schedule is a ``paddle.optimizer.lr.LRScheduler`` (pass it as the optimizer's
``learning_rate``) with an attribute ``step_unit``: the trainer calls ``scheduler.step()`` after
every batch ('batch') or after every epoch ('epoch'). Paddle's classes are used where they already
compute what the articles mean; two are written here where they do not:

- ``KerasExponentialDecay``: the film-star and coffee-bean articles use Keras
  ``ExponentialDecay(1e-4, decay_steps=60, decay_rate=0.96, staircase=True)``:
  ``lr = initial * decay_rate ** (step / decay_steps)``, floored in staircase mode.
  ``paddle.optimizer.lr.ExponentialDecay`` has no ``decay_steps`` and no ``staircase``: it
  multiplies by ``gamma`` at *every* ``step()``, so the same numbers decay 60 times too fast.
- ``ConstantLR``: Paddle has no constant scheduler; ``build_schedule('constant')`` gives this one.
  (A run with the default 'constant' schedule and no arguments uses no scheduler at all: its
  optimizer holds a plain float rate, which ReduceLROnPlateau can lower.)

Each schedule's position is in its ``state_dict()`` (``last_epoch``, ``last_lr``, and the wrapped
schedule's state for 'warmup'), so ``set_state_dict`` continues a resumed run identically.
"""
from __future__ import annotations

import inspect
import math
from typing import NamedTuple

from paddle.optimizer.lr import (CosineAnnealingDecay, LinearWarmup, LRScheduler, OneCycleLR,
                                 PolynomialDecay, StepDecay)

from course.engine.errors import ConfigError


class ConstantLR(LRScheduler):
    """The same rate at every step (Paddle has no such scheduler)."""

    def get_lr(self) -> float:
        return self.base_lr


class KerasExponentialDecay(LRScheduler):
    """Keras ``ExponentialDecay``: ``lr = initial * decay_rate ** (step / decay_steps)``.

    ``step`` counts optimizer steps (batches) from 0; with ``staircase`` the exponent is floored,
    so the rate drops by ``decay_rate`` once every ``decay_steps`` batches.
    """

    def __init__(self, learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, last_epoch: int = -1):
        self.decay_steps, self.decay_rate, self.staircase = decay_steps, decay_rate, staircase
        super().__init__(learning_rate, last_epoch)

    def get_lr(self) -> float:
        exponent = self.last_epoch / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.base_lr * self.decay_rate ** exponent


class _LinearWarmup(LinearWarmup):
    """Paddle's LinearWarmup, restoring its wrapped schedule's state without a spurious warning.

    (``LinearWarmup.set_state_dict`` counts the wrapped state as an "unused value" and warns.)
    """

    def set_state_dict(self, state_dict):
        state = dict(state_dict)
        inner = state.pop("LinearWarmup_LR", None)
        LRScheduler.set_state_dict(self, state)
        if isinstance(self.learning_rate, LRScheduler):
            self.learning_rate.set_state_dict(inner)


class _Plan(NamedTuple):
    learning_rate: float
    steps_per_epoch: int
    epochs: int
    total_steps: int      # batches the schedule runs over (less the warm-up when wrapped)


def _positive_int(name, value, schedule):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise ConfigError(f"schedule {schedule!r}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def _number(name, value, schedule, low=0.0, high=math.inf, low_open=False, high_open=False):
    bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
    # not math.isfinite: NaN passes every comparison below, and inf is no setting either
    if (bad_type or not math.isfinite(value) or value < low or (low_open and value == low)
            or value > high or (high_open and value == high)):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open or high == math.inf else ']'}"
        raise ConfigError(f"schedule {schedule!r}: {name} must be a finite number in {interval}, "
                          f"got {value!r}")
    return float(value)


def _constant(plan: _Plan):
    return ConstantLR(plan.learning_rate)


def _exponential(plan: _Plan, decay_steps=None, decay_rate=0.96, staircase=False):
    decay_steps = plan.steps_per_epoch if decay_steps is None else decay_steps
    return KerasExponentialDecay(plan.learning_rate,
                                 _positive_int("decay_steps", decay_steps, "exponential"),
                                 _number("decay_rate", decay_rate, "exponential", low_open=True),
                                 bool(staircase))


def _polynomial(plan: _Plan, end_lr=None, power=1.0):
    end_lr = plan.learning_rate * 0.1 if end_lr is None else end_lr
    return PolynomialDecay(plan.learning_rate, decay_steps=plan.total_steps,
                           end_lr=_number("end_lr", end_lr, "polynomial"),
                           power=_number("power", power, "polynomial", low_open=True))


def _step(plan: _Plan, step_size=None, gamma=0.1):
    step_size = max(1, plan.epochs // 3) if step_size is None else step_size
    return StepDecay(plan.learning_rate, _positive_int("step_size", step_size, "step"),
                     gamma=_number("gamma", gamma, "step", low_open=True, high_open=True, high=1.0))


def _cosine(plan: _Plan, eta_min=0.0):
    eta_min = _number("eta_min", eta_min, "cosine", high=plan.learning_rate)
    return CosineAnnealingDecay(plan.learning_rate, T_max=plan.total_steps, eta_min=eta_min)


def _onecycle(plan: _Plan, divide_factor=25.0, end_learning_rate=None, phase_pct=0.3,
              anneal_strategy="cos", three_phase=False):
    divide_factor = _number("divide_factor", divide_factor, "onecycle", low=1.0)
    if end_learning_rate is None:
        # PyTorch's final_div_factor: end 1e4 times below the starting rate, whatever the scale.
        end_learning_rate = plan.learning_rate / divide_factor / 1e4
    if anneal_strategy not in ("cos", "linear"):
        raise ConfigError(f"schedule 'onecycle': anneal_strategy must be 'cos' or 'linear', "
                          f"got {anneal_strategy!r}")
    high = 0.5 if three_phase else 1.0
    return OneCycleLR(plan.learning_rate, plan.total_steps, divide_factor=divide_factor,
                      end_learning_rate=_number("end_learning_rate", end_learning_rate, "onecycle"),
                      phase_pct=_number("phase_pct", phase_pct, "onecycle", low_open=True,
                                        high=high, high_open=three_phase),
                      anneal_strategy=anneal_strategy, three_phase=bool(three_phase))


class ScheduleSpec(NamedTuple):
    build: object          # (plan, **kwargs) -> LRScheduler
    step_unit: str         # 'batch' or 'epoch'
    summary: str


SCHEDULES: dict[str, ScheduleSpec] = {
    "constant": ScheduleSpec(_constant, "epoch", "learning_rate throughout"),
    "exponential": ScheduleSpec(_exponential, "batch", "Keras ExponentialDecay: lr * decay_rate ** "
                                "(step / decay_steps), floored with staircase; decay_steps defaults "
                                "to steps_per_epoch"),
    "polynomial": ScheduleSpec(_polynomial, "batch", "linear (power 1) from learning_rate to end_lr "
                               "(default learning_rate / 10) over all batches, as the course's "
                               "resume chapter (0.01 -> 0.001)"),
    "step": ScheduleSpec(_step, "epoch", "multiply by gamma every step_size epochs "
                         "(default epochs // 3)"),
    "cosine": ScheduleSpec(_cosine, "batch", "cosine annealing over all batches (not epochs) "
                           "from learning_rate to eta_min"),
    "onecycle": ScheduleSpec(_onecycle, "batch", "OneCycleLR peaking at learning_rate over all "
                             "batches"),
    "warmup": ScheduleSpec(None, "batch", "linear from start_lr to learning_rate over "
                           "warmup_steps batches (default one epoch), then the schedule named by "
                           "after= (default constant) over the remaining batches"),
}

_WARMUP_KEYS = ("warmup_steps", "start_lr", "after")


def _kwarg_names(name: str) -> list[str]:
    if name == "warmup":
        return list(_WARMUP_KEYS)
    return [p for p in inspect.signature(SCHEDULES[name].build).parameters if p != "plan"]


def _build_named(name: str, plan: _Plan, kwargs: dict) -> LRScheduler:
    if name not in SCHEDULES:
        raise ConfigError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    valid = _kwarg_names(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(f"schedule {name!r} got unknown argument(s) {', '.join(unknown)}; "
                          f"valid: {', '.join(valid) or 'none'}")
    scheduler = SCHEDULES[name].build(plan, **kwargs)
    scheduler.step_unit = SCHEDULES[name].step_unit
    return scheduler


def _warmup(plan: _Plan, kwargs: dict) -> LRScheduler:
    own = {k: kwargs.pop(k) for k in _WARMUP_KEYS if k in kwargs}
    after = own.get("after", "constant")
    if after not in SCHEDULES:
        raise ConfigError(f"schedule 'warmup': unknown after={after!r}; choose one of "
                          f"{', '.join(n for n in SCHEDULES if n != 'warmup')}")
    if after == "warmup" or (SCHEDULES[after].step_unit != "batch" and after != "constant"):
        raise ConfigError(f"schedule 'warmup': after={after!r} cannot follow a per-batch warm-up; "
                          "choose a per-batch schedule: "
                          + ", ".join(n for n, s in SCHEDULES.items() if s.step_unit == "batch"
                                      and n != "warmup") + " (or constant)")
    steps = own.get("warmup_steps", plan.steps_per_epoch)
    steps = _positive_int("warmup_steps", steps, "warmup")
    if steps >= plan.total_steps:
        raise ConfigError(f"schedule 'warmup': warmup_steps={steps} leaves no steps of the "
                          f"{plan.total_steps} in training")
    start_lr = _number("start_lr", own.get("start_lr", 0.0), "warmup",
                       high=plan.learning_rate, high_open=True)
    if after == "constant":
        if kwargs:
            raise ConfigError(f"schedule 'warmup' got unknown argument(s) {', '.join(sorted(kwargs))}; "
                              f"valid: {', '.join(_WARMUP_KEYS)} and those of the after= schedule")
        tail = plan.learning_rate
    else:
        tail = _build_named(after, plan._replace(total_steps=plan.total_steps - steps), kwargs)
    return _LinearWarmup(tail, warmup_steps=steps, start_lr=start_lr, end_lr=plan.learning_rate)


def build_schedule(name: str, learning_rate: float, steps_per_epoch: int, epochs: int,
                   **kwargs) -> LRScheduler:
    """The schedule ``name`` for a run of ``epochs`` epochs of ``steps_per_epoch`` batches.

    ``kwargs`` are the schedule's own arguments (see ``SCHEDULES`` and ``schedule_arguments``);
    for 'warmup' they are ``warmup_steps``, ``start_lr``, ``after`` plus those of the ``after``
    schedule. Unknown names or arguments raise ConfigError listing the valid ones. The result
    has ``step_unit`` ('batch' or 'epoch') and ``config`` (name and arguments, for config.json).
    """
    schedule_arguments(name)   # unknown name -> ConfigError before anything else
    learning_rate = _number("learning_rate", learning_rate, name, low_open=True)
    plan = _Plan(learning_rate, _positive_int("steps_per_epoch", steps_per_epoch, name),
                 _positive_int("epochs", epochs, name), 0)
    plan = plan._replace(total_steps=plan.steps_per_epoch * plan.epochs)
    if name == "warmup":
        scheduler = _warmup(plan, dict(kwargs))
        scheduler.step_unit = "batch"
    else:
        scheduler = _build_named(name, plan, dict(kwargs))
    scheduler.config = {"name": name, **kwargs}
    return scheduler


def schedule_arguments(name: str) -> list[str]:
    """The keyword arguments schedule ``name`` accepts (ConfigError for an unknown name)."""
    if name not in SCHEDULES:
        raise ConfigError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return _kwarg_names(name)


def schedule_drives(optimizer) -> bool:
    """Whether an LRScheduler sets ``optimizer``'s rate (then ``set_lr`` is refused by Paddle).

    Read from the optimizer's public state: Paddle saves a schedule's state in it, under this key.
    """
    return "LR_Scheduler" in optimizer.state_dict()
