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
import sys

from course.cli import RESUME_HINT, CommandLine, Launch, run_main
from course.engine.config import RunConfig
from course.sweep.grid import Sweep


def main(argv=None) -> int:
    from course.tools.distributed import run_distributed, run_dir_for, world

    cl = CommandLine(__doc__)
    cl.settings("the run", RunConfig, "dataset", "model", "optimizer", "defaults", "lr", "epochs", "batch_size",
                "seed", "subset", "val_subset", "data_cache", "early_stop", "checkpoint", "device",
                optimizer="adam", lr=0.001, epochs=3, subset=10_000)
    cl.settings("where and how", Sweep, "logdir", logdir="runs/distributed")
    cl.settings("where and how", Launch, "progress", "dry_run")
    args = cl.parse(argv)
    config = cl.config(args)
    rank, size = world()
    run_dir = run_dir_for(config, args.logdir, size)
    if rank == 0:
        how = (f"{size} processes, {config.batch_size // size} images each per step" if size > 1 else
               "1 process (for data parallel: python -m paddle.distributed.launch --nproc_per_node 2 "
               "scripts/train_distributed.py ...)")
        print(f"{config.model} on {config.dataset}, batch {config.batch_size}, {how} -> {run_dir}", flush=True)
    result = run_distributed(config, run_dir, progress=args.progress)
    if rank == 0:
        test = f"{result['test_acc']:.4f}" if result.get("test_acc") is not None else "-"
        print(f"final val_acc {result['final_val_acc']:.4f}  test_acc {test}  {result['train_seconds']:.1f}s "
              f"training  ({result['status']})  result: {run_dir / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
