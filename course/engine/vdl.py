"""All VisualDL writing goes through here, and does nothing when logging is off.

Every run writes the same tags (``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``lr``)
so VisualDL overlays the runs of a sweep on one chart per tag; ``add_hparams`` lets VisualDL's
HParams view rank the runs (PaddleClas ``ppcls/utils/logger.py`` ``scaler`` does the same job).
"""
from __future__ import annotations

import shutil
from pathlib import Path

# epoch-log key -> VisualDL tag
EPOCH_TAGS = {"train_loss": "train/loss", "train_acc": "train/acc",
              "val_loss": "val/loss", "val_acc": "val/acc", "lr": "lr"}


class VisualDLLogger:
    """Writes a run's scalars to ``logdir``; with ``logdir=None`` every call is a no-op."""

    def __init__(self, logdir=None, fresh: bool = True):
        self.writer = None
        if logdir is None:
            return
        from visualdl import LogWriter

        logdir = Path(logdir)
        if fresh and logdir.exists():
            # A restarted run replays its history (see replay) instead of appending to a
            # record file that may hold epochs the checkpoint does not.
            shutil.rmtree(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        self.writer = LogWriter(logdir=str(logdir))

    def scalar(self, tag: str, value, step: int) -> None:
        """Log one scalar (None values are skipped)."""
        if self.writer is not None and value is not None:
            self.writer.add_scalar(tag=tag, value=float(value), step=int(step))

    def epoch(self, epoch: int, logs: dict) -> None:
        """Log one epoch's metrics; step = epoch number counted from 1."""
        for key, tag in EPOCH_TAGS.items():
            if key in logs:
                self.scalar(tag, logs[key], epoch + 1)

    def replay(self, history: list[dict]) -> None:
        """Log every epoch of ``history`` again (a resumed run rewrites its records whole)."""
        for epoch, logs in enumerate(history):
            self.epoch(epoch, logs)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        """Record the run's settings and final metrics for VisualDL's HParams view."""
        if self.writer is None:
            return
        metrics = {tag: value for tag, value in metrics.items() if value is not None}
        for tag, value in metrics.items():
            self.scalar(tag, value, 0)
        clean = {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in hparams.items()}
        self.writer.add_hparams(hparams_dict=clean, metrics_list=list(metrics))

    def close(self) -> None:
        """Flush and close the record file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
