#!/usr/bin/env python
"""Make tests/fixtures/mnist_small.npz: the first N images of each real MNIST split (data/mnist/fixture.py).

    python scripts/make_mnist_fixture.py            # 6000 / 1000 / 1000 from the MNIST cache
    python scripts/make_mnist_fixture.py --dry-run  # check the cache and sizes, write nothing
"""
import pathlib
import sys

from course.cli import CommandLine, Launch, run_main
from course.engine.config import RunConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None):
    from data.mnist import load_mnist
    from data.mnist.fixture import fixture_arrays, write_fixture

    cl = CommandLine(__doc__)
    group = cl.settings("the fixture", RunConfig, "data_cache")
    group.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "mnist_small.npz"), help="output npz")
    # The course's split names, as the fixture's keys train_x, valid_x, eval_x have them.
    for name, count in (("train", 6000), ("valid", 1000), ("eval", 1000)):
        group.add_argument(f"--{name}", type=int, default=count, help=f"{name} examples")
    cl.settings("the fixture", Launch, "dry_run")
    args = cl.parse(argv)
    counts = {"train": args.train, "valid": args.valid, "eval": args.eval}
    arrays = fixture_arrays(load_mnist(cache_dir=args.data_cache or None), counts)
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in arrays.items())
    if args.dry_run:
        print(f"would write {args.out}: {shapes}")
        return 0
    print(f"wrote {args.out} ({write_fixture(arrays, args.out):.2f} MB): {shapes}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
