"""One run, start to finish: ``run_experiment(config, run_dir)`` (flax's ``train_and_evaluate``).

Everything a run produces lives in its directory: ``config.json`` (written first), ``metrics.json``
and ``metrics.csv`` (rewritten after every epoch), ``vdl/`` (VisualDL records), ``last.pdckpt``
(everything needed to continue after an interruption), ``model.pdparams`` (the final weights) and
``result.json``, written last: its presence is what marks the run done, so a sweep restarted after
Ctrl-C or kill -9 skips finished runs and continues unfinished ones from their last completed epoch.

The steps, each a function here: ``finished_result`` (is the run done already?), ``open_run``
(config.json, the trainer), ``resume`` (from last.pdckpt), ``train_and_test``; then the result is
saved. What a run tells the world as it trains, it tells through the trainer's callbacks, added
after the run's own: ``course.engine.vdl.VisualDL`` (the curves), ``course.engine.run_files.RunFiles``
(the files) and ``course.engine.run_events.RunEvents`` (a sweep console's events).
"""
from __future__ import annotations

import time
from pathlib import Path

import paddle
from paddle.utils import unique_name

from course.engine.checkpoint import RESUME_FILE, load_resume
from course.engine.config import RunConfig
from course.engine.data import load_dataset
from course.engine.device import cpu_threads_during, use_device
from course.engine.files import read_json
from course.engine.names import new_names
from course.engine.preflight import check_before_start
from course.engine.precision import check_amp
from course.engine.results import RUN_LOG, drop_lost_epoch_lines, hparams, summarize
from course.engine.run_events import RunEvents
from course.engine.run_files import RunFiles
from course.engine.trainer import Trainer
from course.engine.vdl import VisualDL, run_display_name
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
    names = new_names()
    with unique_name.guard(names):
        model = build_run_model(config, num_classes, input_shape)
        scheduler = None
        if config.schedule != "constant" or config.schedule_args:
            scheduler = build_schedule(config.schedule, config.lr, steps_per_epoch, config.epochs,
                                       **config.schedule_args)
        optimizer = build_optimizer(config.optimizer, scheduler or config.lr, model.parameters(),
                                    config.weight_decay, config.optimizer_args, config.defaults)
        callbacks = callbacks_from_config(config)
    trainer = Trainer(model, optimizer, loss_kind=model.loss_kind, scheduler=scheduler,
                      callbacks=callbacks, num_classes=num_classes, progress=progress,
                      run_dir=run_dir, seed=config.seed, names=names,
                      stop_at_chance=config.stop_at_chance,
                      log_every_n_steps=config.log_every_n_steps, precision=MixedPrecision(config.amp))
    if config.fast_kernels:
        speed.apply_to_trainer(trainer)
    return trainer


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

    def wrap_trainer(self, trainer: Trainer) -> Trainer:
        """The trainer this placement trains with (the one built, unchanged)."""
        return trainer

    def add_to_result(self, result: dict) -> dict:
        """Add what this placement knows to the run's result (nothing)."""
        return result


def run_experiment(config: RunConfig, run_dir, progress: bool = True, log_visualdl: bool = True,
                   placement=None, report=None) -> dict:
    """Train and evaluate ``config`` in ``run_dir``; return (and save) the run's result.

    A finished run (``result.json`` present) is not trained again; an unfinished one continues
    from ``last.pdckpt``. A run directory holding other settings is an error.

    The details (model summary, a full line per epoch) are printed; ``report``, if given, is
    called besides with a small plain dict at each step a sweep's console shows
    (``course.engine.run_events.RunEvents`` lists them). ``placement`` says where the run
    computes and whether this process writes (default ``SingleProcess``).
    """
    placement = placement or SingleProcess()
    run_dir = Path(run_dir)
    events = RunEvents(report if placement.writes else None, config.run_name(), config.epochs)
    finished = finished_result(config, run_dir)
    if finished is not None:
        events.done(finished)
        return finished

    # The device and the data first: a mistake there stops the run before it writes anything.
    device = placement.start(config.device)
    check_amp(config.amp, device)
    progress = progress and placement.writes
    data = placement.prepare(load_dataset(config, progress=progress))

    trainer, summary, files = open_run(config, run_dir, data, placement, progress)
    curves = VisualDL(run_dir / "vdl" if log_visualdl and placement.writes else None,
                      display_name=run_display_name(config, run_dir))
    # In this order: the checkpoint RunFiles saves holds every callback's state before it, and
    # RunEvents reports an epoch only once it is saved.
    trainer.callbacks += [curves] + ([files, events] if files else [])
    threads = resume(trainer, run_dir, data.train, config.epochs)
    with cpu_threads_during(threads if device == "cpu" else None):
        result = train_and_test(config, trainer, data, device, curves)

    result = placement.add_to_result(result)
    result["model_summary"] = summary
    if files:   # the weights, then result.json: the run is done
        files.finish(trainer, result)
        events.done(result)
    return result


def finished_result(config: RunConfig, run_dir: Path) -> dict | None:
    """The saved result of the run in ``run_dir`` if it is finished, else None. First every check
    a mistake could otherwise fail later (course/engine/preflight.py), run identity included: a
    ConfigError if the folder holds a run with other settings."""
    check_before_start(config, run_dir)
    return read_json(run_dir / "result.json")


def open_run(config: RunConfig, run_dir: Path, data, placement, progress: bool):
    """Write the run's config.json (if this process writes), build its trainer and print the
    model's summary; return (trainer as the placement trains it, summary, RunFiles or None)."""
    files = None
    if placement.writes:
        files = RunFiles(run_dir, config.run_name(), config.epochs, data.train)
        files.open(config.to_dict())
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train),
                             run_dir if files else None, progress)
    summary = summarize_model(trainer.model, data.input_shape)
    if files:
        print(f"[{config.run_name()}] {format_summary(summary, config.model, data.input_shape)}", flush=True)
    return placement.wrap_trainer(trainer), summary, files


def resume(trainer: Trainer, run_dir: Path, train_data, epochs: int) -> int | None:
    """Continue from ``run_dir``'s resume checkpoint, if there is one: put its state into
    ``trainer``, its callbacks and ``train_data``; return the CPU thread count the run trained
    with (its numbers depend on it: ``set_cpu_threads`` says why), or None."""
    resume_file = run_dir / RESUME_FILE
    if not resume_file.exists():
        return None
    threads = load_resume(resume_file, trainer, train_data)
    drop_lost_epoch_lines(run_dir / RUN_LOG, len(trainer.history), epochs)
    return threads


def train_and_test(config: RunConfig, trainer: Trainer, data, device: str, curves: VisualDL) -> dict:
    """Train the remaining epochs, evaluate on the test set (if there is one) and return the
    run's result; its summary goes to VisualDL's HParams view, and the record file is closed."""
    try:
        trainer.fit(data.train, data.val, config.epochs)
        start = time.perf_counter()
        test_loss, test_acc = trainer.evaluate(data.test) if data.test is not None else (None, None)
        result = summarize(config, trainer, test_loss, test_acc, time.perf_counter() - start, device)
        # Under tags of their own (trial/...) that sort after the curves.
        curves.summary(hparams(config), {"best_val_acc": result["best_val_acc"],
                                         "test_acc": test_acc, "test_loss": test_loss})
        return result
    finally:
        curves.close()
