#!/usr/bin/env python
"""Find a good learning rate before a sweep: Leslie Smith's range test, as fastai's lr_find.

Trains for at most --num-steps batches while the rate grows exponentially from --start-lr to
--end-lr, stops once the smoothed loss has passed 4x its best, and suggests two rates read off
the loss curve: 'valley' (fastai's default, about half way down the longest decline) and 'steep'
(where the loss falls fastest). The model is thrown away afterwards; nothing is trained for real.
Writes lr_find.png (the curve, suggestions marked), lr_find.csv and lr_find.json to --out.

examples:
  python scripts/lr_find.py
  python scripts/lr_find.py --optimizer adam --model mlp_relu
  python scripts/lr_find.py --optimizer momentum --start-lr 1e-5 --end-lr 1 --num-steps 200
"""
import sys

from course.cli import CommandLine, Launch, run_main
from course.engine.config import RunConfig


def main(argv=None) -> int:
    from course.tools.lr_finder import check_args
    from course.tools.lr_finder_output import report, run_range_test

    cl = CommandLine(__doc__)
    cl.settings("what is tested", RunConfig, "dataset", "model", "optimizer", "defaults", "batch_size",
                "subset", "seed", "device")
    group = cl.parser.add_argument_group("the range test")
    group.add_argument("--start-lr", type=float, default=1e-7, help="rate of the first step")
    group.add_argument("--end-lr", type=float, default=10.0, help="rate of the last step")
    group.add_argument("--num-steps", type=int, default=100, help="optimizer steps at most")
    group.add_argument("--out", default=None,
                       help="output folder (default: runs/lr_find/<dataset>-<model>-<optimizer>)")
    cl.settings("the range test", Launch, "dry_run")
    args = cl.parse(argv, dry_run={"num_steps": lambda n: min(n, 20)})
    check_args(args.start_lr, args.end_lr, args.num_steps)   # a typo should not cost a data load
    config = cl.config(args, lr=args.start_lr)
    result, out = run_range_test(config, args.start_lr, args.end_lr, args.num_steps, args.out,
                                 args.dry_run)
    report(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
