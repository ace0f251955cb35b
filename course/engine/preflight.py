"""What a run checks before its folder exists: everything a mistake could otherwise stop later.

``run_experiment`` calls ``check_before_start`` first, and a sweep calls it once for its grid
before it writes anything, so a wrong ``--pretrained`` file, an image size the model cannot take,
an unwritable ``--checkpoint path=``, a loader or process count above the machine's cores, or an
image size and batch that cannot fit in its memory is one line, and no run folder is left to
block the corrected command. ``check_identity`` decides whether a run folder already there
belongs to these settings: a folder that never finished an epoch (a start that failed) does not
count, a folder with results but no ``config.json`` cannot be matched and is refused.

The memory check is an estimate from the model's layer shapes, never an allocation: the network
is traced once in Paddle's static mode (shapes only, no values), and a run is refused when
4 bytes for every value one batch's forward pass computes, plus four copies of the parameters
(weights, gradients, two optimizer slots), exceed the memory the machine has free. Training
keeps more than that (the backward pass's own buffers), so a refused run would not have fit.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

from course.engine.errors import ConfigError
from models.errors import ModelError

MNIST_TRAIN = 50_000       # real MNIST's training images (the course's split)
BYTES = 4                  # float32
PARAM_COPIES = 4           # weights, gradients and an optimizer's two slots (Adam's moments)
# Operators that compute no activation: the parameters themselves, the input, constants.
# Operators whose results are no activations: PIR's names (Paddle 3), the legacy program's (2.6).
SHAPELESS = ("builtin.parameter", "pd_op.data", "pd_op.full", "pd_op.full_int_array",
             "feed", "fill_constant", "assign_value")
RUN_FILES = ("result.json", "metrics.json", "last.pdckpt")   # what only a run that trained writes


def cores() -> int:
    """The CPU cores this process may run on (its affinity, which a container narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


def check_cores(flag: str, count: int, what: str = "processes") -> None:
    """Refuse ``count`` processes above the cores there are, naming the number.

    Refused rather than capped: a count is the user's statement of how the work is shared out
    (a sweep's thread split, and so its numbers, follows --jobs), and each process costs memory
    whether or not a core is free for it.
    """
    have = cores()
    if count > have:
        raise ConfigError(f"{flag}: {count} {what} is more than the {have} CPU core(s) here; "
                          f"use at most {have}")


def check_seeds(seeds, flag: str = "--seeds") -> None:
    """Seeds are what NumPy takes (0 .. 2**32 - 1), each given once."""
    for seed in seeds:
        if not 0 <= seed < 2 ** 32:
            raise ConfigError(f"{flag}: a seed must be in [0, 2**32), got {seed}")
    check_unique(seeds, flag, "seed")


def check_unique(values, flag: str, what: str) -> None:
    """Refuse a value given twice (as a repeated optimizer is): it would be one run, not two."""
    seen = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"{flag}: the {what} {value:g} is given twice; give each once")
        seen.add(value)


def check_folder_flag(text: str, flag: str) -> None:
    """A folder flag holds a path that can be written: not '' and valid UTF-8."""
    if not str(text).strip():
        raise ConfigError(f"{flag}: give a folder ('' is no path; '.' is this one)")
    try:
        str(text).encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{flag}: {text!r} is not valid UTF-8; use a folder name in UTF-8") from None


def check_identity(config, run_dir) -> None:
    """Refuse a run folder that holds a run of other settings, or results without their settings.

    A folder whose start failed before its first epoch holds a config.json and nothing else:
    that is not a run, and it is overwritten instead of blocking the corrected command.
    """
    from course.engine.files import read_json
    from course.engine.results import check_result

    run_dir = Path(run_dir)
    trained = [name for name in RUN_FILES if (run_dir / name).exists()]
    saved = read_json(run_dir / "config.json")
    if saved is None and trained:
        raise ConfigError(f"{run_dir} holds {trained[0]} but no config.json, so what it was trained "
                          "with is unknown; delete that directory to train it again")
    if not isinstance(saved, (dict, type(None))):
        raise ConfigError(f"{run_dir / 'config.json'} holds a JSON {type(saved).__name__}, not a "
                          "run's settings; delete that directory to train it again")
    if (run_dir / "result.json").exists():
        check_result(read_json(run_dir / "result.json"), run_dir / "result.json")
    if saved is not None and trained and (changes := config.changes_from(saved)):
        raise ConfigError(f"{run_dir} holds a run trained with other settings ({', '.join(changes)}); "
                          "use another --logdir, or delete that directory")


def has_trained(run_dir) -> bool:
    """Whether a run folder holds anything of a run that trained (see ``RUN_FILES``)."""
    return any((Path(run_dir) / name).exists() for name in RUN_FILES)


def check_before_start(config, run_dir=None, identity: bool = True) -> None:
    """Every check of ``config`` a run would otherwise make after writing its first file
    (``identity=False``: the folder's own run is judged elsewhere, as a sweep's check_existing does)."""
    if run_dir is not None and identity:
        check_identity(config, run_dir)
    if config.num_workers > 0:
        check_cores("--num-workers", config.num_workers, "loader processes")
    check_checkpoint_folder(config, run_dir)
    check_model(config)


def check_checkpoint_folder(config, run_dir) -> None:
    """``--checkpoint path=...``: its folder can be made and written in (a relative one is inside
    the run folder)."""
    from course.engine.callbacks.flags import callbacks_from_config
    from course.engine.files import check_writable

    for callback in callbacks_from_config(config):
        template = getattr(callback, "path", None)
        if not isinstance(template, str) or not hasattr(callback, "resolve_path"):
            continue
        fixed = Path(os.path.expanduser(template.split("{")[0] or "."))
        folder = fixed.parent if not template.split("{")[0].endswith(("/", os.sep)) else fixed
        if not folder.is_absolute():
            if run_dir is None:   # inside a run folder not yet named: --logdir's check covers it
                continue
            folder = Path(run_dir) / folder
        check_writable(folder, "--checkpoint")


def check_model(config) -> None:
    """Build the run's model without allocating it: its weights file loads (exists, is a state
    dict, fits), its image size is one it takes; then check the memory it needs."""
    from course.engine.data import FOLDER_IMAGE_SIZE

    size = config.image_size or FOLDER_IMAGE_SIZE
    shape = (3, size, size) if config.dataset.startswith("folder:") else (1, 28, 28)
    weights = Path(config.pretrained).expanduser() if config.pretrained not in ("", "imagenet") else None
    stamp = (weights.stat().st_mtime_ns, weights.stat().st_size) if weights and weights.is_file() else None
    key = (config.model, config.loss, config.freeze_backbone, shape)
    batch = config.batch_size
    if config.subset or config.dataset == "mnist":
        batch = min(batch, config.subset or MNIST_TRAIN)
    # The input batch and one layer's output of its size, before any model is built: a size
    # whose model Paddle could not even describe (shapes past int32) is refused from this alone.
    check_memory(config, 0, 2 * math.prod(shape), batch, "its input and a first layer of its size")
    params = _flagged_image_size(lambda: _lazy_parameters(*key, config.pretrained, stamp))
    check_memory(config, params, _traced(*key), batch)


def check_memory(config, params: int, values: int, batch: int, what: str = "") -> None:
    """Refuse a run whose estimate (module docstring) exceeds the memory free here; ``what``
    names a partial estimate (made before the model is built)."""
    need = BYTES * (PARAM_COPIES * params + batch * values)
    free = free_memory()
    if free is None or need <= free:
        return
    flags = f"--batch-size {batch:,}"
    if config.dataset.startswith("folder:"):
        flags = f"--image-size {config.image_size or 'default'} with {flags}"
    parts = what or (f"{_gb(BYTES * batch * values)} for the batch's activations, "
                     f"{_gb(BYTES * PARAM_COPIES * params)} for the parameters")
    raise ConfigError(f"{flags}: {config.model} needs at least {_gb(need)} ({parts}), more than the "
                      f"{_gb(free)} of memory free here; use a smaller "
                      f"{'--image-size or ' if config.dataset.startswith('folder:') else ''}--batch-size")


def free_memory() -> int | None:
    """Bytes of memory free for a new allocation (Linux's MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _gb(n: float) -> str:
    return f"{n / 2 ** 30:,.1f} GB" if n >= 2 ** 28 else f"{n / 2 ** 20:,.0f} MB"


def _flagged_image_size(build):
    """``build()``, with the model's image-size complaint put in the flag's words."""
    try:
        return build()
    except (IndexError, OverflowError, MemoryError) as err:   # shapes past what Paddle describes
        raise ConfigError(f"--image-size: the model cannot be built this large "
                          f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    except ModelError as err:
        message = str(err)
        if message.startswith("image_size"):
            raise ConfigError(f"--image-size: this model's {message}") from None
        raise


def _build(model: str, loss: str, freeze: bool, shape: tuple, pretrained=None):
    """The network a run builds (``experiment.build_run_model``'s choices: an image model takes
    its size, an MSE run has one output), for MNIST's 10 classes or a folder's (a head the
    weights need not fit)."""
    from models import build_model, model_kind

    options = {"image_size": shape[-1]} if model_kind(model) == "image" else {}
    if freeze and options:
        options["freeze_backbone"] = True
    return build_model(model, num_classes=1 if loss == "mse" else 10, pretrained=pretrained, **options)


@functools.lru_cache(maxsize=16)
def _lazy_parameters(model: str, loss: str, freeze: bool, shape: tuple, pretrained: str,
                     stamp) -> int:
    """The model's parameter count, built under ``paddle.LazyGuard`` (nothing allocated) with its
    weights file read and matched against its shapes. ``stamp``: the file's version, so an
    edited file is read again."""
    import paddle

    from models.summary import count_parameters

    with paddle.LazyGuard():
        net = _build(model, loss, freeze, shape, pretrained or None)
    return count_parameters(net)["total"]


@functools.lru_cache(maxsize=16)
def _traced(model: str, loss: str, freeze: bool, shape: tuple) -> int:
    """The values one image's forward pass computes, from the model's layer shapes.

    Traced in Paddle's static mode, where an operator only infers its output's shape. A network
    that needs real values to be built or run (NumPy calls) cannot be traced: it counts 0, which
    only makes the estimate smaller.
    """
    import paddle
    from paddle.utils import unique_name

    paddle.enable_static()
    try:
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup), unique_name.guard():
            net = _build(model, loss, freeze, shape)
            net(paddle.static.data("x", [1, *shape], "float32"))
    except Exception:   # noqa: BLE001 - untraceable: count what was traced (docstring)
        pass
    finally:
        paddle.disable_static()
    return sum(_numel(r) for name, results in _operators(main.global_block()) if name not in SHAPELESS
               for r in results)


def _operators(block):
    """(name, output values) of each operator of a traced block: a PIR operator's (Paddle 3) or
    a legacy program operator's (Paddle 2.6, whose outputs are the block's variables)."""
    for op in block.ops:
        if hasattr(op, "results"):
            yield op.name(), op.results()
        else:
            yield op.type, [block.var(name) for name in op.output_arg_names]


def _numel(value) -> int:
    """The values a traced result holds; 0 for one without a known dense shape (a list of
    tensors, a dimension known only when it runs)."""
    try:
        shape = value.shape
    except (ValueError, RuntimeError):
        return 0
    return math.prod(shape) if all(d >= 0 for d in shape) else 0


def fit_to_data(config, dry_run: dict | None = None, subset_typed: bool = True):
    """``config`` fitted to its data: a --subset the user did not type (a chapter's default) that
    is more than the data's training images becomes 0 (all of them); with ``dry_run`` (the
    shrinking rules of ``course.cli``) the config is checked as given, with the user's own data
    (every image read), then shrunk: 'subset' and 'val_subset' cap the images at what there is.
    """
    from course.engine.data import load_dataset

    if not subset_typed and config.subset and config.dataset != "mnist":
        train, _ = load_dataset(config.replace(subset=0), progress=False).sizes()
        if config.subset > train:
            config = config.replace(subset=0)
    if dry_run is None:
        return config
    check_before_start(config)
    train, val = load_dataset(config, progress=False).sizes()
    caps = {"subset": train, "val_subset": val}
    changes = {}
    for name, rule in dry_run.items():
        value = rule(getattr(config, name)) if callable(rule) else rule
        changes[name] = min(value, caps[name]) if name in caps else value
    return config.replace(**changes)
