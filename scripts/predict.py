#!/usr/bin/env python
"""Classify image files with an exported model (the course's chapter 9, 模型预测).

Loads PREFIX.json / PREFIX.pdiparams / PREFIX_meta.json written by scripts/export_model.py and
prints one line per image: the predicted class and its probability (softmax of the logits).

Digits (MNIST models) are read as the course does: grey levels, resized to 28x28 (LANCZOS),
scaled to [0, 1). MNIST digits are white on black, so an image that is mostly light (mean
brightness above 0.5, e.g. a photo of a digit written on paper) is inverted first. Image models:
RGB, resized to the exported size, scaled by 1/255.

examples:
  python scripts/predict.py digit.png --export runs/mnist-lenet/adam-lr0.001-seed0/export/model
  python scripts/predict.py photos/*.jpg --export export/model --top-k 3
"""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")   # Paddle's C++ executor logs INFO lines to stderr

from course.cli import CommandLine, Launch, run_main
from course.engine.errors import ConfigError


def main(argv=None) -> int:
    from course.tools.export import load_exported
    from course.tools.predict import format_line, predict_blank_digit, predict_files

    cl = CommandLine(__doc__)
    cl.parser.add_argument("images", nargs="*", metavar="IMAGE", help="PNG/JPG files to classify")
    cl.parser.add_argument("--export", metavar="PREFIX", default="",
                           help="path prefix of an export, e.g. RUN_DIR/export/model (or that folder)")
    cl.parser.add_argument("--top-k", type=int, default=1, help="show the K most likely classes per image")
    cl.settings("smoke test", Launch, "dry_run")
    args = cl.parse(argv)
    if args.top_k < 1:
        raise ConfigError(f"--top-k: must be >= 1, got {args.top_k}")
    if args.dry_run:   # an untrained LeNet classifies a blank digit, in a temporary folder
        print("\n".join(predict_blank_digit(args.top_k)))
        return 0
    if not args.images or not args.export:
        raise ConfigError("give one or more IMAGE files and --export PREFIX (see --help)")
    layer, meta = load_exported(args.export)
    for path, guesses in zip(args.images, predict_files(layer, meta, args.images, args.top_k)):
        print(format_line(path, guesses, regression=meta["loss_kind"] == "mse"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
