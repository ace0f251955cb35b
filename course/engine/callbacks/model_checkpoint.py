"""ModelCheckpoint with Keras's rules: save every epoch, or only when the monitored value improves.

The file it writes is an ordinary checkpoint (``course.engine.checkpoint.save_checkpoint``):
``load_checkpoint(path, model, optimizer)`` reads it back.
"""
from __future__ import annotations

import string
from pathlib import Path

from course.engine.callbacks.base import MonitorCallback
from course.engine.checkpoint import (CHECKPOINT_SUFFIX, WEIGHTS_SUFFIX, save_checkpoint,
                                      save_weights, with_suffix)
from course.engine.errors import ConfigError


class ModelCheckpoint(MonitorCallback):
    """Save the model and optimizer at the end of each epoch, or only when the monitor improves.

    Article 000 keeps its best Keras model with ``ModelCheckpoint(path, monitor='val_loss',
    save_best_only=True)``. ``paddle.callbacks.ModelCheckpoint`` only saves every ``save_freq``
    epochs into numbered directories; it has no ``save_best_only``, no monitor and no file-name
    template. This one follows keras ``ModelCheckpoint``:

    - ``path`` may hold format fields filled from the epoch logs, e.g.
      ``'ckpt-{epoch:02d}-{val_acc:.4f}'``; ``{epoch}`` counts from 1, as in Keras;
    - with ``save_best_only`` a file is written only when the monitored value improves on the
      best so far (the first epoch always does, unless ``initial_value_threshold`` is given and
      not beaten); otherwise every epoch is written (overwriting when the name is fixed);
    - a relative ``path`` is taken inside ``trainer.run_dir`` (the working directory if None).

    Each file holds model and optimizer state (``save_checkpoint``), or the weights alone with
    ``save_weights_only``, and is written atomically. ``saved`` lists ``(epoch, path)`` of every
    write, 0-based epochs.

    Example:
        >>> best = ModelCheckpoint('best', monitor='val_acc', save_best_only=True)
        >>> trainer = Trainer(model, optimizer, run_dir=run_dir, callbacks=[best])  # doctest: +SKIP
        >>> trainer.fit(train_batches, val_batches, epochs=10)                     # doctest: +SKIP
        >>> load_checkpoint(run_dir / 'best.pdckpt', model, optimizer)['epoch']     # doctest: +SKIP

    Args:
        path: file name (template); ``.pdckpt`` (or ``.pdparams`` with ``save_weights_only``) is
            appended unless present.
        monitor: quantity deciding "best" (``val_loss``, ``val_acc``, ... or a Keras name).
        save_best_only: write only when ``monitor`` improves. Default False.
        mode: 'min', 'max' or 'auto' (max if the name contains 'acc'). Default 'auto'.
        save_weights_only: write only the model's weights (the course's ``.pdparams``). Default False.
        initial_value_threshold: the value to beat before the first save (save_best_only only).
        verbose: 1 prints each save or skip. Default 0.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto",
                 save_weights_only=False, initial_value_threshold=None, verbose=0):
        super().__init__(monitor, mode, 0.0)
        if not isinstance(path, (str, Path)) or not str(path):
            raise ConfigError(f"ModelCheckpoint: path must be a file name, got {path!r}")
        try:
            list(string.Formatter().parse(str(path)))   # reject a broken template now, not at epoch 1
        except ValueError as e:
            raise ConfigError(f"ModelCheckpoint: bad format template in path {str(path)!r}: {e}") from None
        if initial_value_threshold is not None and not isinstance(initial_value_threshold, (int, float)):
            raise ConfigError("ModelCheckpoint: initial_value_threshold must be a number or None, "
                              f"got {initial_value_threshold!r}")
        self.path = str(path)
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.initial_value_threshold = initial_value_threshold
        self.verbose = int(verbose)
        self.best = initial_value_threshold
        self.saved: list[tuple[int, Path]] = []

    def on_train_begin(self, trainer):
        self.saved = []

    def resolve_path(self, trainer, epoch: int, logs: dict) -> Path:
        """The file this epoch would be written to (template filled, run_dir applied, suffix added)."""
        values = {**(logs or {}), "epoch": epoch + 1}
        try:
            name = self.path.format(**values)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            fields = ", ".join(sorted(values))
            raise ConfigError(f"ModelCheckpoint: cannot fill path template {self.path!r} ({e!r}); "
                              f"fields available: {fields}") from None
        path = Path(name)
        if not path.is_absolute() and getattr(trainer, "run_dir", None) is not None:
            path = Path(trainer.run_dir) / path
        return with_suffix(path, WEIGHTS_SUFFIX if self.save_weights_only else CHECKPOINT_SUFFIX)

    def on_epoch_end(self, trainer, epoch, logs):
        path = self.resolve_path(trainer, epoch, logs)
        if self.save_best_only:
            current = self.get_monitor_value(logs)
            # No best yet while every value so far was NaN or infinite (a diverging run).
            before = "None" if self.best is None else f"{self.best:.5f}"
            if not self.is_improvement(current, self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {before}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {before} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            save_weights(path, trainer.model)
        else:
            extra = {"epoch": epoch + 1, "logs": dict(logs or {}), "monitor": self.monitor,
                     "best": self.best}
            save_checkpoint(path, trainer.model, trainer.optimizer, extra)
        self.saved.append((epoch, path))

    def state_dict(self) -> dict:
        """The best value so far, for a resume checkpoint."""
        return {"best": self.best}

    def set_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()`` (the best value so far)."""
        self.best = state["best"]

    def get_config(self) -> dict:
        return {"path": self.path, "monitor": self.monitor, "save_best_only": self.save_best_only,
                "mode": self.mode, "save_weights_only": self.save_weights_only,
                "initial_value_threshold": self.initial_value_threshold}
