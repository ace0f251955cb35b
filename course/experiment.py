"""One run, start to finish: ``run_experiment(config, run_dir)`` (flax's ``train_and_evaluate``).

Everything a run produces lives in its directory: ``config.json`` (written first), ``metrics.json``
and ``metrics.csv`` (rewritten after every epoch), ``vdl/`` (VisualDL records), ``last.pdckpt``
(everything needed to continue after an interruption) and ``result.json``, written last: its
presence is what marks the run done, so a sweep restarted after Ctrl-C or kill -9 skips finished
runs and continues unfinished ones from their last completed epoch.
"""
from __future__ import annotations

import datetime
import math
import time
from pathlib import Path

import paddle
from paddle.base import unique_name

from course.config import RunConfig
from course.datasets import load_dataset
from course.device import use_device
from course.errors import ConfigError
from course.files import atomic_paddle_save, atomic_write_csv, atomic_write_json, read_json
from course.optimizers import build_optimizer
from course.progress import hms
from course.trainer import Trainer
from course.vdl import VisualDLLogger
from models.summary import format_summary
from models.summary import summarize as summarize_model

CHECKPOINT = "last.pdckpt"
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_seconds"]


def build_training(config: RunConfig, num_classes: int, input_shape, steps_per_epoch: int,
                   run_dir=None, progress=True):
    """Model, optimizer, schedule and callbacks for ``config``, wrapped in a Trainer."""
    from models import build_model
    from course.callback_flags import callbacks_from_flags
    from course.schedules import build_schedule

    paddle.seed(config.seed)
    # Fresh parameter names (linear_0.w_0, ...) for every build: optimizer state is keyed by
    # them, so a checkpoint loads into a model rebuilt in this process or in a new one.
    names = unique_name.UniqueNameGenerator()
    with unique_name.guard(names):
        kwargs = {}
        if input_shape[0] == 3:  # image models take the input size (and, transfer ones, freezing)
            kwargs["image_size"] = input_shape[-1]
            if config.freeze_backbone:
                kwargs["freeze_backbone"] = True
        model = build_model(config.model, num_classes=num_classes, pretrained=config.pretrained or None,
                            **kwargs)
        scheduler = None
        if config.schedule != "constant" or config.schedule_args:
            scheduler = build_schedule(config.schedule, config.lr, steps_per_epoch, config.epochs,
                                       **config.schedule_args)
        optimizer = build_optimizer(config.optimizer, scheduler or config.lr, model.parameters(),
                                    config.weight_decay)
        callbacks, _ = callbacks_from_flags(config.early_stop or None, config.reduce_lr or None,
                                            config.checkpoint or None)
    return Trainer(model, optimizer, loss_kind=getattr(model, "loss_kind", "ce"), scheduler=scheduler,
                   callbacks=callbacks, num_classes=num_classes, progress=progress,
                   run_dir=run_dir, seed=config.seed, names=names,
                   stop_at_chance=config.stop_at_chance)


def check_config(config: RunConfig) -> None:
    """Raise, before any data is loaded or worker started, the user errors a run would meet:
    names (model, optimizer, schedule), rates, callback specs, and a model that cannot read the
    dataset (the course's MNIST nets take 1x28x28 digits, the image models RGB folders)."""
    from models import is_mnist_model
    from course.callback_flags import callbacks_from_flags
    from course.optimizers import canonical_optimizer, check_learning_rate
    from course.schedules import build_schedule

    canonical_optimizer(config.optimizer)
    check_learning_rate(config.lr)
    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}")
    mnist_net, kind = is_mnist_model(config.model), config.dataset.partition(":")[0]
    if kind == "mnist" and not mnist_net:
        raise ConfigError(f"model {config.model!r} is an image model; give it --dataset folder:PATH, "
                          "or use an MNIST net (linear, mlp_sigmoid, mlp_relu, mlp_keras, lenet)")
    if kind == "folder" and mnist_net:
        raise ConfigError(f"model {config.model!r} is one of the course's MNIST nets (1x28x28 digits); "
                          "for an image folder use e.g. mobilenet_v2, vgg16_gap or densenet121")
    callbacks_from_flags(config.early_stop or None, config.reduce_lr or None, config.checkpoint or None)
    if config.schedule != "constant" or config.schedule_args:
        build_schedule(config.schedule, config.lr, 1, config.epochs, **config.schedule_args)


class SingleProcess:
    """Where a run computes and who writes its files: by default one process that writes all.

    ``course.distributed.DataParallel`` replaces it for multi-process runs: every rank trains on
    its shard, and only rank 0 writes.
    """
    writes = True

    def start(self, device: str) -> str:
        return use_device(device)

    def prepare(self, data):
        return data

    def adopt(self, trainer: Trainer) -> Trainer:
        return trainer

    def describe(self, result: dict) -> dict:
        return result


def run_experiment(config: RunConfig, run_dir, progress: bool = True, log_visualdl: bool = True,
                   placement=None) -> dict:
    """Train and evaluate ``config`` in ``run_dir``; return (and save) the run's result.

    A finished run (``result.json`` present) is not trained again; an unfinished one continues
    from ``last.pdckpt``. A run directory holding other settings is an error.
    """
    placement = placement or SingleProcess()
    writes = placement.writes
    run_dir = Path(run_dir)
    saved = read_json(run_dir / "config.json")
    if saved is not None and saved != config.to_dict():
        raise ConfigError(f"{run_dir} holds a run with other settings (see its config.json); "
                          "use another --logdir or delete that directory")
    finished = read_json(run_dir / "result.json")
    if finished is not None:
        return finished
    check_config(config)
    device = placement.start(config.device)
    if writes:
        run_dir.mkdir(parents=True, exist_ok=True)
        # A run killed while writing leaves its temporary file (never a torn result file);
        # only this run writes here, so what is left is garbage.
        for stale in run_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        atomic_write_json(run_dir / "config.json", config.to_dict())

    progress = progress and writes
    data = placement.prepare(load_dataset(config, progress=progress))
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train),
                             run_dir if writes else None, progress)
    summary = summarize_model(trainer.model, data.input_shape)
    if writes:
        print(f"[{config.run_name()}] {format_summary(summary, config.model, data.input_shape)}", flush=True)
    trainer = placement.adopt(trainer)
    checkpoint = run_dir / CHECKPOINT
    if checkpoint.exists():
        restore(trainer, data.train, paddle.load(str(checkpoint)))

    logger = VisualDLLogger(run_dir / "vdl" if log_visualdl and writes else None)
    logger.replay(trainer.history)   # a resumed run's records are rewritten whole, never appended
    trainer.logger = logger

    def save_epoch(tr: Trainer) -> None:
        if not writes:
            return
        print(f"[{config.run_name()}] {describe_epoch(tr.history[-1], config.epochs)}", flush=True)
        atomic_write_json(run_dir / "metrics.json", tr.history)
        atomic_write_csv(run_dir / "metrics.csv", tr.history, METRIC_COLUMNS)
        atomic_paddle_save(snapshot(tr, data.train), checkpoint)

    try:
        trainer.fit(data.train, data.val, config.epochs, on_epoch_saved=save_epoch)
        start = time.perf_counter()
        test_loss, test_acc = trainer.evaluate(data.test) if data.test is not None else (None, None)
        test_seconds = time.perf_counter() - start
        result = placement.describe(summarize(config, trainer, test_loss, test_acc, test_seconds, device))
        result["model_summary"] = summary
        if writes:
            # The final weights (the best epoch's, if EarlyStopping restored them): what
            # scripts/export_model.py exports. (DataParallel keeps the network in _layers.)
            net = getattr(trainer.model, "_layers", trainer.model)
            atomic_paddle_save(net.state_dict(), run_dir / "model.pdparams")
        # Own tags for the HParams view: a point at step 0 on val/acc would bend every curve.
        logger.hparams(hparams(config), {"best/val_acc": result["best_val_acc"],
                                         "test/acc": test_acc, "test/loss": test_loss})
    finally:
        logger.close()
    if writes:
        atomic_write_json(run_dir / "result.json", result)
    return result


def describe_epoch(logs: dict, epochs: int) -> str:
    """One line per epoch, as the course prints its progress."""
    val = ("" if logs.get("val_acc") is None else
           f" | val loss {logs['val_loss']:.4f} acc {100 * logs['val_acc']:.2f}%")
    return (f"epoch {logs['epoch']}/{epochs}: train loss {logs['train_loss']:.4f} "
            f"acc {100 * logs['train_acc']:.2f}%{val} | lr {logs['lr']:.3g} | {hms(logs['epoch_seconds'])}")


def snapshot(trainer: Trainer, train_data) -> dict:
    state = {"trainer": trainer.state_dict(),
             "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None
                           for cb in trainer.callbacks]}
    if hasattr(train_data, "state_dict"):
        state["train_data"] = train_data.state_dict()
    return state


def restore(trainer: Trainer, train_data, state: dict) -> None:
    trainer.set_state_dict(state["trainer"])
    for cb, cb_state in zip(trainer.callbacks, state.get("callbacks", [])):
        if cb_state is not None and hasattr(cb, "set_state_dict"):
            cb.set_state_dict(cb_state)
    if "train_data" in state and hasattr(train_data, "set_state_dict"):
        train_data.set_state_dict(state["train_data"])


def hparams(config: RunConfig) -> dict:
    return {"optimizer": config.arm(), "lr": config.lr, "seed": config.seed,
            "model": config.model, "batch_size": config.batch_size,
            "weight_decay": config.weight_decay, "schedule": config.schedule}


def summarize(config, trainer, test_loss, test_acc, test_seconds, device) -> dict:
    """The numbers the comparison table is made of, from the run's epoch history."""
    history = trainer.history
    vals = [h["val_acc"] for h in history if h.get("val_acc") is not None]
    best = max(range(len(vals)), key=vals.__getitem__) if vals else None
    elapsed, to_target = 0.0, None
    for h in history:
        elapsed += h["epoch_seconds"]
        if to_target is None and h.get("val_acc") is not None and h["val_acc"] >= config.target_acc:
            to_target = (h["epoch"], elapsed)
    last = history[-1] if history else {}
    return {
        "run": config.run_name(), "arm": config.arm(), "optimizer": config.optimizer,
        "label": config.label, "lr": config.lr, "seed": config.seed, "batch_size": config.batch_size,
        "status": "diverged" if trainer.diverged else "done", "diverged": bool(trainer.diverged),
        "diverged_reason": trainer.diverged,
        "epochs_run": len(history), "epochs_planned": config.epochs,
        "stopped_early": len(history) < config.epochs and not trainer.diverged,
        "best_val_acc": vals[best] if vals else None, "best_epoch": best + 1 if vals else None,
        "final_val_acc": last.get("val_acc"), "final_val_loss": _finite_or_none(last.get("val_loss")),
        "test_acc": test_acc, "test_loss": _finite_or_none(test_loss),
        "target_acc": config.target_acc,
        "epochs_to_target": to_target[0] if to_target else None,
        "seconds_to_target": to_target[1] if to_target else None,
        "train_seconds": elapsed, "total_seconds": elapsed + test_seconds,
        "device": device, "finished_at": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def _finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None
