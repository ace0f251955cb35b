"""Checkpoints: atomic save/load of model + optimizer state, and a Keras-style ModelCheckpoint.

Two file kinds, chosen by suffix:

- ``<name>.pdckpt``: one ``paddle.save`` file holding ``{'model', 'optimizer', 'lr', 'extra'}``.
  One file, so model and optimizer can never come from different epochs. ``lr`` is stored on
  its own because ``optimizer.state_dict()`` forgets a plain float rate (only an LRScheduler's
  state is in it), and a rate ReduceLROnPlateau lowered must survive a resume.
- ``<name>.pdparams``: the model's ``state_dict()`` alone, the course's own format
  (``model.set_state_dict(paddle.load(path))`` reads it).

Both are written to a temporary file in the same directory and renamed over the final name, so a
run killed mid-write leaves the previous checkpoint intact (``paddle.save`` writes in place).
"""
from __future__ import annotations

import string
from pathlib import Path

import paddle
from paddle.optimizer.lr import LRScheduler

from course.callbacks import MonitorCallback
from course.errors import ConfigError
from course.files import atomic_paddle_save

CHECKPOINT_SUFFIX = ".pdckpt"
WEIGHTS_SUFFIX = ".pdparams"


def _with_suffix(path, suffix: str) -> Path:
    # Append rather than replace: a formatted name like 'best-0.9812' has a "suffix" '.9812'.
    path = Path(path)
    return path if path.name.endswith(suffix) else path.with_name(path.name + suffix)


def save_checkpoint(path, model, optimizer=None, extra=None) -> Path:
    """Write model and optimizer state (and a picklable ``extra`` dict) to ``path`` atomically.

    ``.pdckpt`` is appended to ``path`` unless it is there already. Returns the file written.
    """
    path = _with_suffix(path, CHECKPOINT_SUFFIX)
    state = {"model": model.state_dict(),
             "optimizer": optimizer.state_dict() if optimizer is not None else None,
             "lr": float(optimizer.get_lr()) if optimizer is not None else None,
             "extra": dict(extra or {})}
    atomic_paddle_save(state, path)
    return path


def save_weights(path, model) -> Path:
    """Write ``model.state_dict()`` alone to ``path`` (``.pdparams`` appended) atomically."""
    path = _with_suffix(path, WEIGHTS_SUFFIX)
    atomic_paddle_save(model.state_dict(), path)
    return path


def load_checkpoint(path, model, optimizer=None) -> dict:
    """Load a ``save_checkpoint`` (or ``save_weights``) file into ``model`` and ``optimizer``.

    Restores the optimizer's accumulators and, when its rate is a plain float, the rate.
    Returns the ``extra`` dict saved with it ({} for a weights-only file).

    Paddle keys optimizer state by generated names (``linear_0.w_0_moment1_0``) that count up
    within a process; a new process gets the saved names back. To load into a second model in
    the *same* process, build it and take its first step inside ``paddle.utils.unique_name.guard()``.
    """
    path = Path(path)
    if not path.exists():
        for suffix in (CHECKPOINT_SUFFIX, WEIGHTS_SUFFIX):
            if _with_suffix(path, suffix).exists():
                path = _with_suffix(path, suffix)
                break
        else:
            raise ConfigError(f"no checkpoint at {path} (nor {path}{CHECKPOINT_SUFFIX}, "
                              f"{path}{WEIGHTS_SUFFIX})")
    state = paddle.load(str(path))
    if path.name.endswith(WEIGHTS_SUFFIX):
        model.set_state_dict(state)
        return {}
    if not isinstance(state, dict) or "model" not in state:
        raise ConfigError(f"{path} is not a checkpoint written by save_checkpoint "
                          f"(keys: {sorted(state) if isinstance(state, dict) else type(state).__name__})")
    model.set_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.set_state_dict(state["optimizer"])
        scheduled = isinstance(getattr(optimizer, "_learning_rate", None), LRScheduler)
        if state.get("lr") is not None and not scheduled:
            optimizer.set_lr(float(state["lr"]))
    return dict(state.get("extra") or {})


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
        return _with_suffix(path, WEIGHTS_SUFFIX if self.save_weights_only else CHECKPOINT_SUFFIX)

    def on_epoch_end(self, trainer, epoch, logs):
        path = self.resolve_path(trainer, epoch, logs)
        if self.save_best_only:
            current = self.get_monitor_value(logs)
            if not self.is_improvement(current, self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                before = "None" if self.best is None else f"{self.best:.5f}"
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
        self.best = state["best"]

    def get_config(self) -> dict:
        return {"path": self.path, "monitor": self.monitor, "save_best_only": self.save_best_only,
                "mode": self.mode, "save_weights_only": self.save_weights_only,
                "initial_value_threshold": self.initial_value_threshold}
