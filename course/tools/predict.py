"""Chapter 9 (模型预测): classify image files with an exported model.

``read_image(path, meta)`` turns a PNG/JPG file into the array the model was trained on;
``predict_files`` runs a batch of files through a ``paddle.jit.load`` layer
(``course.tools.export.load_exported``) and returns the most likely classes.
"""
from __future__ import annotations

import numpy as np
import paddle

from course.tools.export import first_line
from data.errors import DataError

INVERT_ABOVE = 0.5   # mean brightness in [0, 1] above which a digit image is dark-on-light


def read_image(path, meta: dict) -> np.ndarray:
    """One image file as the float32 [C, H, W] array the exported model expects.

    'mnist' (the course's chapter 9): grey levels, resized to 28x28 with LANCZOS (the course's
    ``Image.ANTIALIAS``, removed in Pillow 10), scaled like the training data (k/256, in [0, 1)).
    MNIST digits are white on black; a photo of a dark digit on light paper is the other way
    round, so an image whose mean brightness is above 0.5 is inverted first. (The model still
    expects MNIST's framing: one centred digit filling most of the square.)

    'image': RGB, resized to the exported size with the bilinear filter the training folders used,
    scaled by 1/255 (Keras's ``rescale=1./255``), CHW.
    """
    from data.folders import load_image

    try:
        if meta["preprocess"] == "mnist":
            side = int(meta["image_size"])
            grey = load_image(path).convert("L")   # transparency composited onto white first
            if grey.size != (side, side):
                grey = grey.resize((side, side), _lanczos())
            pixels = np.asarray(grey, dtype=np.uint8)
            if pixels.mean() / 255.0 > INVERT_ABOVE:
                pixels = 255 - pixels
            return (pixels.astype(np.float32) / np.float32(256.0))[None, :, :]
        side = int(meta["image_size"])
        rgb = np.asarray(load_image(path, (side, side)), dtype=np.float32)
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)) / np.float32(255.0)
    except FileNotFoundError:
        raise DataError(f"image {path} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"image {path} is a folder, not an image file") from None
    except Exception as err:  # PIL: UnidentifiedImageError, OSError (truncated), SyntaxError...
        raise DataError(f"cannot read image {path}: {first_line(err)}") from None


def _lanczos():
    from PIL import Image

    return getattr(Image, "Resampling", Image).LANCZOS


def predict_files(layer, meta: dict, paths, top_k: int = 1) -> list[list[tuple[str, float]]]:
    """Top-``top_k`` (class name, probability) pairs per file, most likely first.

    Probabilities are the softmax of the logits. The course's 'linear' regression model has one
    output, the digit itself: its answer is that value rounded, with the raw value instead of a
    probability.
    """
    if top_k < 1:
        raise DataError(f"top_k must be >= 1, got {top_k}")
    batch = np.stack([read_image(p, meta) for p in paths]) if paths else None
    if batch is None:
        return []
    with paddle.no_grad():
        logits = layer(paddle.to_tensor(batch)).numpy()
    if meta["loss_kind"] == "mse":
        names = meta["class_names"]
        return [[(names[int(np.clip(np.rint(v), 0, len(names) - 1))], float(v))] for v in logits[:, 0]]
    probs = _softmax(logits.astype(np.float64))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    return [[(meta["class_names"][i], float(row[i])) for i in idx] for row, idx in zip(probs, order)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def format_line(path, guesses, regression=False) -> str:
    """'path: 7 (p=0.998)', or with several guesses 'path: 7 (p=0.950), 1 (p=0.030)'."""
    if regression:   # the course's linear model: one output, the digit's value
        name, value = guesses[0]
        return f"{path}: {name} (value={value:.3f})"
    return f"{path}: " + ", ".join(f"{name} (p={p:.3f})" for name, p in guesses)


def predict_blank_digit(top_k: int = 1) -> list[str]:
    """The smoke test: export an untrained LeNet and classify a blank digit, in a temporary folder."""
    import tempfile

    from PIL import Image

    from course.tools.export import export_model, load_exported
    from models import build_model

    with tempfile.TemporaryDirectory() as tmp:
        export_model(build_model("lenet"), (1, 28, 28), f"{tmp}/model", [str(i) for i in range(10)])
        Image.new("L", (28, 28)).save(f"{tmp}/blank.png")
        layer, meta = load_exported(f"{tmp}/model")
        return [format_line("blank.png (untrained LeNet)", guesses)
                for guesses in predict_files(layer, meta, [f"{tmp}/blank.png"], top_k)]
