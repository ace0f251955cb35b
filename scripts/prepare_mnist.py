#!/usr/bin/env python
"""Fetch MNIST once and cache it (fast npz + the course's mnist.json.gz), or convert your own.

Examples:
    python scripts/prepare_mnist.py                          # real MNIST into the default cache
    python scripts/prepare_mnist.py --cache-dir /data/mnist  # somewhere else
    python scripts/prepare_mnist.py --from work/mnist.json.gz  # validate + fast-cache your file
    python scripts/prepare_mnist.py --dry-run                # only show where the cache is

The default cache is $PADDLE_OPT_LAB_DATA/mnist, else $XDG_CACHE_HOME/paddle-optimizer-lab/mnist
(~/.cache/paddle-optimizer-lab/mnist). Errors print one line `error: ...` and exit with code 2.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from data.errors import DataError  # noqa: E402
from data.mnist_cache import (  # noqa: E402
    CACHE_ENV_VAR, FAST_CACHE_NAME, JSON_NAME, resolve_cache_dir, user_cache_path,
)


def build_parser():
    parser = argparse.ArgumentParser(
        description="Fetch and cache MNIST for the optimizer lab (or convert your own "
                    "course-format mnist.json.gz to the fast cache).")
    parser.add_argument("--cache-dir", default=None,
                        help=f"cache directory (default: {resolve_cache_dir()}; "
                             f"set ${CACHE_ENV_VAR} to move the data root)")
    parser.add_argument("--from", dest="source", default=None, metavar="PATH",
                        help="a course-format mnist.json.gz to validate and convert "
                             "(default: none, fetch real MNIST)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if already cached (default: off)")
    parser.add_argument("--no-json", action="store_true",
                        help=f"do not write the course's {JSON_NAME} (default: write it)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (default: show them)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print where the cache is and what exists, do nothing (default: off)")
    return parser


def _size(path):
    return f"{path.stat().st_size / 1e6:.1f} MB" if path and path.is_file() else "missing"


def dry_run(args):
    cache = resolve_cache_dir(args.cache_dir)
    print(f"cache dir : {cache}")
    if args.source:
        source = pathlib.Path(args.source)
        if not source.is_file():
            raise DataError(f"{source}: no such file (expected the course's gzip-JSON "
                            f"mnist.json.gz)")
        print(f"fast cache: {user_cache_path(source, cache)} "
              f"({_size(user_cache_path(source, cache))})")
    else:
        print(f"fast cache: {cache / FAST_CACHE_NAME} ({_size(cache / FAST_CACHE_NAME)})")
        print(f"course    : {cache / JSON_NAME} ({_size(cache / JSON_NAME)})")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.dry_run:
            dry_run(args)
            return 0
        from data.mnist import prepare_mnist

        done = prepare_mnist(path=args.source, cache_dir=args.cache_dir, force=args.force,
                             write_json=not args.no_json, progress=not args.quiet)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted (nothing half-written was left in the cache)", file=sys.stderr)
        return 130
    verb = "prepared" if done.built else "already cached"
    print(f"MNIST {verb} in {done.seconds:.1f} s")
    print(f"  fast cache: {done.fast_cache} ({_size(done.fast_cache)})  <- load_mnist() reads this")
    if done.json_path is not None:
        label = "source" if args.source else "course"
        print(f"  {label:<10}: {done.json_path} ({_size(done.json_path)})  "
              f"<- course code: load_data(path=...) or copy to ./work/{JSON_NAME}")
    sizes = ", ".join(f"{name} {len(getattr(done.splits, name).labels)}"
                      for name in ("train", "valid", "eval"))
    print(f"  splits    : {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
