"""One run's settings: each declared once, here, with its type, default and one-line help.

``RunConfig`` is the only place a setting exists. The flags of every entry point are generated
from its fields (``course.cli``), so a flag and its config key cannot drift apart
(``--batch-size`` is ``batch_size``, its help and default are the field's). A config is checked
once, when it is built: a bad value fails in ``__post_init__`` naming the flag, before any data
is loaded or file written. A key that is not a field is an error listing the valid keys (nanoGPT's
``configurator.py``), so a typo never silently falls back to a default. Every run directory holds
the whole config as ``config.json``.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field

from course.engine.errors import ConfigError


def setting(default, help: str, **extra):
    """A dataclass field carrying its one-line ``help`` (what ``--help`` shows) in its metadata.

    ``extra`` goes into the metadata too, e.g. ``item=float`` for a comma-separated list flag.
    """
    metadata = {"help": help, **extra}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class RunConfig:
    """Everything that decides what one run trains and how (see each field's help)."""

    # --- what is trained on what -------------------------------------------------------------
    dataset: str = setting("mnist", "'mnist' (real MNIST, fetched once and cached), 'mnist:PATH' "
                                    "(your mnist.json.gz) or 'folder:PATH' (one sub-folder per class)")
    model: str = setting("lenet", "network: linear, mlp_sigmoid, mlp_relu, mlp_keras, lenet; for image "
                                  "folders vgg16_keras, vgg16, vgg16_gap, vgg16_transfer, densenet121, "
                                  "mobilenet_v2 or vision:<backbone>")
    subset: int = setting(0, "train on the first N training images (0 = all)")
    val_subset: int = setting(0, "validate on the first N validation images (0 = all)")
    image_size: int = setting(0, "image folders: resize every image to SxS pixels (0 = 64)")
    augment: str = setting("none", "image folders: training augmentation preset (none, keras_gym)")
    validation_split: float = setting(0.2, "image folders without a val/ folder: fraction of each "
                                           "class held out for validation")
    split_seed: int = setting(12, "image folders: seed of that split (the film-star article's 12)")
    freeze_backbone: bool = setting(False, "transfer models: keep the backbone fixed, train the head")
    pretrained: str = setting("", "'' (random init), 'imagenet' or a .pdparams file")
    # --- how it is trained -------------------------------------------------------------------
    optimizer: str = setting("sgd", "optimizer name, with its own settings if wanted: 'adam', "
                                    "'momentum(momentum=0.5)', 'adam(beta2=0.99,epsilon=1e-7)' "
                                    "(course/engine/optimizers.py lists each one's settings)")
    # The settings given in --optimizer's brackets land here ('momentum(momentum=0.5)' is
    # optimizer='momentum', optimizer_args={'momentum': 0.5}); the rest take --defaults' values.
    optimizer_args: dict = setting({}, "the optimizer's own settings, e.g. 'beta2=0.99' (the same "
                                       "as --optimizer 'adam(beta2=0.99)')", absent={})
    # A config.json from before --defaults existed was built with Paddle's.
    defaults: str = setting("paddle", "whose defaults the optimizer takes for every setting not "
                                      "given: paddle, keras or torch (Adam's epsilon is 1e-8, 1e-7, "
                                      "1e-8; course/engine/optimizers.py lists them all)",
                            absent="paddle")
    label: str = setting("", "names a variant when runs differ in more than optimizer, rate and "
                             "seed (e.g. 'plateau'); joins the run name")
    lr: float = setting(0.01, "initial learning rate, > 0")
    loss: str = setting("auto", "auto (the model's own: cross-entropy; MSE for linear), ce, mse (the "
                                "digit as a number: one output, accuracy = rounded output) or "
                                "double_softmax (the course's nets end in a softmax that "
                                "cross_entropy applies again)")
    weight_decay: float = setting(0.0, "L2 regularisation coefficient (the course's 正则化; "
                                       "decoupled for adamw), 0 = off")
    schedule: str = setting("constant", "learning-rate schedule: constant, exponential, polynomial, "
                                        "step, cosine, onecycle, warmup")
    schedule_args: dict = setting({}, "the schedule's settings, e.g. "
                                      "'decay_steps=60,decay_rate=0.96,staircase=true'")
    epochs: int = setting(5, "passes over the training data (the course's EPOCH_NUM)")
    batch_size: int = setting(64, "images per optimizer step")
    seed: int = setting(0, "seeds Paddle, NumPy and the shuffling: same seed, same curve (CPU)")
    # 'auto' is resolved when the config is built (validate.py), so config.json and the run's
    # identity hold what the run computed in; a config.json from before --amp existed means 'off'.
    amp: str = setting("auto", "mixed precision: off, fp16 (float16 + dynamic loss scaling, GPU), "
                               "bf16 (Ampere GPUs; float32 on a CPU in Paddle 3.3.1) or auto (fp16 "
                               "for image models on a GPU, else off)", absent="off")
    # --- Keras-style training controls, 'key=value,...' ('' = off) ----------------------------
    early_stop: str = setting("", "EarlyStopping, e.g. 'monitor=val_acc,patience=2'")
    reduce_lr_on_plateau: str = setting("", "ReduceLROnPlateau, e.g. "
                                            "'monitor=val_acc,factor=0.1,patience=1'")
    checkpoint: str = setting("", "ModelCheckpoint: 'best' keeps the best epoch's model and "
                                  "optimizer as best.pdckpt")
    stop_at_chance: bool = setting(True, "stop a run as diverged if its validation accuracy is at "
                                         "chance after its first epoch (>= 100 steps); NaN/Inf "
                                         "always stops it")
    # Not neutral: the fast kernels round differently from Paddle's (course/speed says how), and
    # a run reproduces, and resumes bit for bit, only on the kernels it started on.
    fast_kernels: bool = setting(True, "on a CPU, run convolutions on oneDNN and call the "
                                       "linear, loss and SGD kernels directly (course/speed): the "
                                       "same model and results within float32 rounding, faster; "
                                       "--no-fast-kernels runs Paddle's own kernels")
    # --- where and how -------------------------------------------------------------------------
    # (neutral: where and how a run computes, or how its result is summed up; never what it learns)
    device: str = setting("auto", "auto (a GPU if Paddle has CUDA and one is present), cpu, gpu or gpu:N",
                          neutral=True)
    data_cache: str = setting("", "MNIST cache folder ('' = $PADDLE_OPT_LAB_DATA or ~/.cache)",
                              neutral=True)
    target_acc: float = setting(0.97, "the table's 'epochs/time to reach' validation accuracy, in (0, 1]",
                                neutral=True)
    num_workers: int = setting(-1, "image folders: DataLoader worker processes (-1: one per core "
                                   "the run has, less one, at most 8; never changes the results)",
                               neutral=True)
    # 5: the default sweep's 313 steps an epoch x 5 epochs give 313 points per curve
    log_every_n_steps: int = setting(5, "log the training loss and rate to VisualDL every N optimizer "
                                        "steps (train/batch_loss, train/batch_lr; 0 = off)", neutral=True)

    def __post_init__(self):
        check_types(self)
        from course.engine.validate import validate   # it imports the registries, which need paddle

        validate(self)

    def optimizer_variant(self) -> str:
        """The optimizer as the report names it and groups by: 'adam', 'adam+plateau' for a
        labelled variant, 'momentum(momentum=0.5)' with its own settings."""
        from course.engine.optimizers import describe

        name = describe(self.optimizer, self.optimizer_args)
        return f"{name}+{self.label}" if self.label else name

    def run_name(self) -> str:
        """The run directory's name, made of what varies in a sweep: 'sgd-lr0.01-seed0',
        'momentum_momentum=0.5-lr0.01-seed0' (no brackets: a plain word in a shell, and a valid
        folder name on Windows too)."""
        from course.engine.optimizers import folder_part

        name = folder_part(self.optimizer, self.optimizer_args)
        return f"{name}{'+' + self.label if self.label else ''}-lr{self.lr:g}-seed{self.seed}"

    def display_name(self) -> str:
        """The run as a person reads it, 'adam lr=0.01' (the caller adds 'seed=N' when seeds vary)."""
        return f"{self.optimizer_variant()} lr={self.lr:g}"

    def group_name(self) -> str:
        """The sweep directory's name, '<dataset>-<model>', e.g. 'mnist-lenet'."""
        # 'vision:resnet18' -> 'vision_resnet18': a colon is no good in a Windows path
        return f"{dataset_label(self.dataset)}-{self.model.replace(':', '_')}"

    def changes_from(self, saved: dict) -> list[str]:
        """The settings that differ from ``saved`` (a run's config.json) and can change what a run
        learns, as 'epochs 5 -> 10'; settings marked neutral (device, cache, ...) do not count."""
        changes = []
        for f in dataclasses.fields(self):
            new, old = getattr(self, f.name), saved.get(f.name, f.metadata.get("absent", f.default))
            if not f.metadata.get("neutral") and new != old:
                changes.append(f"{f.name} {old!r} -> {new!r}" if isinstance(new, str) else
                               f"{f.name} {old} -> {new}")
        return changes

    def to_dict(self) -> dict:
        """Every setting, JSON-able: what config.json holds."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "RunConfig":
        """A copy with ``changes`` applied (and checked again)."""
        check_keys(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Build from a dict such as config.json's; unknown keys are an error."""
        check_keys(values)
        return cls(**values)

    @classmethod
    def load(cls, path) -> "RunConfig":
        """Read a run's config.json; a missing or damaged file is a one-line ConfigError."""
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except (OSError, UnicodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot read run config {path}: {err}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"run config {path} holds a JSON {type(values).__name__}, not an object")
        try:
            return cls.from_dict(values)
        except ConfigError as err:
            raise ConfigError(f"run config {path}: {err}") from None


FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,)}


def flag(name: str) -> str:
    """The command-line flag of config key ``name``: 'batch_size' -> '--batch-size'."""
    return "--" + name.replace("_", "-")


def check_keys(values: dict) -> None:
    """Raise ConfigError naming any key of ``values`` that is not a RunConfig field."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(FIELDS)}")


def check_types(config) -> None:
    """Every field holds a value of its declared type (an int where a float goes is made a float)."""
    for f in dataclasses.fields(config):
        value, allowed = getattr(config, f.name), _TYPES[f.type]
        if not isinstance(value, allowed) or (isinstance(value, bool) and f.type != "bool"):
            raise ConfigError(f"{flag(f.name)}: expected {f.type}, got {value!r}")
        if f.type == "float":
            if not math.isfinite(value):
                raise ConfigError(f"{flag(f.name)}: expected a finite number, got {value!r}")
            setattr(config, f.name, float(value))


def dataset_label(spec: str) -> str:
    """A short name for a dataset spec: 'mnist', or the folder's base name for 'folder:PATH'."""
    kind, _, path = spec.partition(":")
    if not path:
        return kind
    name = path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or kind
    return name if kind == "folder" else f"{kind}_{name.split('.')[0]}"
