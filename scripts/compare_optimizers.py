#!/usr/bin/env python
"""Compare optimizers and learning rates on one model: the course's optimizer experiment.

Trains the same network with every optimizer at every learning rate (and seed), logs each run
to VisualDL under the same tags, and writes a comparison table and plots. The default is the
course's chapter: LeNet on real MNIST with SGD, Momentum, AdaGrad, RMSProp and Adam at 0.1, 0.01
and 0.001 -- 15 runs on 20,000 training images for 5 epochs, about 10 minutes on a 2-core CPU.

Stopped (Ctrl-C, kill)? Run the same command again: finished runs are skipped, unfinished ones
continue from their last epoch.

examples:
  python scripts/compare_optimizers.py
  python scripts/compare_optimizers.py --optimizers sgd,adam --lrs 0.01 --seeds 0,1,2 --epochs 3
  python scripts/compare_optimizers.py --model mlp_relu --subset 0 --epochs 10 --jobs 2
  python scripts/compare_optimizers.py --dataset folder:~/photos --model mobilenet_v2 --image-size 64
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.cli import HelpFormatter, csv_list, key_values, run_main  # noqa: E402
from course.config import RunConfig  # noqa: E402
from course.optimizers import OPTIMIZERS  # noqa: E402

DEFAULT_SUBSET = 20_000   # 20,000 of the 50,000 training images: the sweep takes ~9 min on 2 cores
DEFAULT_EPOCHS = 5        # the course's EPOCH_NUM


def build_parser() -> argparse.ArgumentParser:
    d = RunConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    g = p.add_argument_group("the grid")
    g.add_argument("--optimizers", type=csv_list(str), default="sgd,momentum,adagrad,rmsprop,adam",
                   help=f"comma-separated optimizer names; choices: {', '.join(OPTIMIZERS)}")
    g.add_argument("--lrs", type=csv_list(float), default="0.1,0.01,0.001", help="comma-separated learning rates")
    g.add_argument("--seeds", type=csv_list(int), default="0", help="comma-separated seeds (several give mean ± std)")
    g = p.add_argument_group("data and model")
    g.add_argument("--dataset", default=d.dataset,
                   help="'mnist' (fetched and cached), 'mnist:PATH' (your mnist.json.gz) or 'folder:PATH' "
                        "(one sub-folder per class)")
    g.add_argument("--model", default=d.model, help="network name (see models/__init__.py)")
    g.add_argument("--subset", type=int, default=DEFAULT_SUBSET, help="train on the first N training images (0 = all)")
    g.add_argument("--val-subset", type=int, default=d.val_subset, help="validate on the first N images (0 = all)")
    g.add_argument("--data-cache", default=d.data_cache, help="MNIST cache directory ('' = $PADDLE_OPT_LAB_DATA or ~/.cache)")
    g.add_argument("--image-size", type=int, default=d.image_size, help="folder datasets: image side in pixels (0 = 64)")
    g.add_argument("--augment", default=d.augment, help="folder datasets: augmentation preset (none, keras_gym)")
    g.add_argument("--validation-split", type=float, default=d.validation_split, help="folder datasets: held-out fraction")
    g.add_argument("--split-seed", type=int, default=d.split_seed, help="folder datasets: seed of the split")
    g.add_argument("--freeze-backbone", action="store_true", help="transfer models: train the new head only")
    g.add_argument("--pretrained", default=d.pretrained, help="'imagenet' or a .pdparams path ('' = random init)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs per run")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 regularisation coefficient")
    g.add_argument("--schedule", default=d.schedule,
                   help="learning-rate schedule: constant, exponential, polynomial, step, cosine, onecycle, warmup")
    g.add_argument("--schedule-args", type=key_values, default="",
                   help="the schedule's settings, e.g. 'decay_steps=60,decay_rate=0.96,staircase=true'")
    g.add_argument("--early-stop", default=d.early_stop, help="EarlyStopping spec, e.g. 'monitor=val_acc,patience=2'")
    g.add_argument("--reduce-lr-on-plateau", default=d.reduce_lr, help="ReduceLROnPlateau spec, e.g. 'monitor=val_acc,factor=0.1,patience=1'")
    g.add_argument("--checkpoint", default=d.checkpoint, help="'best' keeps the best epoch's weights")
    g.add_argument("--target-acc", type=float, default=d.target_acc, help="the table's 'epochs/time to reach' accuracy")
    g.add_argument("--no-stop-at-chance", action="store_true",
                   help="let runs still at chance accuracy after their first epoch (>= 100 steps) go on")
    g = p.add_argument_group("where and how")
    g.add_argument("--device", default=d.device, help="auto, cpu, gpu or gpu:N")
    g.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs trained at once, each in its own process")
    g.add_argument("--logdir", default="runs", help="root directory of all runs")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--report-only", action="store_true", help="only (re)write the table and plots from finished runs")
    g.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue unfinished runs from their last epoch (--no-resume: start them over)")
    g.add_argument("--dry-run", action="store_true",
                   help="smoke test: 2 optimizers x 1 rate, 1 epoch on 512 images (seconds, not minutes)")
    return p


def config_from_args(args) -> RunConfig:
    return RunConfig(
        dataset=args.dataset, model=args.model, image_size=args.image_size, augment=args.augment,
        validation_split=args.validation_split, split_seed=args.split_seed,
        freeze_backbone=args.freeze_backbone, pretrained=args.pretrained, weight_decay=args.weight_decay,
        schedule=args.schedule, schedule_args=args.schedule_args, epochs=args.epochs, batch_size=args.batch_size, subset=args.subset,
        val_subset=args.val_subset, early_stop=args.early_stop, reduce_lr=args.reduce_lr_on_plateau,
        checkpoint=args.checkpoint, device=args.device, data_cache=args.data_cache,
        target_acc=args.target_acc, stop_at_chance=not args.no_stop_at_chance)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.dry_run:
        args.optimizers, args.lrs, args.seeds = args.optimizers[:2], args.lrs[1:2] or args.lrs, args.seeds[:1]
        args.epochs, args.subset, args.val_subset = 1, 512, 512
        args.logdir = str(Path(args.logdir) / "dry-run")
    from course.sweep import Sweep, run_sweep
    from course.report import write_report

    sweep = Sweep(config_from_args(args), args.optimizers, args.lrs, args.seeds, args.logdir)
    cells = sweep.runs()
    if not args.report_only:
        if sweep.base.dataset.split(":")[0] == "mnist":
            from data.mnist import load_mnist  # fetch once here, not in every worker at the same time
            load_mnist(path=sweep.base.dataset.partition(":")[2] or None, cache_dir=sweep.base.data_cache or None,
                       progress=not args.no_progress)
        subset = f"{args.subset:,} training images" if args.subset else "all training images"
        print(f"{len(cells)} runs ({len(sweep.optimizers)} optimizers x {len(sweep.lrs)} rates x "
              f"{len(sweep.seeds)} seeds) of {sweep.base.model} on {sweep.base.dataset}, {subset}, "
              f"{args.epochs} epochs, {min(args.jobs, len(cells))} at a time -> {sweep.root}")
        run_sweep(sweep, jobs=args.jobs, progress=not args.no_progress, resume=args.resume)
    paths = write_report(sweep.root, sweep.optimizers, title=sweep.root.name)
    print()
    print(paths["table"])
    print(f"table:  {paths['table_md']}  (CSV: {paths['table_csv'].name})")
    print(f"plots:  {paths['curves']}  {paths['lr_sensitivity']}")
    print(f"VisualDL: visualdl --logdir {sweep.root} --host 127.0.0.1 --port 8040   "
          "then open http://127.0.0.1:8040")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint="Run the same command again to continue the sweep."))
