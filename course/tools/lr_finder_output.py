"""The range test as a command runs it: on a RunConfig's model and data, written to files.

``run_range_test`` builds the run's model, optimizer and data exactly as a training run would
(``course.engine.experiment.build_training``), probes them with ``course.tools.lr_finder.find_lr``
and writes ``lr_find.png``, ``lr_find.csv`` and ``lr_find.json``; ``report`` prints the suggestions.
"""
from __future__ import annotations

from course.engine.errors import ConfigError

from pathlib import Path

import numpy as np

from course.engine.config import dataset_label
from course.engine.files import atomic_write_csv, atomic_write_json
from course.tools.lr_finder import CSV_COLUMNS, LRFindResult, find_lr


def run_range_test(config, start_lr: float, end_lr: float, num_steps: int, out=None,
                   dry_run: bool = False):
    """Probe ``config``'s model and data; return ``(result, paths written)``.

    ``out`` defaults to ``runs/lr_find/<dataset>-<model>-<optimizer>`` (under ``dry-run/`` in a dry run).
    """
    from course.engine.data import load_dataset
    from course.engine.device import use_device
    from course.engine.experiment import build_training
    from course.engine.optimizers import folder_part

    # 'momentum(momentum=0.5)' -> '...-momentum_momentum=0.5': its settings, no brackets
    name = f"{dataset_label(config.dataset)}-{config.model}-{folder_part(config.optimizer, config.optimizer_args)}"
    out = Path(out) if out else Path("runs/lr_find") / ("dry-run" if dry_run else "") / name
    device = use_device(config.device)
    data = load_dataset(config, progress=False)
    images = data.sizes()[0]
    if config.batch_size > images:   # every step would see the same images: no range test
        raise ConfigError(f"--batch-size: {config.batch_size:,} is more than the {images:,} training "
                          f"images; use at most {images:,} (a range test steps through batches)")
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train), progress=False)
    print(f"lr range test: {name} on {device}, {num_steps} steps of {config.batch_size} images, "
          f"lr {start_lr:g} -> {end_lr:g}")
    result = find_lr(trainer, data.train, start_lr=start_lr, end_lr=end_lr, num_steps=num_steps)
    return result, save_result(result, out, title=name)


def report(result: LRFindResult, paths: dict) -> None:
    """Print how the test ended, the two suggested rates and where the files are."""
    if result.stopped_early:
        print(f"stopped after {len(result.lrs)} steps: {result.stop_reason}")
    if result.suggestion_valley is None:
        print("too few steps for a suggestion; raise --num-steps or lower --start-lr")
    else:
        print(f"suggested lr (valley, fastai's default): {result.suggestion_valley:.3g}")
        print(f"suggested lr (steepest descent):         {result.suggestion_steep:.3g}")
    print(f"plot:   {paths['png']}")
    print(f"data:   {paths['csv']}  {paths['json'].name}")


def save_result(result: LRFindResult, out_dir, title: str = "") -> dict:
    """Write ``lr_find.csv``, ``lr_find.json`` and ``lr_find.png`` to ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    rows = [{"step": i + 1, "lr": lr, "loss": s, "raw_loss": r}
            for i, (lr, s, r) in enumerate(zip(result.lrs, result.losses, result.raw_losses))]
    paths = {"csv": out_dir / "lr_find.csv", "json": out_dir / "lr_find.json",
             "png": out_dir / "lr_find.png"}
    atomic_write_csv(paths["csv"], rows, CSV_COLUMNS)
    atomic_write_json(paths["json"], {"title": title, **result.to_dict()})
    plot_lr_find(result, paths["png"], title)
    return paths


def plot_lr_find(result: LRFindResult, path, title: str = "") -> None:
    """Smoothed loss against rate (log axis), raw batch losses faint behind, suggestions marked."""
    from course.engine.figures import label, plt, save_figure, style

    lrs, losses, raw = (np.asarray(v, dtype="float64") for v in (result.lrs, result.losses, result.raw_losses))
    finite = np.isfinite(losses)
    with style():
        fig, ax = plt.subplots(figsize=(8, 5.5))
        ax.plot(lrs, raw, ".", color="0.75", markersize=3, label=label("批次损失", "batch loss"))
        ax.plot(lrs[finite], losses[finite], color="C0", label=label("平滑损失", "smoothed loss"))
        for name, lr, color, marker in (("valley", result.suggestion_valley, "C3", "o"),
                                        ("steep", result.suggestion_steep, "C2", "s")):
            if lr is None:
                continue
            y = float(np.interp(np.log10(lr), np.log10(lrs[finite]), losses[finite]))
            ax.plot([lr], [y], marker, color=color, markersize=9, zorder=3,
                    label=f"{name}: lr={lr:.2g}")
            ax.axvline(lr, color=color, alpha=0.3, linestyle="--")
        if finite.any():
            # Keep the view on the smoothed curve: the raw losses of the last, diverging steps
            # would otherwise squash it flat.
            low, high = losses[finite].min(), losses[finite].max()
            pad = 0.05 * (high - low or 1.0)
            ax.set_ylim(low - pad, high + pad)
        ax.set_xscale("log")
        ax.set_xlabel(label("学习率（对数坐标）", "learning rate (log scale)"))
        ax.set_ylabel(label("训练损失", "training loss"))
        stop = label("（损失发散，提前停止）", " (stopped: loss diverged)") if result.stopped_early else ""
        ax.set_title((f"{title}: " if title else "") + label("学习率范围测试", "learning-rate range test") + stop)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        save_figure(fig, path)
