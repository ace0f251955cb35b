#!/usr/bin/env python
"""Fetch MNIST once and cache it (fast npz + the course's mnist.json.gz), or convert your own.

Examples:
    python scripts/prepare_mnist.py                          # real MNIST into the default cache
    python scripts/prepare_mnist.py --data-cache /data/mnist # somewhere else
    python scripts/prepare_mnist.py --from work/mnist.json.gz  # validate + fast-cache your file
    python scripts/prepare_mnist.py --dry-run                # only show where the cache is

The default cache is $PADDLE_OPT_LAB_DATA/mnist, else $XDG_CACHE_HOME/paddle-optimizer-lab/mnist
(~/.cache/paddle-optimizer-lab/mnist). Errors print one line `error: ...` and exit with code 2.
"""
import sys

from course.cli import CommandLine, Launch, run_main
from course.engine.config import RunConfig


def main(argv=None):
    from data.mnist import JSON_NAME, prepare_mnist
    from data.mnist.cache import describe_cache, file_size
    from data.mnist.splits import COURSE_SPLITS

    cl = CommandLine(__doc__)
    group = cl.settings("the cache", RunConfig, "data_cache")
    group.add_argument("--from", dest="source", default=None, metavar="PATH",
                       help="a course-format mnist.json.gz to validate and convert; None fetches real MNIST")
    group.add_argument("--force", action="store_true", help="rebuild even if already cached")
    group.add_argument("--no-json", action="store_true", help=f"do not write the course's {JSON_NAME}")
    cl.settings("the cache", Launch, "progress", "dry_run")
    args = cl.parse(argv)
    if args.dry_run:   # only say where the cache is and what exists
        print("\n".join(describe_cache(args.data_cache or None, args.source)))
        return 0
    done = prepare_mnist(path=args.source, cache_dir=args.data_cache or None, force=args.force,
                         write_json=not args.no_json, progress=args.progress)
    print(f"MNIST {'prepared' if done.built else 'already cached'} in {done.seconds:.1f} s")
    print(f"  fast cache: {done.fast_cache} ({file_size(done.fast_cache)})  <- load_mnist() reads this")
    if done.json_path is not None:
        print(f"  {'source' if args.source else 'course':<10}: {done.json_path} ({file_size(done.json_path)})  "
              f"<- course code: load_data(path=...) or copy to ./work/{JSON_NAME}")
    sizes = ", ".join(f"{name} {len(getattr(done.splits, field).labels)}"
                      for name, field in COURSE_SPLITS.items())  # the course's names
    print(f"  splits    : {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint="Nothing half-written was left in the cache."))
