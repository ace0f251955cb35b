"""EarlyStopping with the rules of Keras 3 (``keras/src/callbacks/early_stopping.py``)."""
from __future__ import annotations

import numpy as np

from course.engine.callbacks.base import MonitorCallback, check_non_negative
from course.engine.errors import ConfigError


def snapshot_weights(model) -> dict:
    """A deep copy of ``model.state_dict()`` as numpy arrays (later training steps cannot touch it)."""
    return {name: np.array(tensor.numpy(), copy=True) for name, tensor in model.state_dict().items()}


def restore_weights(model, snapshot: dict) -> None:
    """Put a ``snapshot_weights`` copy back into ``model``, in place (the optimizer keeps its params)."""
    model.set_state_dict(snapshot)


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored quantity has stopped improving (Keras rules).

    The articles stop their Keras runs with ``EarlyStopping(monitor='val_loss', patience=5)`` or
    ``EarlyStopping(monitor='val_accuracy', patience=2)``. ``paddle.callbacks.EarlyStopping`` is
    not a drop-in replacement: it belongs to ``paddle.Model.fit`` and acts on evaluations rather
    than epochs, its ``save_best_model`` writes the best model to disk but never puts the best
    weights back into the model, and since it tests ``wait >= patience`` even after an improvement,
    its default ``patience=0`` stops training after the very first evaluation. This class follows
    Keras 3 exactly:

    - each monitored epoch adds 1 to ``wait``; an improvement of more than ``min_delta`` (absolute)
      over the best so far resets it to 0, but only if the value also beats ``baseline``;
    - training stops at the end of the first epoch (after epoch 0) where ``wait >= patience``;
    - the first monitored epoch is always the best so far (Keras 3 starts ``best`` at None, not at
      the baseline; the baseline only decides whether ``wait`` is reset -- so if nothing beats the
      baseline, training stops after ``patience`` epochs and the best of those is restored);
    - epochs before ``start_from_epoch`` are ignored entirely;
    - with ``restore_best_weights`` the best epoch's weights are copied (numpy, not references)
      and put back at the end of training, whether it stopped early or ran all its epochs.

    ``stopped_epoch`` is the 0-based epoch at which it stopped (0 if it never did), ``best_epoch``
    the 0-based epoch whose value was best.

    Example:
        >>> stop = EarlyStopping(monitor='val_acc', patience=2, restore_best_weights=True)
        >>> trainer = Trainer(model, optimizer, callbacks=[stop])   # doctest: +SKIP
        >>> trainer.fit(train_batches, val_batches, epochs=20)      # doctest: +SKIP
        >>> stop.stopped_epoch, stop.best_epoch                      # doctest: +SKIP

    Args:
        monitor: quantity to watch (``val_loss``, ``val_acc``, ``train_loss``, ``train_acc`` or the
            Keras names ``loss``, ``accuracy``, ``val_accuracy``). Default ``'val_loss'``.
        min_delta: smallest absolute change that counts as an improvement. Default 0.
        patience: epochs without improvement before stopping. Default 0 (as Keras).
        mode: 'min', 'max' or 'auto' (max if the name contains 'acc'). Default 'auto'.
        baseline: a value the monitor must beat for ``wait`` to reset; None for no baseline.
        restore_best_weights: put the best epoch's weights back when training ends.
        start_from_epoch: number of initial epochs not monitored (a warm-up). Default 0.
        verbose: 1 prints when it stops and when it restores weights. Default 0.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        check_non_negative("EarlyStopping", "patience", patience)
        check_non_negative("EarlyStopping", "start_from_epoch", start_from_epoch)
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, (int, float))):
            raise ConfigError(f"EarlyStopping: baseline must be a number or None, got {baseline!r}")
        self.patience = int(patience)
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = int(verbose)
        self._restored_state = False
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, trainer):
        # Allow an instance to be reused; a resumed run keeps the state it was given.
        if not self._restored_state:
            self._reset()
        self._restored_state = False

    def on_epoch_end(self, trainer, epoch, logs):
        current = self.get_monitor_value(logs)
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the first monitored weights are the best there are.
            self.best_weights = snapshot_weights(trainer.model)
            self.best_epoch = epoch

        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = snapshot_weights(trainer.model)
            # Only restart the wait if we beat both the baseline and our previous best.
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer, logs):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            restore_weights(trainer.model, self.best_weights)

    # --- resume ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Counters, best value and best weights, for a resume checkpoint."""
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def set_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; the next ``on_train_begin`` keeps it instead of resetting."""
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        self.best, self.best_epoch = state["best"], int(state["best_epoch"])
        self.best_weights = state["best_weights"]
        self._restored_state = True

    def get_config(self) -> dict:
        return {"monitor": self.monitor, "min_delta": self.min_delta, "patience": self.patience,
                "mode": self.mode, "baseline": self.baseline,
                "restore_best_weights": self.restore_best_weights,
                "start_from_epoch": self.start_from_epoch}
