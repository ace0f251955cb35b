"""Build the Keras-style callbacks from command-line flag strings.

One spelling for all three flags: a comma-separated list of ``key=value`` pairs, the keys being
the callback's constructor arguments::

    --early-stop "monitor=val_acc,patience=2,restore_best_weights=true"
    --reduce-lr-on-plateau "monitor=val_loss,factor=0.5,patience=3,min_lr=1e-5"
    --checkpoint best                      # = path=best,save_best_only=true,monitor=val_acc
    --checkpoint "best,monitor=val_loss"   # the preset, then overrides
    --checkpoint "path=ckpt-{epoch:02d}"   # every epoch, one file each

Values are converted to the argument's type (``true``/``false`` for booleans, ``none`` for an
optional number); an unknown key raises ConfigError listing the valid ones. A relative checkpoint
path lands in the run's directory.
"""
from __future__ import annotations

from course.engine.callbacks.base import EPOCH_METRICS, MONITOR_ALIASES
from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.errors import ConfigError
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _optional_float(text: str):
    return None if text.lower() in ("none", "null", "") else float(text)


def _bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(text)


# flag -> (callback class, {key: converter}); the keys are the constructor's arguments.
FLAG_SPECS = {
    "--early-stop": (EarlyStopping, {
        "monitor": str, "min_delta": float, "patience": int, "mode": str, "baseline": _optional_float,
        "restore_best_weights": _bool, "start_from_epoch": int, "verbose": int}),
    "--reduce-lr-on-plateau": (ReduceLROnPlateau, {
        "monitor": str, "factor": float, "patience": int, "mode": str, "min_delta": float,
        "cooldown": int, "min_lr": float, "verbose": int}),
    "--checkpoint": (ModelCheckpoint, {
        "path": str, "monitor": str, "save_best_only": _bool, "mode": str,
        "save_weights_only": _bool, "initial_value_threshold": _optional_float, "verbose": int}),
}

# ``--checkpoint best`` keeps the epoch with the best validation accuracy, in run_dir/best.pdckpt.
# (No 'last' preset: the run's resume checkpoint, last.pdckpt, is the experiment's own file.)
CHECKPOINT_PRESETS = {
    "best": {"path": "best", "save_best_only": True, "monitor": "val_acc"},
}

_TYPE_NAMES = {str: "a string", float: "a number", int: "an integer",
               _bool: "true or false", _optional_float: "a number or none"}


def parse_flag(flag: str, spec: str, presets: dict | None = None) -> dict:
    """Parse ``'key=value,key=value'`` for ``flag`` into typed constructor kwargs.

    With ``presets``, the first item may be a preset name whose settings the pairs then override.
    """
    _, converters = FLAG_SPECS[flag]
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"{flag}: expected key=value pairs separated by commas, got {spec!r}")
    kwargs: dict = {}
    items = [item.strip() for item in spec.split(",")]
    if presets is not None and "=" not in items[0]:
        if items[0] not in presets:
            raise ConfigError(f"{flag}: unknown preset {items[0]!r}; choose one of "
                              f"{', '.join(presets)} or give key=value pairs")
        kwargs.update(presets[items[0]])
        items = items[1:]
    seen = set()
    for item in items:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key:
            raise ConfigError(f"{flag}: expected key=value, got {item!r} in {spec!r}")
        if key not in converters:
            raise ConfigError(f"{flag}: unknown key {key!r}; valid keys: {', '.join(converters)}")
        if key in seen:
            raise ConfigError(f"{flag}: key {key!r} given twice in {spec!r}")
        seen.add(key)
        convert = converters[key]
        try:
            kwargs[key] = convert(text)
        except ValueError:
            raise ConfigError(f"{flag}: {key} must be {_TYPE_NAMES[convert]}, got {text!r}") from None
    return kwargs


def _build(flag: str, spec: str, presets=None):
    cls, _ = FLAG_SPECS[flag]
    kwargs = parse_flag(flag, spec, presets)
    if cls is ModelCheckpoint and "path" not in kwargs:
        raise ConfigError(f"{flag}: give a path=... or a preset ({', '.join(CHECKPOINT_PRESETS)}), "
                          f"got {spec!r}")
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{flag} {spec!r}: {e}") from None


def callbacks_from_flags(early_stop: str | None = None, reduce_lr_on_plateau: str | None = None,
                         checkpoint: str | None = None) -> list:
    """The callbacks the three flags ask for (None = flag not given), ready for a Trainer.

    In the order ReduceLROnPlateau, EarlyStopping, ModelCheckpoint: the checkpoint goes last so
    that its file holds the rate ReduceLROnPlateau just set, the one the next epoch trains with.
    A monitor must be one of the metrics the trainer logs (``EPOCH_METRICS``), so a typo fails
    now rather than after the first epoch.
    """
    wanted = [("--reduce-lr-on-plateau", reduce_lr_on_plateau, None), ("--early-stop", early_stop, None),
              ("--checkpoint", checkpoint, CHECKPOINT_PRESETS)]
    callbacks = []
    for flag, spec, presets in wanted:
        if spec is None:
            continue
        cb = _build(flag, spec, presets)
        if cb.monitor not in EPOCH_METRICS:
            raise ConfigError(f"{flag} {spec!r}: monitor {cb.monitor_name!r} is not a metric the "
                              f"trainer logs; choose one of {', '.join(EPOCH_METRICS)} (or the Keras "
                              f"names {', '.join(MONITOR_ALIASES)})")
        callbacks.append(cb)
    return callbacks


def callbacks_from_config(config) -> list:
    """``callbacks_from_flags`` for a RunConfig's three settings ('' = off)."""
    return callbacks_from_flags(config.early_stop or None, config.reduce_lr_on_plateau or None,
                                config.checkpoint or None)
