"""Chapter 9 (模型保存与部署): export a trained model for inference, load it back, predict on files.

``export_model`` writes what ``paddle.jit.save`` writes -- with Paddle 3.3.1's PIR programs that is
``<prefix>.json`` (the program; older Paddle, or ``FLAGS_enable_pir_api=0``, writes
``<prefix>.pdmodel``) and ``<prefix>.pdiparams`` (the weights) -- plus ``<prefix>_meta.json``, our
sidecar: the input shape, class names and how to preprocess an image file. Not
``<prefix>.meta.json``: ``paddle.jit.load`` reads every ``<prefix>.<name>.json`` next to the model
as the program of an extra method ``<name>`` and fails on ours ("Invalid model file"). The sidecar
is written last, so its presence marks a complete export; a later export first removes it.

``load_exported(prefix)`` returns ``(layer, meta)``: the ``paddle.jit.load`` layer, runnable
without the model's Python code, and the sidecar (``course.tools.predict`` classifies files with
them). ``export_run`` exports a run directory's model and checks the round trip.

Every problem with a file (missing, corrupt, from another model) is a ``DataError`` naming it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import paddle

from course.engine.files import atomic_write_json
from data.errors import DataError

META_SUFFIX = "_meta.json"   # not ".meta.json": see the module docstring
PARAMS_SUFFIX = ".pdiparams"
PROGRAM_SUFFIXES = (".json", ".pdmodel")   # PIR program, legacy ProgramDesc
META_FORMAT = 1


def export_model(model, input_shape, path_prefix, class_names=None) -> dict:
    """Save ``model`` (dygraph) for inference at ``path_prefix``; return the sidecar's contents.

    The model is traced in eval mode (dropout off, batch norm frozen) with a batch dimension of
    any size: ``InputSpec([None, *input_shape], 'float32', 'image')``; its train/eval mode is
    restored afterwards. Files are written into a temporary folder and renamed into place.

    Args:
        model: a ``paddle.nn.Layer`` returning logits (``model.kind`` 'mnist' or 'image' picks the
            preprocessing; without it, one input channel means 'mnist').
        input_shape: (C, H, W) of one image, e.g. (1, 28, 28).
        path_prefix: where to write, e.g. 'runs/x/export/model' -> model.json, model.pdiparams,
            model_meta.json.
        class_names: the label names, index = class id (default '0', '1', ...).
    """
    input_shape = [int(n) for n in input_shape]
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise DataError(f"input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
    prefix = Path(path_prefix)
    kind = getattr(model, "kind", "mnist" if input_shape[0] == 1 else "image")
    loss_kind = getattr(model, "loss_kind", "ce")
    meta = {"format": META_FORMAT, "model_name": getattr(model, "model_name", type(model).__name__),
            "input_shape": input_shape, "preprocess": kind, "image_size": input_shape[-1],
            "loss_kind": loss_kind, "class_names": None, "paddle_version": paddle.__version__}
    if class_names is not None:
        meta["class_names"] = [str(name) for name in class_names]

    prefix.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    tmp = Path(tempfile.mkdtemp(prefix=f".{prefix.name}.export-", dir=prefix.parent))
    try:
        spec = paddle.static.InputSpec([None, *input_shape], "float32", "image")
        paddle.jit.save(model, str(tmp / prefix.name), input_spec=[spec])
        with paddle.no_grad():
            width = model(paddle.zeros([1, *input_shape], dtype="float32")).shape[-1]
        if meta["class_names"] is None:
            meta["class_names"] = [str(i) for i in range(10 if loss_kind == "mse" else width)]
        elif loss_kind == "ce" and len(meta["class_names"]) != width:
            raise DataError(f"{len(meta['class_names'])} class names given but the model has "
                            f"{width} outputs")
        # The old sidecar goes first: until the new one is written, the export reads as unfinished.
        Path(f"{prefix}{META_SUFFIX}").unlink(missing_ok=True)
        for written in sorted(tmp.iterdir()):
            os.replace(written, prefix.parent / written.name)
        atomic_write_json(f"{prefix}{META_SUFFIX}", meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if was_training:
            model.train()
    return meta


def model_from_run(run_dir, weights=None):
    """Rebuild a run's trained model: ``(model, input_shape, class_names)``.

    The architecture comes from ``run_dir/config.json``, the weights from ``weights`` (default
    ``run_dir/model.pdparams``, the final weights ``run_experiment`` saves; ``best.pdparams`` or
    the resume checkpoint ``last.pdckpt`` work too). The classes are MNIST's digits or, for a
    folder dataset, its class folders' names, as in training.
    """
    from course.engine.config import RunConfig
    from course.engine.data import FOLDER_IMAGE_SIZE
    from course.engine.experiment import build_run_model

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError(f"{run_dir} is a file, not a run directory (give the folder that holds "
                        "config.json and model.pdparams)")
    if not run_dir.is_dir():
        raise DataError(f"run directory {run_dir} does not exist")
    config = RunConfig.load(run_dir / "config.json")
    kind, _, data_path = config.dataset.partition(":")
    if kind == "folder":
        from data.folders import detect_layout, find_classes

        layout, folders = detect_layout(os.path.expanduser(data_path))
        classes = find_classes(folders["training"] if layout == "split" else os.path.expanduser(data_path))
        size = config.image_size or FOLDER_IMAGE_SIZE
        input_shape = (3, size, size)
    else:
        classes, input_shape = [str(i) for i in range(10)], (1, 28, 28)
    # No pretrained weights: the run's own replace them.
    model = build_run_model(config, len(classes), input_shape, pretrained=False)
    weights = Path(weights) if weights is not None else run_dir / "model.pdparams"
    if not weights.is_file():
        raise DataError(f"no weights file {weights} (runs save model.pdparams when they finish; "
                        "pass another file, e.g. best.pdparams or last.pdckpt)")
    try:
        state = paddle.load(str(weights))
    except Exception as err:
        raise DataError(f"cannot read weights {weights}: {first_line(err)}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict) and "extra" in state:
        state = state["model"]   # a checkpoint (best.pdckpt, or the resume file last.pdckpt)
    _check_weights(model, state, weights, config.model)
    model.set_state_dict(state)
    model.eval()
    return model, input_shape, classes


def _check_weights(model, state, path, name) -> None:
    # set_state_dict only warns about missing or misshapen tensors and keeps the random ones.
    if not isinstance(state, dict):
        raise DataError(f"{path} holds a {type(state).__name__}, not a model state dict")
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise DataError(f"{path} does not fit model {name!r}: no {', '.join(missing[:3])}"
                        + (" ..." if len(missing) > 3 else ""))
    for key, shape in expected.items():
        got = list(getattr(state[key], "shape", []))
        if got != shape:
            raise DataError(f"{path} does not fit model {name!r}: {key} has shape {got}, expected {shape}")


def exported_files(path_prefix) -> list[Path]:
    """The files an export at ``path_prefix`` consists of (those that exist)."""
    prefix = str(path_prefix)
    names = [prefix + s for s in (*PROGRAM_SUFFIXES, PARAMS_SUFFIX, META_SUFFIX)]
    return [Path(n) for n in names if Path(n).is_file()]


def load_exported(path_prefix):
    """Load an export: ``(layer, meta)``; ``layer(images)`` returns logits for [N, C, H, W] float32.

    Raises DataError naming the file when the export is missing, incomplete or corrupt. The loaded
    program is run once on a blank image, so weights that do not fit it fail here, not later.
    """
    prefix = str(path_prefix)
    if Path(prefix).is_dir() and Path(prefix, "model" + META_SUFFIX).is_file():
        prefix = str(Path(prefix, "model"))   # the export folder itself: its default 'model' prefix
    meta_path = Path(prefix + META_SUFFIX)
    program = next((Path(prefix + s) for s in PROGRAM_SUFFIXES if Path(prefix + s).is_file()), None)
    params = Path(prefix + PARAMS_SUFFIX)
    if program is None and not params.is_file() and not meta_path.is_file():
        raise DataError(f"no exported model at {prefix} (expected {prefix}.json, {prefix}{PARAMS_SUFFIX} "
                        f"and {prefix}{META_SUFFIX}; make them with scripts/export_model.py)")
    for path, what in ((program, "program"), (params, "weights"), (meta_path, "sidecar")):
        if path is None:
            raise DataError(f"exported model {prefix} is incomplete: its program {prefix}.json is missing")
        if not path.is_file():
            raise DataError(f"exported model {prefix} is incomplete: its {what} file {path} is missing")
    meta = _read_meta(meta_path)
    try:
        layer = paddle.jit.load(prefix)
        layer.eval()
        with paddle.no_grad():
            out = layer(paddle.zeros([1, *meta["input_shape"]], dtype="float32"))
    except Exception as err:  # Paddle raises ValueError, RuntimeError, KeyError, UnicodeError...
        raise DataError(f"cannot load exported model {prefix} ({program.name}, {params.name}): "
                        f"{first_line(err)}") from None
    width = out.shape[-1]
    if meta["loss_kind"] == "ce" and width != len(meta["class_names"]):
        raise DataError(f"exported model {prefix} has {width} outputs but {meta_path} names "
                        f"{len(meta['class_names'])} classes")
    return layer, meta


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read {path}: {first_line(err)}") from None
    required = ("input_shape", "preprocess", "image_size", "class_names", "loss_kind")
    missing = [key for key in required if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; re-export with scripts/export_model.py")
    if meta["preprocess"] not in ("mnist", "image"):
        raise DataError(f"{path}: preprocess must be 'mnist' or 'image', got {meta['preprocess']!r}")
    return meta


def first_line(err: BaseException) -> str:
    """The line of an exception's message that says what is wrong (its type's name if it has none).

    Paddle frames the errors raised inside a program as "In user code:", then the Python lines
    that built the failing operator, then "(InvalidArgument) what is wrong"; that last part is
    the line to show, not the frame's heading.
    """
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if lines[0].rstrip(":") == "In user code":
        said = [line for line in lines[1:] if line.startswith("(") or "Error:" in line]
        return (said or lines[-1:])[0]
    return lines[0]


def export_run(run_dir=None, out=None, weights=None, dry_run: bool = False) -> tuple[dict, list, float]:
    """Export a run's model (an untrained LeNet without ``run_dir``) and check the round trip.

    Writes to ``out`` (default ``RUN_DIR/export/model``), or with ``dry_run`` into a temporary
    folder that is removed. Returns (sidecar, files written, max |difference| between the
    exported program's logits and the model's on random images), the difference checked < 1e-4.
    """
    if run_dir is not None:
        model, input_shape, classes = model_from_run(run_dir, weights)
    else:
        from models import build_model
        model, input_shape, classes = build_model("lenet"), (1, 28, 28), None
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "model" if dry_run else Path(out or Path(run_dir) / "export" / "model")
        meta = export_model(model, input_shape, prefix, classes)
        layer, _ = load_exported(prefix)
        probe = paddle.to_tensor(np.random.default_rng(0).random((4, *input_shape), dtype="float32"))
        model.eval()
        with paddle.no_grad():
            gap = float(np.abs(layer(probe).numpy() - model(probe).numpy()).max())
        if gap > 1e-4:
            raise RuntimeError(f"exported model differs from the trained one by {gap:g}")
        return meta, exported_files(prefix), gap
