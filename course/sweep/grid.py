"""An optimizer x learning-rate x seed grid: one run configuration and directory per cell.

Layout: ``<logdir>/<dataset>-<model>/<optimizer>-lr<lr>-seed<seed>/`` (``course.engine.experiment``
says what a run directory holds). The grid's own settings are declared here once, like a run's
in ``RunConfig``, and the flags ``--optimizers``, ``--lrs``, ``--seeds`` and ``--logdir`` are
generated from them (``course.cli``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from course.engine.config import RunConfig, setting
from course.engine.errors import ConfigError
from course.engine.preflight import check_folder_flag, check_seeds, check_unique


@dataclass
class Sweep:
    """The grid: every arm x every learning rate x every seed, each cell a validated RunConfig.

    An arm is an optimizer name, or a dict of RunConfig overrides with an ``optimizer`` and a
    ``label`` when one optimizer appears with different controls (the gym-equipment article's
    "Adam + ReduceLROnPlateau" beside plain AdaGrad, RMSProp, ...):
    ``{"optimizer": "adam", "label": "plateau", "reduce_lr_on_plateau": "monitor=val_loss"}``.
    An arm with its own ``lr`` runs at that rate only (the articles give each optimizer its own:
    Adam 1e-3 beside SGD 1e-2); when every arm has one, ``lrs`` becomes the list of those rates.
    An optimizer may carry its own settings, 'momentum(momentum=0.5)': one optimizer with three
    momenta is three arms, each named by its setting in the run names, the table and the figures.
    """
    base: RunConfig                                   # settings shared by every run
    optimizers: list = setting(["sgd", "momentum", "adagrad", "rmsprop", "adam"],
                               "comma-separated optimizer names, each with its own settings if "
                               "wanted: 'momentum(momentum=0.5),momentum(momentum=0.99),"
                               "adam(beta2=0.99)' (course/engine/optimizers.py)", item=str)
    lrs: list = setting([0.1, 0.01, 0.001], "comma-separated learning rates", item=float)
    seeds: list = setting([0], "comma-separated seeds (several give mean ± std in the table)", item=int)
    logdir: str = setting("runs", "root folder of all sweeps")
    folder: str = setting("", "the sweep's folder under --logdir ('' = <dataset>-<model>)")
    confirm_best: int = setting(0, "after the grid, re-run each optimizer's best rate with this many "
                                   "more seeds and test whether the winner's lead exceeds seed noise "
                                   "(0: off; course/sweep/confirm.py)")

    def __post_init__(self):
        if self.confirm_best < 0:
            raise ConfigError(f"--confirm-best: must be >= 0 (0: off), got {self.confirm_best}")
        check_folder_flag(self.logdir, "--logdir")
        check_seeds(self.seeds)
        check_unique(self.lrs, "--lrs", "learning rate")   # as a repeated optimizer is refused
        self.arms = [{"optimizer": a} if isinstance(a, str) else dict(a) for a in self.optimizers]
        if any("optimizer" not in arm for arm in self.arms):
            raise ConfigError(f"--optimizers: every arm needs an optimizer, got {self.optimizers}")
        own = [arm["lr"] for arm in self.arms if "lr" in arm]
        if own and len(own) == len(self.arms):
            self.lrs = sorted(set(own), reverse=True)
        for flag, values, what in (("--optimizers", self.arms, "optimizer"),
                                   ("--lrs", self.lrs, "learning rate"), ("--seeds", self.seeds, "seed")):
            if not values:
                raise ConfigError(f"{flag}: a sweep needs at least one {what}, got none")
        # Every cell is built (and so validated) now, before anything is loaded or written.
        try:
            self.cells = [self.base.replace(**{**arm, "lr": lr, "seed": int(seed)})
                          for arm in self.arms for lr in ([arm["lr"]] if "lr" in arm else self.lrs)
                          for seed in self.seeds]
        except ConfigError as err:   # an optimizer's settings are checked as --optimizer's
            raise ConfigError(str(err).replace("--optimizer:", "--optimizers:", 1)) from None
        names = list(dict.fromkeys(cell.optimizer_variant() for cell in self.cells))
        if len(names) < len(self.arms):
            raise ConfigError(f"--optimizers: an optimizer repeats in the sweep ({', '.join(names)}); "
                              "give variants a label")
        self.optimizers = names                       # the report's order and names

    @property
    def root(self) -> Path:
        """The sweep's folder: ``<logdir>/<folder>``, by default ``<logdir>/<dataset>-<model>``."""
        return Path(self.logdir).expanduser() / (self.folder or self.base.group_name())

    def runs(self) -> list[tuple[RunConfig, Path]]:
        """Every (config, run directory) of the grid, in a stable order."""
        return [(config, self.root / config.run_name()) for config in self.cells]
