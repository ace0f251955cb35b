"""The checks a ``RunConfig`` passes when it is built: the one place a setting's value is judged.

Each check names the flag it is about (``--lr: must be > 0, got -1``). Only what can be judged
from the settings alone is checked here; what needs the data (a folder's classes, a GPU that is
really there) is checked when the run starts, still before anything is written.
Names are canonicalised here too ('Adam' -> 'adam'), so the rest of the engine takes them as given.
"""
from __future__ import annotations

from pathlib import Path

from course.engine.errors import ConfigError
from models.errors import ModelError

DATASET_KINDS = ("mnist", "folder")
# A schedule is checked with this many steps per epoch: its real length is known only once the
# data is loaded, and a short guess would reject a warm-up that a real epoch has room for.
_CHECK_STEPS_PER_EPOCH = 10 ** 6


def validate(config) -> None:
    """Raise ConfigError (naming the flag) for the first setting of ``config`` that is not valid."""
    from course.engine.callbacks.flags import callbacks_from_config
    from course.engine.device import check_device_name
    from course.engine.optimizers import check_settings, parse_optimizer
    from course.engine.precision import AMP_CHOICES, resolve_amp
    from course.engine.schedules import build_schedule
    from course.engine.trainer import LOSS_KINDS

    config.optimizer, own = _flagged("--optimizer", parse_optimizer, config.optimizer)
    config.optimizer_args = _flagged("--optimizer", lambda args: check_settings(
        config.optimizer, args, config.defaults), {**config.optimizer_args, **own})
    _at_least("--lr", config.lr, 0, strict=True)
    for name in ("weight_decay", "subset", "val_subset", "image_size", "log_every_n_steps"):
        _at_least("--" + name.replace("_", "-"), getattr(config, name), 0)
    _at_least("--num-workers", config.num_workers, -1)   # -1: auto (course/engine/data.py)
    for name in ("seed", "split_seed"):   # NumPy's seeds: 0 .. 2**32 - 1
        if not 0 <= getattr(config, name) < 2 ** 32:
            raise ConfigError(f"--{name.replace('_', '-')}: must be in [0, 2**32), got {getattr(config, name)}")
    for name in ("epochs", "batch_size"):
        _at_least("--" + name.replace("_", "-"), getattr(config, name), 1)
    if not 0 < config.validation_split < 1:
        raise ConfigError(f"--validation-split: must be a fraction in (0, 1), got {config.validation_split}")
    if not 0 < config.target_acc <= 1:
        raise ConfigError(f"--target-acc: must be an accuracy in (0, 1], got {config.target_acc}")
    _check_dataset_and_model(config)
    losses = ("auto", *LOSS_KINDS)   # auto: the model's own
    if config.loss not in losses:
        raise ConfigError(f"--loss: unknown loss {config.loss!r}; choose one of {', '.join(losses)}")
    if config.model == "linear" and config.loss in ("ce", "double_softmax"):
        raise ConfigError(f"--loss: {config.loss} needs one output per class; 'linear' has one output "
                          "in all (use --loss auto or mse)")
    _check_augment(config.augment)
    config.device = _flagged("--device", check_device_name, config.device)   # 'GPU' -> 'gpu'
    if config.amp not in AMP_CHOICES:
        raise ConfigError(f"--amp: unknown precision {config.amp!r}; choose one of {', '.join(AMP_CHOICES)}")
    config.amp = resolve_amp(config.amp, config.device, config.model)
    if config.schedule != "constant" or config.schedule_args:
        try:
            build_schedule(config.schedule, config.lr, _CHECK_STEPS_PER_EPOCH, config.epochs,
                           **config.schedule_args)
        except ConfigError as err:   # the schedule's own settings are --schedule-args'
            named = "--schedule-args" if config.schedule_args and "unknown schedule" not in str(err) \
                else "--schedule"
            raise ConfigError(f"{named}: {err}") from None
    callbacks_from_config(config)
    if config.reduce_lr_on_plateau and (config.schedule != "constant" or config.schedule_args):
        raise ConfigError(f"--reduce-lr-on-plateau sets the rate itself, but --schedule {config.schedule} "
                          "drives it too; use one of them")
    _check_pretrained(config.pretrained)


def _flagged(flag: str, check, value):
    """``check(value)``, with the flag's name put in front of its error message."""
    try:
        return check(value)
    except (ConfigError, ModelError) as err:
        message = str(err)
        # a message that starts with a flag names it already ('--defaults: ...' from --optimizer's check)
        raise ConfigError(message if message.startswith("--") else f"{flag}: {message}") from None


def _at_least(flag: str, value, low, strict: bool = False) -> None:
    if value < low or (strict and value == low):
        raise ConfigError(f"{flag}: must be {'>' if strict else '>='} {low}, got {value}")


def _check_dataset_and_model(config) -> None:
    from models import model_kind

    kind, sep, path = config.dataset.partition(":")
    if kind not in DATASET_KINDS:
        raise ConfigError(f"--dataset: unknown dataset {config.dataset!r}; use 'mnist', "
                          "'mnist:PATH/mnist.json.gz' or 'folder:PATH'")
    if kind == "folder" and not path.strip():
        raise ConfigError("--dataset: 'folder:' needs a path, e.g. --dataset folder:~/photos")
    pipeline = _flagged("--model", model_kind, config.model)
    if kind == "mnist" and pipeline != "mnist":
        raise ConfigError(f"--model: {config.model!r} is an image model; give it --dataset folder:PATH, "
                          "or use an MNIST net (linear, mlp_sigmoid, mlp_relu, mlp_keras, lenet)")
    if kind == "folder" and pipeline == "mnist":
        raise ConfigError(f"--model: {config.model!r} is one of the course's MNIST nets (1x28x28 "
                          "digits); for an image folder (--dataset folder:...) use e.g. mobilenet_v2, "
                          "vgg16_gap or densenet121")


def _check_augment(name: str) -> None:
    from data.folders import AUGMENT_PRESETS

    if name not in AUGMENT_PRESETS:
        raise ConfigError(f"--augment: unknown preset {name!r}; choose one of {', '.join(AUGMENT_PRESETS)}")


def _check_pretrained(spec: str) -> None:
    if spec not in ("", "imagenet") and not Path(spec).expanduser().is_file():
        raise ConfigError(f"--pretrained: no weights file {spec} (give a .pdparams file, 'imagenet' "
                          "or '' for random weights)")


def parse_jobs(value) -> int | str:
    """``--jobs``: 'auto' or a whole number >= 1 (an int or its text); the number as an int."""
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    try:
        jobs = int(text)
    except ValueError:
        raise ConfigError(f"--jobs: expected 'auto' or a number of runs at once, got {value!r}") from None
    _at_least("--jobs", jobs, 1)
    return jobs
