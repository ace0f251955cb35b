"""ReduceLROnPlateau with the rules of Keras (``keras/src/callbacks/reduce_lr_on_plateau.py``)."""
from __future__ import annotations

import numpy as np

from course.engine.callbacks.base import MonitorCallback, check_non_negative
from course.engine.errors import ConfigError


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when a monitored quantity stops improving (Keras rules).

    Article 000 trains Adam with ``ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=3,
    min_lr=1e-5)`` and article 003 with ``monitor='val_accuracy', factor=0.1, patience=2``.
    ``paddle.optimizer.lr.ReduceOnPlateau`` gives different rates for the same arguments: its
    ``threshold_mode='rel'`` default measures improvement *relative* to the best value
    (``current < best - best * 1e-4``) where Keras's ``min_delta`` is *absolute*; it skips a
    reduction smaller than ``epsilon`` where Keras compares the rate against ``min_lr``; and it is
    an LR scheduler stepped by hand with the metric, not a callback. This callback follows Keras:

    - an epoch improves if ``current < best - min_delta`` ('min') or ``current > best + min_delta``
      ('max'); an improvement resets ``wait`` to 0, otherwise ``wait`` grows by 1;
    - when ``wait >= patience``, and the rate is above ``min_lr`` (compared in float32, as Keras
      does), the rate becomes ``max(rate * factor, min_lr)``, ``wait`` restarts at 0 and a
      cooldown of ``cooldown`` epochs begins;
    - during the cooldown ``wait`` is held at 0 (each cooldown epoch first counts the cooldown
      down, then sets ``wait = 0``; a non-improving epoch is counted only once it is over).

    The rate is read and written through ``trainer.get_lr()`` / ``trainer.set_lr()``, so it needs
    a constant learning rate (no schedule). Every change is recorded in ``lr_changes`` as
    ``(epoch, old_lr, new_lr)`` with 0-based epochs.

    Example:
        >>> reduce = ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=3, min_lr=1e-5)
        >>> trainer = Trainer(model, optimizer, callbacks=[reduce])  # doctest: +SKIP
        >>> trainer.fit(train_batches, val_batches, epochs=30)       # doctest: +SKIP
        >>> reduce.lr_changes                                          # doctest: +SKIP
        [(6, 0.001, 0.0005), ...]

    Args:
        monitor: quantity to watch (``val_loss``, ``val_acc``, ... or a Keras name). Default 'val_loss'.
        factor: the rate is multiplied by this; must be in (0, 1). Default 0.1.
        patience: epochs without improvement before the rate is reduced. Default 10.
        mode: 'min', 'max' or 'auto' (max if the name contains 'acc'). Default 'auto'.
        min_delta: smallest absolute change that counts as an improvement. Default 1e-4.
        cooldown: epochs after a reduction during which no new reduction is counted. Default 0.
        min_lr: the rate never goes below this. Default 0.
        verbose: 1 prints each reduction. Default 0.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 < factor < 1.0:
            raise ConfigError(f"ReduceLROnPlateau: factor must be in (0, 1) (the rate is multiplied "
                              f"by it), got factor={factor!r}")
        check_non_negative("ReduceLROnPlateau", "patience", patience)
        check_non_negative("ReduceLROnPlateau", "cooldown", cooldown)
        check_non_negative("ReduceLROnPlateau", "min_lr", min_lr, kind=float)
        self.factor = float(factor)
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.verbose = int(verbose)
        self.lr_changes: list[tuple[int, float, float]] = []
        self._restored_state = False
        self._reset()

    def _reset(self):
        self.best = self.worst_value()
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        """Whether a reduction happened less than ``cooldown`` epochs ago."""
        return self.cooldown_counter > 0

    def on_train_begin(self, trainer):
        scheduler = getattr(trainer, "scheduler", None)
        if scheduler is not None:
            # Fail now rather than at the first plateau, maybe hours into the run.
            raise ConfigError(f"ReduceLROnPlateau sets the rate itself, but a schedule "
                              f"({type(scheduler).__name__}) drives it; use schedule 'constant'")
        if not self._restored_state:
            self._reset()
            self.lr_changes = []
        self._restored_state = False

    def on_epoch_end(self, trainer, epoch, logs):
        current = self.get_monitor_value(logs)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0

        if self.is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(trainer.get_lr())
                # Keras holds the rate in a float32 variable: compare as float32, or a rate that
                # already sits at min_lr (1e-4 as float64 > float32(1e-4)) would "reduce" forever
                # and restart the cooldown each time.
                if np.float32(old_lr) > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    trainer.set_lr(new_lr)
                    self.lr_changes.append((epoch, old_lr, new_lr))
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    # --- resume ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Counters and best value, for a resume checkpoint (the rate itself is the trainer's)."""
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter,
                "lr_changes": list(self.lr_changes)}

    def set_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; the next ``on_train_begin`` keeps it instead of resetting."""
        self.best = float(state["best"])
        self.wait, self.cooldown_counter = int(state["wait"]), int(state["cooldown_counter"])
        self.lr_changes = [tuple(c) for c in state["lr_changes"]]
        self._restored_state = True

    def get_config(self) -> dict:
        return {"monitor": self.monitor, "factor": self.factor, "patience": self.patience,
                "mode": self.mode, "min_delta": self.min_delta, "cooldown": self.cooldown,
                "min_lr": self.min_lr}
