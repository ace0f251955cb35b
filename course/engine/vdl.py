"""All VisualDL writing goes through the ``VisualDL`` callback here; it does nothing when logging is off.

Every run writes the same tags, so VisualDL overlays the runs of a sweep on one chart per tag
(PaddleClas ``ppcls/utils/logger.py`` ``scaler`` does the same job). The names are chosen for the
page a learner opens. VisualDL 2.5.3's Scalars page groups the charts by the text before the first
'/', sorts the groups by that text (ignoring case), opens only the first group, and inside a group
keeps the order in which the tags were first written (its frontend's ``ChartPage`` and
``useTagFilter``). So the groups, in the order the page shows them:

- ``loss``: ``loss/train_loss`` beside ``loss/val_loss``, per epoch -- the group that opens first;
- ``metric``: ``metric/train_acc`` beside ``metric/val_acc``, per epoch;
- ``optimizer``: ``optimizer/lr``, the rate each epoch trained with;
- ``train``: ``train/batch_loss`` and ``train/batch_lr``, every ``log_every_n_steps``-th optimizer
  step, at the global step: every run of a sweep at step resolution;
- ``trial``: ``trial/best_val_acc``, ``trial/test_acc``, ``trial/test_loss``, one number per run
  for the HParams view. VisualDL finds a hyperparameter metric only as a scalar tag of the same
  run (``visualdl/server/lib.py`` ``get_hparam_metric``), so these are scalars too; 'trial' (the
  HParams view's word for a run) sorts last, so their one-point charts stay out of the way.

The epoch tags' leaves are the epoch-log keys (``metrics.csv``'s columns). Each run is shown under
a short name, ``run_display_name``: 'adam lr=0.01' instead of its path.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from course.engine.callbacks.base import Callback
from course.engine.files import read_json

# epoch-log key -> VisualDL tag (in this order: train before validation inside each group)
EPOCH_TAGS = {"train_loss": "loss/train_loss", "val_loss": "loss/val_loss",
              "train_acc": "metric/train_acc", "val_acc": "metric/val_acc", "lr": "optimizer/lr"}
STEP_TAGS = ("train/batch_loss", "train/batch_lr")           # a step's (loss, rate)
# result key -> VisualDL tag, for the HParams view
SUMMARY_TAGS = {"best_val_acc": "trial/best_val_acc", "test_acc": "trial/test_acc",
                "test_loss": "trial/test_loss"}


def run_display_name(config, run_dir) -> str:
    """The name VisualDL shows for a run: what varies first, 'adam lr=0.01'.

    In a sweep's folder (a ``sweep.json`` beside the run) ' seed=N' is added when the sweep has
    several seeds, or the folder holds the same cell with another seed (a confirmation's): two
    runs with one name would be merged into one by VisualDL. A run of its own (an article's model,
    a data-parallel launch) is opened beside runs of other models, so its name starts with its model.
    """
    run_dir = Path(run_dir)
    sweep = read_json(run_dir.parent / "sweep.json")
    if sweep is None:
        return f"{config.model} {config.display_name()}"
    cell = config.run_name()[:-len(str(config.seed))]              # 'adam-lr0.01-seed'
    seeds = {str(config.seed), *map(str, sweep.get("seeds", [])),
             *map(str, sweep.get("confirmation", {}).get("seeds", [])),
             *(p.name[len(cell):] for p in run_dir.parent.iterdir()
               if p.is_dir() and p.name.startswith(cell) and p.name[len(cell):].isdigit())}
    return config.display_name() + (f" seed={config.seed}" if len(seeds) > 1 else "")


class VisualDL(Callback):
    """Draw a run's curves in VisualDL: its kept steps live, each epoch's metrics, and a summary.

    Why a callback: it sees every step and epoch as the trainer makes them, like the run's other
    records. A resumed run's records are rewritten whole rather than appended to: at
    ``on_train_begin`` the folder is emptied and the history the checkpoint restored is replayed,
    because a record file may hold epochs the checkpoint does not (the run was killed after
    logging them). The writer stays open after training for ``summary`` (the test numbers come
    later); ``close`` ends it, also when the run breaks.

    Example:
        >>> curves = VisualDL(run_dir / "vdl", display_name="adam lr=0.01")   # doctest: +SKIP
        >>> trainer.callbacks.append(curves)                                  # doctest: +SKIP

    Args:
        logdir: the folder for the record file; None makes every call a no-op (logging off).
        display_name: the run's name on VisualDL's pages (``run_display_name``).
    """

    def __init__(self, logdir=None, display_name: str = ""):
        self.logdir = None if logdir is None else Path(logdir)
        self.display_name = display_name
        self.writer = None

    def on_train_begin(self, trainer):
        """Open a fresh record file and replay what the trainer has done (a resumed run's epochs)."""
        if self.logdir is None:
            return
        from visualdl import LogWriter

        self.close()
        if self.logdir.exists():
            shutil.rmtree(self.logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.writer = LogWriter(logdir=str(self.logdir), display_name=self.display_name)
        self.replay(trainer.history)

    def on_batch_end(self, trainer, step, logs):
        """Log a kept step's loss and rate at its global step (the curve grows while it trains)."""
        if logs.get("kept"):
            self.step(step, logs["loss"], logs["lr"])

    def on_epoch_end(self, trainer, epoch, logs):
        """Log the epoch's metrics (``EPOCH_TAGS``) at the epoch's number, counted from 1."""
        for key, tag in EPOCH_TAGS.items():
            if key in logs:
                self.scalar(tag, logs[key], epoch + 1)

    def scalar(self, tag: str, value, step: int) -> None:
        """Log one scalar (None values are skipped)."""
        if self.writer is not None and value is not None:
            self.writer.add_scalar(tag=tag, value=float(value), step=int(step))

    def step(self, step: int, loss: float, lr: float) -> None:
        """Log one optimizer step's loss and rate at its global step (counted from 1)."""
        for tag, value in zip(STEP_TAGS, (loss, lr)):
            self.scalar(tag, value, step)

    def replay(self, history: list[dict]) -> None:
        """Log every epoch of ``history`` again, its steps first, in the order the run logged them."""
        for epoch, logs in enumerate(history):
            for point in logs.get("steps", ()):
                self.step(*point)
            self.on_epoch_end(None, epoch, logs)

    def summary(self, hparams: dict, numbers: dict) -> None:
        """Record the run's settings and its ``numbers`` (keys of ``SUMMARY_TAGS``: best_val_acc,
        test_acc, test_loss) for VisualDL's HParams view."""
        if self.writer is None:
            return
        metrics = {SUMMARY_TAGS[key]: value for key, value in numbers.items() if value is not None}
        for tag, value in metrics.items():
            self.scalar(tag, value, 0)
        clean = {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in hparams.items()}
        self.writer.add_hparams(hparams_dict=clean, metrics_list=list(metrics))

    def close(self) -> None:
        """Flush and close the record file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
