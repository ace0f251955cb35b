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

from course.checkpoint import ModelCheckpoint
from course.early_stopping import EarlyStopping
from course.errors import ConfigError
from course.reduce_lr import ReduceLROnPlateau

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


def callbacks_from_flags(early_stop: str | None = None, reduce_lr: str | None = None,
                         checkpoint: str | None = None) -> tuple[list, dict]:
    """The callbacks the three CLI flags ask for, and their settings for the run's config.json.

    Each argument is the flag's string (None = flag not given). Returns ``(callbacks, settings)``:
    the callbacks in the order ReduceLROnPlateau, EarlyStopping, ModelCheckpoint, and
    ``{'early_stop': {...} | None, 'reduce_lr_on_plateau': {...} | None, 'checkpoint': {...} | None}``
    with every constructor argument (defaults included), JSON-able.
    """
    callbacks, settings = [], {"early_stop": None, "reduce_lr_on_plateau": None, "checkpoint": None}
    # ModelCheckpoint goes last so that its file holds the rate ReduceLROnPlateau just set,
    # the one the next epoch trains with.
    if reduce_lr is not None:
        cb = _build("--reduce-lr-on-plateau", reduce_lr)
        callbacks.append(cb)
        settings["reduce_lr_on_plateau"] = cb.get_config()
    if early_stop is not None:
        cb = _build("--early-stop", early_stop)
        callbacks.append(cb)
        settings["early_stop"] = cb.get_config()
    if checkpoint is not None:
        cb = _build("--checkpoint", checkpoint, CHECKPOINT_PRESETS)
        callbacks.append(cb)
        settings["checkpoint"] = cb.get_config()
    return callbacks, settings
