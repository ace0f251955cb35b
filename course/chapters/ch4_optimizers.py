"""Compare optimizers and learning rates on one model: the course's optimizer experiment (优化算法).

Trains the same network with every optimizer at every learning rate (and seed), logs each run
to VisualDL under the same tags, and writes a comparison table and plots; then draws the course's
figure 3 (不同学习率算法效果示意图): the same optimizers walking a 2-D loss surface (Rosenbrock's
narrow valley), one panel per learning rate, as paths_rosenbrock.png and an animated GIF. The default is the
course's chapter: LeNet on real MNIST with SGD, Momentum, AdaGrad, RMSProp and Adam at 0.1, 0.01
and 0.001 -- 15 runs on 20,000 training images for 5 epochs. The sweep prints its estimate of
the time left as it runs.

Stopped (Ctrl-C, kill)? Run the same command again: finished runs are skipped, unfinished ones
continue from their last epoch.

examples:
  python scripts/compare_optimizers.py
  python scripts/compare_optimizers.py --optimizers sgd,adam --lrs 0.01 --seeds 0,1,2 --epochs 3
  python scripts/compare_optimizers.py --model mlp_relu --subset 0 --epochs 10 --jobs 2
  python scripts/compare_optimizers.py --dataset folder:~/photos --model mobilenet_v2 --image-size 64
"""
from __future__ import annotations

from pathlib import Path

from course.chapters.common import run_and_report, sweep_flags
from course.cli import CommandLine
from course.engine.config import RunConfig
from course.engine.optimizers import describe
from course.sweep.grid import Sweep

PATHS_SURFACE = "rosenbrock"   # a narrow curved valley: where the optimizers differ most visibly
DEFAULT_SUBSET = 20_000   # 20,000 of the 50,000 training images: the lessons show, a CPU finishes soon


def command_line() -> CommandLine:
    """The flags: the grid, the data and model, training, and where and how."""
    cl = CommandLine(__doc__)
    cl.settings("the grid", Sweep, "optimizers", "lrs", "confirm_best")
    cl.settings("the grid", RunConfig, "defaults")   # the course: Paddle's
    cl.settings("data and model", RunConfig, "dataset", "model", "subset", "val_subset", "data_cache",
                "image_size", "augment", "validation_split", "split_seed", "freeze_backbone",
                "pretrained", subset=DEFAULT_SUBSET)
    cl.settings("training", RunConfig, "epochs", "batch_size", "weight_decay", "schedule",
                "schedule_args", "early_stop", "reduce_lr_on_plateau", "checkpoint", "target_acc",
                "stop_at_chance", "log_every_n_steps")
    sweep_flags(cl)
    return cl


def main(argv=None) -> int:
    """Run the grid the flags describe, then write and print its table and plots."""
    cl = command_line()
    # A dry run: 2 optimizers x the middle rate, 1 epoch on 512 images.
    args = cl.parse(argv, dry_run={"optimizers": lambda v: v[:2], "lrs": lambda v: v[1:2] or v})
    sweep = Sweep(cl.config(args), args.optimizers, args.lrs, args.seeds, args.logdir,
                  confirm_best=args.confirm_best)
    run_and_report(sweep, args, title=sweep.root.name)
    optimizers = list(dict.fromkeys(describe(c.optimizer, c.optimizer_args) for c in sweep.cells))
    for figure in draw_paths(optimizers, sweep.root, animate=not args.dry_run, defaults=args.defaults):
        if not args.quiet:
            print(f"paths:  {figure}")
    return 0


def draw_paths(optimizers, folder, surface: str = PATHS_SURFACE, animate: bool = True,
               defaults: str = "paddle") -> list:
    """The course's figure 3: the same optimizers walking a 2-D surface, one panel per rate,
    as a PNG (and a GIF of the paths growing) in ``folder``."""
    from course.tools.optimizer_paths import compare_paths
    from course.tools.optimizer_paths_plot import animate_paths, plot_paths

    results = compare_paths(surface, optimizers, defaults=defaults)
    figures = [plot_paths(surface, results, Path(folder) / f"paths_{surface}.png")]
    if animate:
        figures.append(animate_paths(surface, results, Path(folder) / f"paths_{surface}.gif"))
    return figures
