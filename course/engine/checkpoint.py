"""Checkpoints: one file format for a model + optimizer, and the resume file built on it.

Two kinds of file, told apart by their suffix:

- ``<name>.pdckpt``: one ``paddle.save`` file holding ``{'model', 'optimizer', 'lr', 'extra'}``.
  One file, so model and optimizer can never come from different epochs. ``lr`` is stored on
  its own because ``optimizer.state_dict()`` forgets a plain float rate (only an LRScheduler's
  state is in it), and a rate ReduceLROnPlateau lowered must survive a resume. ModelCheckpoint's
  ``best.pdckpt`` and a run's resume file ``last.pdckpt`` are both of this kind; the resume file
  keeps the rest of the run's state (history, step, schedule, callbacks, shuffling) in ``extra``,
  so ``load_checkpoint`` reads either.
- ``<name>.pdparams``: the model's ``state_dict()`` alone, the course's own format
  (``model.set_state_dict(paddle.load(path))`` reads it).

Every file is written to a temporary file in the same directory and renamed over the final name,
so a run killed mid-write leaves the previous checkpoint intact (``paddle.save`` writes in place).
"""
from __future__ import annotations

from pathlib import Path

import paddle

from course.engine.device import cpu_threads
from course.engine.errors import ConfigError
from course.engine.files import atomic_paddle_save
from course.engine.schedules import schedule_drives

CHECKPOINT_SUFFIX = ".pdckpt"
WEIGHTS_SUFFIX = ".pdparams"
RESUME_FILE = "last.pdckpt"   # in every run directory: what a restarted run continues from


def with_suffix(path, suffix: str) -> Path:
    """``path`` with ``suffix`` appended unless it already ends with it."""
    # Append rather than replace: a formatted name like 'best-0.9812' has a "suffix" '.9812'.
    path = Path(path)
    return path if path.name.endswith(suffix) else path.with_name(path.name + suffix)


def checkpoint_state(model, optimizer=None, extra=None) -> dict:
    """The contents of a ``.pdckpt`` file: model, optimizer, its rate, and ``extra``."""
    return {"model": model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "lr": float(optimizer.get_lr()) if optimizer is not None else None,
            "extra": dict(extra or {})}


def save_checkpoint(path, model, optimizer=None, extra=None) -> Path:
    """Write model and optimizer state (and a picklable ``extra`` dict) to ``path`` atomically.

    ``.pdckpt`` is appended to ``path`` unless it is there already. Returns the file written.
    """
    path = with_suffix(path, CHECKPOINT_SUFFIX)
    atomic_paddle_save(checkpoint_state(model, optimizer, extra), path)
    return path


def save_weights(path, model) -> Path:
    """Write ``model.state_dict()`` alone to ``path`` (``.pdparams`` appended) atomically."""
    path = with_suffix(path, WEIGHTS_SUFFIX)
    atomic_paddle_save(model.state_dict(), path)
    return path


def read_checkpoint(path) -> dict:
    """The contents of a ``.pdckpt`` file; ConfigError naming it if it is not one."""
    try:
        state = paddle.load(str(path))
    except Exception as err:   # a torn or foreign file: Paddle raises many kinds
        raise ConfigError(f"cannot read checkpoint {path} ({type(err).__name__}); delete it to "
                          "start that run over") from None
    if not isinstance(state, dict) or "model" not in state or "extra" not in state:
        raise ConfigError(f"{path} is not a checkpoint written by save_checkpoint "
                          f"(keys: {sorted(state) if isinstance(state, dict) else type(state).__name__})")
    return state


def check_fits(model, state: dict, source) -> None:
    """Raise ConfigError (one line, naming ``source``) unless ``state`` holds every weight of
    ``model`` with its shape and nothing else: Paddle's ``set_state_dict`` would only warn and
    leave such weights as they were, and the run would go on from random ones."""
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    saved = {k: list(v.shape) for k, v in state.items() if hasattr(v, "shape")}
    problems = [f"{k} missing" for k in expected if k not in saved]
    problems += [f"{k} is {saved[k]}, the model's {expected[k]}" for k in expected
                 if k in saved and saved[k] != expected[k]]
    problems += [f"{k} not in the model" for k in saved if k not in expected]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError(f"{source} does not fit this {type(model).__name__}: "
                          + "; ".join(problems[:3]) + more)


def set_model_state(model, state: dict, source) -> None:
    """``model.set_state_dict(state)`` after :func:`check_fits`."""
    check_fits(model, state, source)
    model.set_state_dict(state)


def load_checkpoint(path, model, optimizer=None) -> dict:
    """Load a ``save_checkpoint`` (or ``save_weights``) file into ``model`` and ``optimizer``.

    Restores the optimizer's accumulators and, when its rate is a plain float, the rate.
    Returns the ``extra`` dict saved with it ({} for a weights-only file).

    Paddle keys optimizer state by generated names (``linear_0.w_0_moment1_0``) that count up
    within a process; a new process gets the saved names back. To load into a second model in
    the *same* process, build it and take its first step inside ``paddle.utils.unique_name.guard()``.
    """
    path = Path(path)
    if not path.exists():
        for suffix in (CHECKPOINT_SUFFIX, WEIGHTS_SUFFIX):
            if with_suffix(path, suffix).exists():
                path = with_suffix(path, suffix)
                break
        else:
            raise ConfigError(f"no checkpoint at {path} (nor {path}{CHECKPOINT_SUFFIX}, "
                              f"{path}{WEIGHTS_SUFFIX})")
    if path.name.endswith(WEIGHTS_SUFFIX):
        set_model_state(model, paddle.load(str(path)), path)
        return {}
    state = read_checkpoint(path)
    set_model_state(model, state["model"], path)
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.set_state_dict(state["optimizer"])
        if state.get("lr") is not None and not schedule_drives(optimizer):
            optimizer.set_lr(float(state["lr"]))
    return dict(state.get("extra") or {})


# --- the resume file: a checkpoint whose extra holds the rest of the run ----------------------------
def save_resume(path, trainer, train_data) -> None:
    """Write everything needed to continue ``trainer``'s run exactly where it is now."""
    progress = trainer.state_dict()
    extra = {"trainer": {k: v for k, v in progress.items() if k not in ("model", "optimizer", "lr")},
             "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None
                           for cb in trainer.callbacks]}
    if hasattr(train_data, "state_dict"):
        extra["train_data"] = train_data.state_dict()   # the shuffling generator's position
    extra["cpu_threads"] = cpu_threads()   # a resumed run continues with the same count
    atomic_paddle_save({"model": progress["model"], "optimizer": progress["optimizer"],
                        "lr": progress["lr"], "extra": extra}, path)


def load_resume(path, trainer, train_data) -> int | None:
    """Put the state ``save_resume`` wrote back into ``trainer``, its callbacks and its data;
    return the CPU thread count the run trained with (None in a file from before it was saved)."""
    state = read_checkpoint(path)
    check_fits(trainer.model, state["model"], path)
    extra = state["extra"]
    trainer.set_state_dict({**extra["trainer"], "model": state["model"],
                            "optimizer": state["optimizer"], "lr": state["lr"]})
    for cb, cb_state in zip(trainer.callbacks, extra.get("callbacks", [])):
        if cb_state is not None and hasattr(cb, "set_state_dict"):
            cb.set_state_dict(cb_state)
    if "train_data" in extra and hasattr(train_data, "set_state_dict"):
        train_data.set_state_dict(extra["train_data"])
    return extra.get("cpu_threads")
