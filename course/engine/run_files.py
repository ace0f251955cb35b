"""The files of a run's folder, written as the run goes: ``RunFiles``, the callback that keeps them.

The run-folder contract (``course.engine.experiment``): ``config.json`` is written first,
``metrics.json``/``metrics.csv`` and the resume checkpoint ``last.pdckpt`` after every epoch,
``model.pdparams`` and ``result.json`` last -- ``result.json``'s presence marks the run done.
Every write is atomic (a temporary file renamed over the final name), so a run stopped by Ctrl-C
or kill -9 leaves each file whole: the old one or the new one.
"""
from __future__ import annotations

from pathlib import Path

from course.engine.callbacks.base import Callback
from course.engine.checkpoint import RESUME_FILE, save_resume
from course.engine.errors import ConfigError
from course.engine.files import atomic_paddle_save, atomic_write_csv, atomic_write_json
from course.engine.results import METRIC_COLUMNS, epoch_line


class RunFiles(Callback):
    """Write a run's folder: its config first, each epoch's line, metrics and checkpoint, its result last.

    Why a callback, and why the last one that saves: the resume checkpoint holds every other
    callback's state (EarlyStopping's counters, ReduceLROnPlateau's rate) as the epoch left it,
    so it must be written after all of their ``on_epoch_end`` -- put this after them in the
    trainer's list. The epoch's line is printed just before its checkpoint is saved; a run
    killed between the two prints that epoch again when it resumes
    (``course.engine.results.drop_lost_epoch_lines`` keeps one).

    Example:
        >>> files = RunFiles(run_dir, "adam-lr0.01-seed0", epochs=5, train_data=data.train)  # doctest: +SKIP
        >>> files.open(config.to_dict())                                                   # doctest: +SKIP
        >>> trainer.callbacks.append(files)                                                # doctest: +SKIP

    Args:
        run_dir: the run's folder (created by ``open``).
        run_name: the name each printed epoch line starts with, in brackets.
        epochs: the epochs the run is to train (the line's 'epoch 3/5').
        train_data: the training batches; their shuffling state goes into the checkpoint.
    """

    def __init__(self, run_dir, run_name: str, epochs: int, train_data=None):
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise ConfigError(f"RunFiles: epochs must be an integer >= 1, got {epochs!r}")
        self.run_dir, self.run_name, self.epochs = Path(run_dir), run_name, epochs
        self.train_data = train_data

    def open(self, config: dict) -> None:
        """Create the folder, clear what a killed write left, and write ``config.json``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # A run killed while writing leaves its temporary file (never a torn result file);
        # only this run writes here, so what is left is garbage.
        for stale in self.run_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        atomic_write_json(self.run_dir / "config.json", config)

    def on_epoch_end(self, trainer, epoch, logs):
        """Print the epoch's line; write metrics.json, metrics.csv and the resume checkpoint."""
        print(f"[{self.run_name}] {epoch_line(logs, self.epochs)}", flush=True)
        atomic_write_json(self.run_dir / "metrics.json", trainer.history)
        atomic_write_csv(self.run_dir / "metrics.csv", trainer.history, METRIC_COLUMNS)
        save_resume(self.run_dir / RESUME_FILE, trainer, self.train_data)

    def finish(self, trainer, result: dict) -> None:
        """Write the final weights, then ``result.json``, which marks the run done."""
        # The best epoch's weights, if EarlyStopping restored them: what scripts/export_model.py
        # exports. (paddle.DataParallel keeps the network in _layers.)
        net = getattr(trainer.model, "_layers", trainer.model)
        atomic_paddle_save(net.state_dict(), self.run_dir / "model.pdparams")
        atomic_write_json(self.run_dir / "result.json", result)
