"""One run's settings: a flat, typed config with a comment on every field.

Command-line flags override these defaults; a config loaded from JSON with a key that is not a
field is an error listing the valid keys (nanoGPT's ``configurator.py``), so a typo never silently
falls back to a default. The whole config is saved as ``config.json`` in every run directory.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from course.errors import ConfigError


@dataclass
class RunConfig:
    # --- what is trained on what -------------------------------------------------------------
    dataset: str = "mnist"        # 'mnist' (cached real MNIST), 'mnist:PATH' (your mnist.json.gz) or 'folder:PATH'
    model: str = "lenet"          # a name from models.MODELS
    image_size: int = 0           # folder datasets: resize to SxS (0 = the model's default)
    augment: str = "none"         # folder datasets: augmentation preset ('none', 'keras_gym')
    validation_split: float = 0.2  # folder datasets without a val/ folder: fraction held out
    split_seed: int = 12          # folder datasets: seed of that split (the film-star article's 12)
    freeze_backbone: bool = False  # transfer models: keep the backbone's weights fixed
    pretrained: str = ""          # '' (random init), 'imagenet' or a path to a .pdparams file
    # --- how it is trained -------------------------------------------------------------------
    optimizer: str = "sgd"        # a name from course.optimizers.OPTIMIZERS
    label: str = ""               # names a variant when runs differ in more than optimizer/lr/seed
                                  # (e.g. 'plateau' for Adam + ReduceLROnPlateau); joins the run name
    lr: float = 0.01              # initial learning rate, > 0
    weight_decay: float = 0.0     # L2 regularisation coefficient (the course's 正则化), 0 = off
    schedule: str = "constant"    # a name from course.schedules.SCHEDULES
    schedule_args: dict = field(default_factory=dict)  # keyword arguments of that schedule
    epochs: int = 5               # passes over the training data
    batch_size: int = 64          # images per optimizer step
    seed: int = 0                 # seeds Paddle, NumPy and the shuffling: same seed, same curve (CPU)
    subset: int = 0               # train on the first N training images (0 = all 50,000)
    val_subset: int = 0           # validate on the first N validation images (0 = all)
    # --- controls (issue: Keras-semantics callbacks), as 'key=value,...' specs; '' = off --------
    early_stop: str = ""          # e.g. 'monitor=val_acc,patience=2'
    reduce_lr: str = ""           # e.g. 'monitor=val_acc,factor=0.1,patience=1'
    checkpoint: str = ""          # 'best' keeps the best epoch's model + optimizer as best.pdckpt
    # --- where and how -------------------------------------------------------------------------
    device: str = "auto"          # 'auto' (GPU if Paddle has CUDA and one is present), 'cpu', 'gpu', 'gpu:N'
    data_cache: str = ""          # MNIST cache directory ('' = $PADDLE_OPT_LAB_DATA or the user cache)
    target_acc: float = 0.97      # the report's "epochs/seconds to reach" this validation accuracy
    stop_at_chance: bool = True   # stop a run as diverged if validation accuracy is at chance level
                                  # after its first epoch (of >= 100 steps); NaN/Inf always stops
    num_workers: int = 0          # DataLoader worker processes for folder datasets

    def arm(self) -> str:
        """The optimizer as the report names it: 'adam', or 'adam+plateau' for a labelled variant."""
        return f"{self.optimizer}+{self.label}" if self.label else self.optimizer

    def run_name(self) -> str:
        """The run directory's name, made of what varies in a sweep: 'sgd-lr0.01-seed0'."""
        return f"{self.arm()}-lr{self.lr:g}-seed{self.seed}"

    def group_name(self) -> str:
        """The sweep directory's name, '<dataset>-<model>', e.g. 'mnist-lenet'."""
        # 'vision:resnet18' -> 'vision_resnet18': a colon is no good in a Windows path
        return f"{dataset_label(self.dataset)}-{self.model.replace(':', '_')}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "RunConfig":
        check_keys(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        check_keys(values)
        return cls(**values)

    @classmethod
    def load(cls, path) -> "RunConfig":
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_dict(json.load(f))
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot read run config {path}: {err}") from None


FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))


def check_keys(values: dict) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(FIELDS)}")


def dataset_label(spec: str) -> str:
    """A short name for a dataset spec: 'mnist', or the folder's base name for 'folder:PATH'."""
    kind, _, path = spec.partition(":")
    if not path:
        return kind
    name = path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or kind
    return name if kind == "folder" else f"{kind}_{name.split('.')[0]}"
