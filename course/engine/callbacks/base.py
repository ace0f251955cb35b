"""Training callbacks: the hooks the trainer calls, and the monitor logic Keras's callbacks share.

The source articles train with Keras callbacks (``EarlyStopping``, ``ReduceLROnPlateau``,
``ModelCheckpoint``). Paddle's own classes of those names behave differently in ways that change
results without an error, so the course has its own, built on the two classes here:

- ``Callback``: every hook does nothing; a callback overrides the ones it needs. The trainer
  (``course/engine/trainer.py``) calls them with itself as the first argument.
- ``MonitorCallback``: one quantity from the epoch logs, watched in a direction (``mode``), with
  an absolute ``min_delta`` -- the rules of keras ``callbacks/monitor_callback.py``, written once.

The concrete callbacks live beside this file (``early_stopping.py``, ``reduce_lr.py``,
``model_checkpoint.py``); ``flags.py`` builds them from a run's settings.
"""
from __future__ import annotations

import math

from course.engine.errors import ConfigError

# Keras's metric names -> the names in our epoch logs (the articles' code uses the Keras ones).
MONITOR_ALIASES = {
    "loss": "train_loss",
    "accuracy": "train_acc",
    "acc": "train_acc",
    "val_accuracy": "val_acc",
}

MODES = ("auto", "min", "max")

# What the trainer logs after each epoch and a callback can watch (course.engine.trainer).
EPOCH_METRICS = ("val_loss", "val_acc", "train_loss", "train_acc", "lr")


def canonical_monitor(name: str) -> str:
    """Our log key for a monitor name, accepting the Keras spellings (``val_accuracy`` -> ``val_acc``)."""
    return MONITOR_ALIASES.get(name, name)


def auto_mode(monitor: str) -> str:
    """'max' for accuracy-like quantities, 'min' for everything else (losses).

    Keras 2's rule: the name contains 'acc', or (without a ``val_``/``train_`` prefix) starts with
    'fmeasure' or 'auc'.
    """
    bare = monitor.removeprefix("val_").removeprefix("train_")
    if "acc" in monitor or bare.startswith(("fmeasure", "auc")):
        return "max"
    return "min"


def check_non_negative(owner: str, name: str, value, kind=int) -> None:
    """Raise ConfigError unless ``value`` is a number of ``kind`` that is >= 0 (message shows it)."""
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok_type = ok_type and float(value).is_integer()
    # NaN compares false with everything, so it would pass ``value < 0``; inf would never count.
    if not ok_type or not math.isfinite(value) or value < 0:
        expected = "an integer >= 0" if kind is int else "a finite number >= 0"
        raise ConfigError(f"{owner}: {name} must be {expected}, got {value!r}")


class Callback:
    """Base class: a hook for each point of the training loop, each doing nothing by default.

    ``trainer`` exposes ``model``, ``optimizer``, ``stop_training``, ``run_dir``, ``get_lr()``,
    ``set_lr(value)`` and ``history`` (``course.engine.trainer.Trainer``). ``epoch`` counts from 0.
    """

    def on_train_begin(self, trainer):
        """Called once before the first epoch (also when a resumed run starts again)."""
        pass

    def on_epoch_begin(self, trainer, epoch):
        """Called before epoch ``epoch`` (0-based) trains."""
        pass

    def on_batch_end(self, trainer, step, logs):
        """Called after each optimizer step with ``logs`` {'loss', 'lr', 'kept'}: 'kept' is True
        for the steps the epoch's ``steps`` list keeps (every ``log_every_n_steps``-th, and one
        whose loss was not finite)."""
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        """Called after each epoch with its logs (course.engine.trainer's epoch keys)."""
        pass

    def on_train_end(self, trainer, logs):
        """Called once after the last epoch with the last epoch's logs."""
        pass


class MonitorCallback(Callback):
    """A callback that watches one quantity of the epoch logs and decides what counts as better.

    Holds the logic keras ``MonitorCallback`` shares between EarlyStopping, ReduceLROnPlateau and
    ModelCheckpoint: Keras monitor names are translated to ours, ``mode='auto'`` picks the
    direction from the name, and ``min_delta`` is an *absolute* margin whose sign follows the
    mode (``current < best - min_delta`` in 'min' mode). Paddle's ``ReduceOnPlateau`` defaults to
    a *relative* threshold instead, which changes when the rate drops.

    A monitor that is missing from the logs (or None there, e.g. ``val_loss`` without a
    validation set) raises ConfigError listing the metrics there are; Keras only warns and then
    silently never acts, which is how an experiment ends up without the control it claims.

    Args:
        monitor: the quantity to watch: ``val_loss``, ``val_acc``, ``train_loss``, ``train_acc``
            (or the Keras names ``loss``, ``accuracy``, ``acc``, ``val_accuracy``).
        mode: 'min', 'max' or 'auto' (max for names with 'acc', min otherwise).
        min_delta: the smallest change, in the monitored unit, that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        owner = type(self).__name__
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"{owner}: monitor must be a metric name, got {monitor!r}")
        if mode not in MODES:
            raise ConfigError(f"{owner}: mode must be one of {', '.join(MODES)}, got {mode!r}")
        check_non_negative(owner, "min_delta", min_delta, kind=float)
        self.monitor_name = monitor            # as the user wrote it, for messages and configs
        self.monitor = canonical_monitor(monitor)
        self.mode = mode
        self.direction = auto_mode(self.monitor) if mode == "auto" else mode
        self.min_delta = float(min_delta)

    def get_monitor_value(self, logs) -> float:
        """The monitored value from ``logs``; ConfigError listing the available metrics if absent."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            available = sorted(k for k, v in (logs or {}).items()
                               if v is not None and isinstance(v, (int, float)))
            shown = f" (Keras name {self.monitor_name!r})" if self.monitor_name != self.monitor else ""
            raise ConfigError(f"{type(self).__name__}: monitor {self.monitor!r}{shown} is not in the "
                              f"epoch logs; available metrics: {', '.join(available) or 'none'}")
        return float(value)

    def is_improvement(self, value: float, reference) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``min_delta`` (None: any finite value does).

        A NaN or infinite value is never an improvement, in every monitor callback alike. This is
        Keras 3's ReduceLROnPlateau and ModelCheckpoint rule (their best starts at +-inf, which NaN
        never beats); Keras 3's EarlyStopping instead takes a NaN first value as its best, after
        which nothing can beat it, and so stops a run that recovers. Here a diverging epoch just
        counts as one more epoch without improvement.
        """
        if not math.isfinite(value):
            return False
        if reference is None:
            return True
        if self.direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def worst_value(self) -> float:
        """The starting 'best' that any finite value beats (Keras's np.inf / -np.inf)."""
        return math.inf if self.direction == "min" else -math.inf

    def get_config(self) -> dict:
        """The constructor arguments, JSON-able, to record in a run's config.json."""
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
