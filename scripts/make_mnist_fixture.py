#!/usr/bin/env python
"""Make tests/fixtures/mnist_small.npz: the first N images of each real MNIST split.

Tests train tiny models on real digits in seconds, without network or the 55 MB cache.
Pixels are stored as uint8 0..255 (lossless: real MNIST values are exactly k/256), labels as
int64; keys train_x, train_y, valid_x, valid_y, eval_x, eval_y; np.savez_compressed (~2 MB).

    python scripts/make_mnist_fixture.py            # 6000 / 1000 / 1000 from the MNIST cache
    python scripts/make_mnist_fixture.py --dry-run  # check the cache and sizes, write nothing
"""
import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from data.errors import DataError  # noqa: E402
from data.mnist import load_mnist  # noqa: E402
from data.mnist_cache import atomic_write  # noqa: E402
from data.splits import SPLIT_NAMES, take_first, to_uint8  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "fixtures" / "mnist_small.npz"


def build_parser():
    parser = argparse.ArgumentParser(description="Write the small real-MNIST test fixture.")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output npz (default: {DEFAULT_OUT})")
    parser.add_argument("--cache-dir", default=None,
                        help="MNIST cache directory (default: the data layer's default)")
    parser.add_argument("--train", type=int, default=6000, help="train examples (default: 6000)")
    parser.add_argument("--valid", type=int, default=1000, help="valid examples (default: 1000)")
    parser.add_argument("--eval", type=int, default=1000, help="eval examples (default: 1000)")
    parser.add_argument("--dry-run", action="store_true",
                        help="load and check, but write nothing (default: off)")
    return parser


def fixture_arrays(splits, counts):
    """The fixture's arrays: uint8 pixels (lossless check), int64 labels."""
    small = take_first(splits, counts)
    arrays = {}
    for name in SPLIT_NAMES:
        images, labels = getattr(small, name)
        if len(labels) < counts[name]:
            raise DataError(f"--{name} {counts[name]}: split '{name}' has only {len(labels)} examples")
        packed = to_uint8(images)
        if packed is None:
            raise DataError(f"split '{name}': pixels are not exactly k/256, cannot store as uint8")
        arrays[f"{name}_x"], arrays[f"{name}_y"] = packed, labels.astype(np.int64)
    return arrays


def main(argv=None):
    args = build_parser().parse_args(argv)
    counts = {"train": args.train, "valid": args.valid, "eval": args.eval}
    try:
        for name, count in counts.items():
            if count < 1:
                raise DataError(f"--{name} must be a positive integer, got {count}")
        arrays = fixture_arrays(load_mnist(cache_dir=args.cache_dir), counts)
        if args.dry_run:
            print(f"would write {args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))
            return 0
        with atomic_write(args.out) as f:
            np.savez_compressed(f, **arrays)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = pathlib.Path(args.out).stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.2f} MB): " + ", ".join(f"{k} {list(v.shape)}" for k, v in arrays.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
