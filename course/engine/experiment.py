"""One run, start to finish: ``run_experiment(config, run_dir)`` (flax's ``train_and_evaluate``).

Everything a run produces lives in its directory: ``config.json`` (written first), ``metrics.json``
and ``metrics.csv`` (rewritten after every epoch), ``vdl/`` (VisualDL records), ``last.pdckpt``
(everything needed to continue after an interruption), ``model.pdparams`` (the final weights) and
``result.json``, written last: its presence is what marks the run done, so a sweep restarted after
Ctrl-C or kill -9 skips finished runs and continues unfinished ones from their last completed epoch.
"""
from __future__ import annotations

import time
from pathlib import Path

import paddle
from paddle.base import unique_name

from course.engine.checkpoint import RESUME_FILE, load_resume, save_resume
from course.engine.config import RunConfig
from course.engine.data import load_dataset
from course.engine.device import cpu_threads_during, use_device
from course.engine.preflight import check_before_start
from course.engine.precision import check_amp
from course.engine.files import atomic_paddle_save, atomic_write_csv, atomic_write_json, read_json
from course.engine.results import (METRIC_COLUMNS, RUN_LOG, drop_lost_epoch_lines, epoch_line, hparams,
                                   summarize)
from course.engine.trainer import Trainer
from course.engine.vdl import VisualDLLogger, run_display_name
from course import speed
from models.summary import format_summary
from models.summary import summarize as summarize_model


def build_training(config: RunConfig, num_classes: int, input_shape, steps_per_epoch: int,
                   run_dir=None, progress=True) -> Trainer:
    """Model, optimizer, schedule and callbacks for ``config``, wrapped in a Trainer."""
    from course.engine.callbacks.flags import callbacks_from_config
    from course.engine.optimizers import build_optimizer
    from course.engine.precision import MixedPrecision
    from course.engine.schedules import build_schedule

    paddle.seed(config.seed)
    # Fresh parameter names (linear_0.w_0, ...) for every build: optimizer state is keyed by
    # them, so a checkpoint loads into a model rebuilt in this process or in a new one.
    names = unique_name.UniqueNameGenerator()
    with unique_name.guard(names):
        model = build_run_model(config, num_classes, input_shape)
        if config.fast_kernels:
            speed.apply(model)
        scheduler = None
        if config.schedule != "constant" or config.schedule_args:
            scheduler = build_schedule(config.schedule, config.lr, steps_per_epoch, config.epochs,
                                       **config.schedule_args)
        optimizer = build_optimizer(config.optimizer, scheduler or config.lr, model.parameters(),
                                    config.weight_decay, config.optimizer_args, config.defaults)
        callbacks = callbacks_from_config(config)
    return Trainer(model, optimizer, loss_kind=model.loss_kind, scheduler=scheduler,
                   callbacks=callbacks, num_classes=num_classes, progress=progress,
                   run_dir=run_dir, seed=config.seed, names=names,
                   stop_at_chance=config.stop_at_chance, log_every_n_steps=config.log_every_n_steps,
                   precision=MixedPrecision(config.amp))


def build_run_model(config: RunConfig, num_classes: int, input_shape, pretrained: bool = True):
    """The network ``config`` names, shaped for its data and its loss.

    Image models are built for the input size; with ``loss='mse'`` the network has one output
    (the digit as a number), and the model's ``loss_kind`` says which loss trains it (what the
    trainer and an export read). ``pretrained=False`` skips loading weights (a run's own replace them).
    """
    from models import build_model, model_kind

    options = {}
    if model_kind(config.model) == "image":   # image models take their input size
        options["image_size"] = input_shape[-1]
        if config.freeze_backbone:
            options["freeze_backbone"] = True
    outputs = 1 if config.loss == "mse" else num_classes
    model = build_model(config.model, num_classes=outputs,
                        pretrained=(config.pretrained or None) if pretrained else None, **options)
    if config.loss != "auto":
        model.loss_kind = config.loss
    return model


class SingleProcess:
    """Where a run computes and who writes its files: by default one process that writes all.

    ``course.tools.distributed.DataParallel`` replaces it for multi-process runs: every rank
    trains on its shard, and only rank 0 writes.
    """
    writes = True

    def start(self, device: str) -> str:
        """Make ``device`` Paddle's current device; return the one chosen."""
        return use_device(device)

    def prepare(self, data):
        """This process's view of the run's data (all of it)."""
        return data

    def adopt(self, trainer: Trainer) -> Trainer:
        """The trainer as this placement runs it (unchanged)."""
        return trainer

    def annotate(self, result: dict) -> dict:
        """Add what this placement knows to the run's result (nothing)."""
        return result


def run_experiment(config: RunConfig, run_dir, progress: bool = True, log_visualdl: bool = True,
                   placement=None, report=None) -> dict:
    """Train and evaluate ``config`` in ``run_dir``; return (and save) the run's result.

    A finished run (``result.json`` present) is not trained again; an unfinished one continues
    from ``last.pdckpt``. A run directory holding other settings is an error.

    The details (model summary, a full line per epoch) are printed; ``report``, if given, is
    called besides with a small plain dict at each step a sweep's console shows, in order:
    ``{"event": "start", "run", "epoch" (epochs already done), "epochs"}``, then per epoch
    ``{"event": "epoch", "run", "epochs", "logs"}`` (the epoch's logs, as in metrics.json),
    ``{"event": "stopped", ...}`` (early, by a callback) or ``{"event": "diverged", ..., "reason"}``
    after the epoch that ended the run, and ``{"event": "done", "run", "result"}``. Plain dicts
    pickle, so a worker process can send them on (``course.sweep.workers``).
    """
    placement = placement or SingleProcess()
    report = report or (lambda event: None)
    run = {"run": config.run_name(), "epochs": config.epochs}
    writes = placement.writes
    run_dir = Path(run_dir)
    check_before_start(config, run_dir)   # everything a mistake could stop later (preflight.py)
    finished = read_json(run_dir / "result.json")
    if finished is not None:
        report({"event": "done", "run": run["run"], "result": finished})
        return finished
    # The device and the data first: a mistake there stops the run before it writes anything.
    device = placement.start(config.device)
    check_amp(config.amp, device)
    progress = progress and writes
    data = placement.prepare(load_dataset(config, progress=progress))
    if writes:
        run_dir.mkdir(parents=True, exist_ok=True)
        # A run killed while writing leaves its temporary file (never a torn result file);
        # only this run writes here, so what is left is garbage.
        for stale in run_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        atomic_write_json(run_dir / "config.json", config.to_dict())
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train),
                             run_dir if writes else None, progress)
    summary = summarize_model(trainer.model, data.input_shape)
    if writes:
        print(f"[{config.run_name()}] {format_summary(summary, config.model, data.input_shape)}", flush=True)
    trainer = placement.adopt(trainer)
    resume_file = run_dir / RESUME_FILE
    threads = None
    if resume_file.exists():
        # The thread count it started with: its numbers depend on it (set_cpu_threads says why).
        threads = load_resume(resume_file, trainer, data.train)
        drop_lost_epoch_lines(run_dir / RUN_LOG, len(trainer.history), config.epochs)
    with cpu_threads_during(threads if device == "cpu" else None):
        report({"event": "start", **run, "epoch": len(trainer.history)})

        logger = VisualDLLogger(run_dir / "vdl" if log_visualdl and writes else None,
                                display_name=run_display_name(config, run_dir))
        logger.replay(trainer.history)   # a resumed run's records are rewritten whole, never appended
        trainer.logger = logger

        def save_epoch(tr: Trainer) -> None:
            if not writes:
                return
            print(f"[{config.run_name()}] {epoch_line(tr.history[-1], config.epochs)}", flush=True)
            atomic_write_json(run_dir / "metrics.json", tr.history)
            atomic_write_csv(run_dir / "metrics.csv", tr.history, METRIC_COLUMNS)
            save_resume(resume_file, tr, data.train)
            # Reported once saved: an epoch the console shows is one a restarted sweep keeps.
            report({"event": "epoch", **run, "logs": dict(tr.history[-1])})
            if tr.diverged:
                report({"event": "diverged", **run, "epoch": len(tr.history), "reason": tr.diverged})
            elif tr.stop_training and len(tr.history) < config.epochs:
                report({"event": "stopped", **run, "epoch": len(tr.history), **_stopped_by(tr)})

        try:
            trainer.fit(data.train, data.val, config.epochs, on_epoch_saved=save_epoch)
            start = time.perf_counter()
            test_loss, test_acc = trainer.evaluate(data.test) if data.test is not None else (None, None)
            test_seconds = time.perf_counter() - start
            result = placement.annotate(summarize(config, trainer, test_loss, test_acc, test_seconds, device))
            result["model_summary"] = summary
            if writes:
                # The final weights (the best epoch's, if EarlyStopping restored them): what
                # scripts/export_model.py exports. (DataParallel keeps the network in _layers.)
                net = getattr(trainer.model, "_layers", trainer.model)
                atomic_paddle_save(net.state_dict(), run_dir / "model.pdparams")
            # For the HParams view, under tags of their own (trial/...) that sort after the curves.
            logger.hparams(hparams(config), {"best_val_acc": result["best_val_acc"],
                                             "test_acc": test_acc, "test_loss": test_loss})
        finally:
            logger.close()
    if writes:
        atomic_write_json(run_dir / "result.json", result)
        report({"event": "done", "run": run["run"], "result": result})
    return result


def _stopped_by(trainer: Trainer) -> dict:
    """What the callback that stopped the run watched, and its best epoch (EarlyStopping's)."""
    for cb in trainer.callbacks:
        if getattr(cb, "stopped_epoch", 0) and hasattr(cb, "monitor"):
            return {"monitor": cb.monitor, "best_epoch": cb.best_epoch + 1}
    return {}
