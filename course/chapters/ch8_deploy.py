"""手写数字识别之动转静与部署: turn the trained network into a program that runs without its code.

The course's chapter converts the dygraph model to a static graph (``@paddle.jit.to_static`` on
``forward``, or ``paddle.jit.to_static(model)``), saves it with ``paddle.jit.save(model, path,
input_spec=[InputSpec([None, 1, 28, 28], 'float32')])`` (Paddle 3.x writes ``path.json``, the
program, and ``path.pdiparams``, the weights), loads it back with ``paddle.jit.load`` in code that
does not have the network's class, and predicts the digit in a PNG file, preprocessed the way the
training data was.

This chapter trains the course's LeNet briefly (or takes a finished run with ``--run-dir``),
exports it (course/tools/export.py), checks that the loaded program gives the dygraph model's
logits, writes a few test digits as PNG files and predicts them (course/tools/predict.py).

examples:
  python scripts/ch8_deploy.py
  python scripts/ch8_deploy.py --run-dir runs/mnist-lenet/adam-lr0.001-seed0
  python scripts/ch8_deploy.py --dry-run
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from course.chapters.common import run_flags
from course.cli import CommandLine
from course.engine.config import RunConfig

SUBSET, EPOCHS, DIGITS = 10_000, 1, 5


def write_digits(images, labels, folder: Path) -> list[Path]:
    """Test digits as the PNG files a user would give: grey, 28x28, white on black."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (image, label) in enumerate(zip(images, labels)):
        path = folder / f"digit{i}-is-{int(label)}.png"
        Image.fromarray(np.round(np.asarray(image).reshape(28, 28) * 256).clip(0, 255).astype("uint8")).save(path)
        paths.append(path)
    return paths


def command_line() -> CommandLine:
    """The run to export (or train), then where and how."""
    cl = CommandLine(__doc__)
    group = cl.settings("the model", RunConfig, "dataset", "data_cache", "optimizer", "defaults", "lr",
                        "epochs", "subset", optimizer="adam", lr=0.001, epochs=EPOCHS, subset=SUBSET)
    group.add_argument("--run-dir", default="", help="a finished run to export ('' = train LeNet now)")
    run_flags(cl, "progress", "dry_run")
    return cl


def main(argv=None) -> int:
    """Train (or take) a LeNet, export it, check the export, and predict PNG digits with it."""
    from course.engine.data import load_dataset
    from course.engine.experiment import run_experiment
    from course.tools.export import export_run, load_exported
    from course.tools.predict import format_line, predict_files

    cl = command_line()
    args = cl.parse(argv)
    config = cl.config(args, model="lenet")
    folder = Path(args.logdir) / "ch8-deploy"
    run_dir = Path(args.run_dir) if args.run_dir else folder / config.run_name()
    if not args.run_dir:
        result = run_experiment(config, run_dir, progress=args.progress)
        print(f"trained {config.run_name()}: val acc {100 * result['final_val_acc']:.2f}%")
    meta, files, gap = export_run(run_dir, folder / "export" / "model")
    print(f"exported with paddle.jit.save: {', '.join(p.name for p in files)}; the loaded program's "
          f"logits differ from the dygraph model's by at most {gap:.1e}")
    test = load_dataset(config, progress=False).test
    paths = write_digits(test.images[:DIGITS], test.labels[:DIGITS], folder / "digits")
    layer, meta = load_exported(folder / "export" / "model")
    right = 0
    for path, guesses in zip(paths, predict_files(layer, meta, paths)):
        print(format_line(path.name, guesses))
        right += guesses[0][0] == path.stem.rsplit("-", 1)[-1]
    print(f"{right} of {len(paths)} digits read right")
    return 0
