"""Export real digit images as class-per-folder PNG trees: a demo image dataset, no download.

  python scripts/export_demo_images.py --out demo_images --source digits --per-class 20
  python scripts/export_demo_images.py --source mnist --from-npz tests/fixtures/mnist_small.npz

The work (sources, layouts, the atomic writer) is in ``data.folders.samples``.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from data.errors import DataError  # noqa: E402
from data.folders import samples  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Export digits as class-per-folder PNG trees.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    add("--out", default="demo_images", help="output folder")
    add("--source", choices=samples.SOURCES + ("all",), default="digits", help="images to export")
    add("--from-npz", default=None, help="read MNIST from this .npz (train_x, ..., eval_y)")
    add("--data-cache", default="", help="MNIST cache directory ('' = the data layer's default)")
    add("--per-class", type=int, default=None, help="at most this many per class folder")
    add("--layout", choices=samples.LAYOUTS, default="single", help="split: train/ val/ test/")
    add("--val-fraction", type=float, default=0.2, help="digits, split layout: share of val/")
    add("--test-fraction", type=float, default=0.2, help="digits, split layout: share of test/")
    add("--seed", type=int, default=12, help="seed of the digits split")
    add("--overwrite", action="store_true", help="replace an existing OUT/<source>")
    add("--dry-run", action="store_true", help="print how many images would be written, write none")
    add("--no-progress", action="store_true", help="no progress bar (none either off a terminal)")
    args = parser.parse_args(argv)
    if args.per_class is not None and args.per_class <= 0:
        parser.error(f"--per-class must be a positive int, got {args.per_class}")
    return args


def main(argv=None):
    args = parse_args(argv)
    options = dict(from_npz=args.from_npz, cache_dir=args.data_cache or None, layout=args.layout,
                   per_class=args.per_class, val_fraction=args.val_fraction,
                   test_fraction=args.test_fraction, seed=args.seed, overwrite=args.overwrite,
                   dry_run=args.dry_run, progress=not args.no_progress and sys.stderr.isatty())
    try:
        for source in samples.SOURCES if args.source == "all" else (args.source,):
            dest = pathlib.Path(args.out) / source
            counts = samples.export_source(source, dest, **options)
            shown = ", ".join(f"{folder or 'all'}: {n}" for folder, n in counts.items())
            print(f"{'would write' if args.dry_run else 'wrote'} {dest} ({shown})")
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
