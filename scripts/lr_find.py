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
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.cli import HelpFormatter, run_main  # noqa: E402
from course.config import RunConfig, dataset_label  # noqa: E402
from course.optimizers import OPTIMIZERS, canonical_optimizer  # noqa: E402

DRY_RUN_STEPS, DRY_RUN_SUBSET = 20, 512


def build_parser() -> argparse.ArgumentParser:
    d = RunConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--dataset", default=d.dataset,
                   help="'mnist' (fetched and cached), 'mnist:PATH' or 'folder:PATH'")
    p.add_argument("--model", default=d.model, help="network name (see models/__init__.py)")
    p.add_argument("--optimizer", default=d.optimizer, help=f"choices: {', '.join(OPTIMIZERS)}")
    p.add_argument("--start-lr", type=float, default=1e-7, help="rate of the first step")
    p.add_argument("--end-lr", type=float, default=10.0, help="rate of the last step")
    p.add_argument("--num-steps", type=int, default=100, help="optimizer steps at most")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step")
    p.add_argument("--subset", type=int, default=d.subset, help="draw batches from the first N training images (0 = all)")
    p.add_argument("--seed", type=int, default=d.seed, help="seeds the initial weights and the shuffling")
    p.add_argument("--out", default=None,
                   help="output directory (default: runs/lr_find/<dataset>-<model>-<optimizer>)")
    p.add_argument("--device", default=d.device, help="auto, cpu, gpu or gpu:N")
    p.add_argument("--dry-run", action="store_true",
                   help=f"smoke test: {DRY_RUN_STEPS} steps on {DRY_RUN_SUBSET} images, "
                        "output under runs/lr_find/dry-run/ unless --out is given")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from course.datasets import load_dataset
    from course.device import use_device
    from course.experiment import build_training
    from course.lr_finder import check_args, find_lr, save_result

    # Cheap checks first: a typo should not cost a data load.
    check_args(args.start_lr, args.end_lr, args.num_steps)
    optimizer = canonical_optimizer(args.optimizer)
    if args.dry_run:
        args.num_steps = min(args.num_steps, DRY_RUN_STEPS)
        args.subset = min(args.subset or DRY_RUN_SUBSET, DRY_RUN_SUBSET)
    name = f"{dataset_label(args.dataset)}-{args.model}-{optimizer}"
    out = Path(args.out) if args.out else Path("runs/lr_find") / ("dry-run" if args.dry_run else "") / name
    config = RunConfig(dataset=args.dataset, model=args.model, optimizer=optimizer, lr=args.start_lr,
                       batch_size=args.batch_size, subset=args.subset, seed=args.seed,
                       device=args.device)

    device = use_device(config.device)
    data = load_dataset(config, progress=False)
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train), progress=False)
    print(f"lr range test: {name} on {device}, {args.num_steps} steps of {args.batch_size} images, "
          f"lr {args.start_lr:g} -> {args.end_lr:g}")
    result = find_lr(trainer, data.train, start_lr=args.start_lr, end_lr=args.end_lr,
                     num_steps=args.num_steps)
    paths = save_result(result, out, title=name)

    if result.stopped_early:
        print(f"stopped after {len(result.lrs)} steps: {result.stop_reason}")
    if result.suggestion_valley is None:
        print("too few steps for a suggestion; raise --num-steps or lower --start-lr")
    else:
        print(f"suggested lr (valley, fastai's default): {result.suggestion_valley:.3g}")
        print(f"suggested lr (steepest descent):         {result.suggestion_steep:.3g}")
    print(f"plot:   {paths['png']}")
    print(f"data:   {paths['csv']}  {paths['json'].name}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
