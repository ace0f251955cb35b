#!/usr/bin/env python
"""Export real digit images as class-per-folder PNG trees: a demo image dataset, no download.

  python scripts/export_demo_images.py --out demo_images --source digits --per-class 20
  python scripts/export_demo_images.py --source mnist --from-npz tests/fixtures/mnist_small.npz

The work (sources, layouts, the atomic writer) is in ``data.folders.samples``.
"""
import pathlib
import sys

from data.errors import DataError
from course.cli import CommandLine, Launch, run_main
from course.engine.config import RunConfig
from data.folders import samples


def main(argv=None):
    cl = CommandLine("Export digits as class-per-folder PNG trees (data/folders/samples.py).")
    group = cl.parser.add_argument_group("what is exported")
    group.add_argument("--out", default="demo_images", help="output folder")
    group.add_argument("--source", choices=samples.SOURCES + ("all",), default="digits", help="images to export")
    group.add_argument("--from-npz", default=None, help="read MNIST from this .npz (train_x, ..., eval_y)")
    group.add_argument("--per-class", type=int, default=None, help="at most this many per class folder")
    group.add_argument("--layout", choices=samples.LAYOUTS, default="single", help="split: train/ val/ test/")
    group.add_argument("--val-fraction", type=float, default=0.2, help="digits, split layout: share of val/")
    group.add_argument("--test-fraction", type=float, default=0.2, help="digits, split layout: share of test/")
    group.add_argument("--replace", action="store_true", help="replace an existing OUT/<source>")
    cl.settings("what is exported", RunConfig, "data_cache", "split_seed")
    cl.settings("what is exported", Launch, "progress", "dry_run")
    args = cl.parse(argv)
    if args.per_class is not None and args.per_class <= 0:
        raise DataError(f"--per-class: must be a positive int, got {args.per_class}")
    options = dict(from_npz=args.from_npz, cache_dir=args.data_cache or None, layout=args.layout,
                   per_class=args.per_class, val_fraction=args.val_fraction,
                   test_fraction=args.test_fraction, seed=args.split_seed, overwrite=args.replace,
                   dry_run=args.dry_run, progress=args.progress and sys.stderr.isatty())
    for source in samples.SOURCES if args.source == "all" else (args.source,):
        dest = pathlib.Path(args.out) / source
        counts = samples.export_source(source, dest, **options)
        shown = ", ".join(f"{folder or 'all'}: {n}" for folder, n in counts.items())
        print(f"{'would write' if args.dry_run else 'wrote'} {dest} ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
