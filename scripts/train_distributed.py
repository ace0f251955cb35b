#!/usr/bin/env python
"""Data-parallel training on several processes: the course's chapter 6 (多卡并行训练).

Start it through Paddle's launcher, which runs one copy per process and tells each its rank:

  python -m paddle.distributed.launch --nproc_per_node 2 scripts/train_distributed.py   # CPU, gloo
  python -m paddle.distributed.launch --gpus 0,1 scripts/train_distributed.py           # GPUs, NCCL

Every process trains the same model on its share of each batch (--batch-size is the whole batch,
split evenly over the processes); backward() averages the gradients, so the weights stay the same
everywhere. Only rank 0 prints and writes the run directory. Started with plain `python` it is an
ordinary one-process run, useful as the baseline to compare with. The launcher's own per-process
logs go to --log_dir (default ./log); a failing rank's traceback is in log/workerlog.N.

examples:
  python scripts/train_distributed.py --dry-run
  python -m paddle.distributed.launch --nproc_per_node 2 --log_dir runs/launch-logs \\
      scripts/train_distributed.py --model lenet --optimizer adam --lr 0.001 --epochs 3
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.cli import HelpFormatter, run_main  # noqa: E402
from course.config import RunConfig  # noqa: E402
from course.optimizers import OPTIMIZERS  # noqa: E402

DEFAULT_SUBSET = 10_000


def build_parser() -> argparse.ArgumentParser:
    d = RunConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--dataset", default=d.dataset, help="'mnist', 'mnist:PATH' or 'folder:PATH'")
    p.add_argument("--model", default=d.model, help="network name (see models/__init__.py)")
    p.add_argument("--optimizer", default="adam", help=f"choices: {', '.join(OPTIMIZERS)}")
    p.add_argument("--lr", type=float, default=0.001, help="learning rate")
    p.add_argument("--epochs", type=int, default=3, help="passes over the training data")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="images per optimizer step, over all processes together (divisible by their number)")
    p.add_argument("--seed", type=int, default=d.seed, help="the same on every process")
    p.add_argument("--subset", type=int, default=DEFAULT_SUBSET, help="train on the first N training images (0 = all)")
    p.add_argument("--val-subset", type=int, default=d.val_subset, help="validate on the first N images (0 = all)")
    p.add_argument("--data-cache", default=d.data_cache, help="MNIST cache directory ('' = $PADDLE_OPT_LAB_DATA or ~/.cache)")
    p.add_argument("--early-stop", default=d.early_stop, help="EarlyStopping spec, e.g. 'monitor=val_acc,patience=2'")
    p.add_argument("--checkpoint", default=d.checkpoint, help="'best' keeps the best epoch's weights")
    p.add_argument("--device", default=d.device, help="auto, cpu or gpu (each process takes the card the launcher gives it)")
    p.add_argument("--logdir", default="runs/distributed", help="root of the run directories")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="smoke test: 1 epoch on 512 images")
    return p


def run_dir_for(config: RunConfig, logdir, world_size: int) -> Path:
    """'<logdir>/<dataset>-<model>/<optimizer>-lr<lr>-seed<seed>-<N>proc'."""
    return Path(logdir) / config.group_name() / f"{config.run_name()}-{world_size}proc"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.dry_run:
        args.epochs, args.subset, args.val_subset = 1, 512, 512
        args.logdir = str(Path(args.logdir) / "dry-run")
    from course.distributed import run_distributed, world

    config = RunConfig(dataset=args.dataset, model=args.model, optimizer=args.optimizer, lr=args.lr,
                       epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                       subset=args.subset, val_subset=args.val_subset, data_cache=args.data_cache,
                       early_stop=args.early_stop, checkpoint=args.checkpoint, device=args.device)
    rank, size = world()
    run_dir = run_dir_for(config, args.logdir, size)
    if rank == 0:
        how = (f"{size} processes, {config.batch_size // size} images each per step" if size > 1 else
               "1 process (for data parallel: python -m paddle.distributed.launch --nproc_per_node 2 "
               "scripts/train_distributed.py ...)")
        print(f"{config.model} on {config.dataset}, batch {config.batch_size}, {how} -> {run_dir}",
              flush=True)
    result = run_distributed(config, run_dir, progress=not args.no_progress)
    if rank == 0:
        test = f"{result['test_acc']:.4f}" if result.get("test_acc") is not None else "-"
        print(f"final val_acc {result['final_val_acc']:.4f}  test_acc {test}  "
              f"{result['train_seconds']:.1f}s training  ({result['status']})  result: {run_dir / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint="Run the same command again to continue."))
