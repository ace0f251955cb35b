#!/usr/bin/env python
"""Classify image files with an exported model (the course's chapter 9, 模型预测).

Loads PREFIX.json / PREFIX.pdiparams / PREFIX_meta.json written by scripts/export_model.py and
prints one line per image: the predicted class and its probability (softmax of the logits).

Digits (MNIST models) are read as the course does: grey levels, resized to 28x28 (LANCZOS),
scaled to [0, 1). MNIST digits are white on black, so an image that is mostly light (mean
brightness above 0.5, e.g. a photo of a digit written on paper) is inverted first. Image models:
RGB, resized to the exported size, scaled by 1/255.

examples:
  python scripts/predict.py digit.png --model runs/mnist-lenet/adam-lr0.001-seed0/export/model
  python scripts/predict.py photos/*.jpg --model export/model --top-k 3
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GLOG_minloglevel", "2")   # Paddle's C++ executor logs INFO lines to stderr

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.cli import HelpFormatter, run_main  # noqa: E402
from course.errors import ConfigError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="PNG/JPG files to classify")
    p.add_argument("--model", metavar="PREFIX", default="",
                   help="path prefix of an export, e.g. RUN_DIR/export/model (or that folder)")
    p.add_argument("--top-k", type=int, default=1, help="show the K most likely classes per image")
    p.add_argument("--dry-run", action="store_true",
                   help="smoke test: export an untrained LeNet and classify a blank digit, in a temp folder")
    return p


def dry_run(top_k: int) -> None:
    """Export an untrained LeNet and classify one blank image, all in a temporary folder."""
    import tempfile

    from PIL import Image

    from course.export import export_model, load_exported, predict_files
    from models import build_model

    with tempfile.TemporaryDirectory() as tmp:
        export_model(build_model("lenet"), (1, 28, 28), f"{tmp}/model", [str(i) for i in range(10)])
        image = f"{tmp}/blank.png"
        Image.new("L", (28, 28)).save(image)
        layer, meta = load_exported(f"{tmp}/model")
        for guesses in predict_files(layer, meta, [image], top_k):
            print(format_line("blank.png (untrained LeNet)", guesses))


def format_line(path, guesses, regression=False) -> str:
    """'path: 7 (p=0.998)', or with several guesses 'path: 7 (p=0.950), 1 (p=0.030)'."""
    if regression:   # the course's linear model: one output, the digit's value
        name, value = guesses[0]
        return f"{path}: {name} (value={value:.3f})"
    return f"{path}: " + ", ".join(f"{name} (p={p:.3f})" for name, p in guesses)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    if args.dry_run:
        dry_run(args.top_k)
        return 0
    if not args.images or not args.model:
        raise ConfigError("give one or more IMAGE files and --model PREFIX (see --help)")
    from course.export import load_exported, predict_files

    layer, meta = load_exported(args.model)
    for path, guesses in zip(args.images, predict_files(layer, meta, args.images, args.top_k)):
        print(format_line(path, guesses, regression=meta["loss_kind"] == "mse"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
