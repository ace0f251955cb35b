#!/usr/bin/env python
"""Lighten VGG16 without losing accuracy (article 004, "TensorFlow|咖啡豆识别", 探索题).

The article writes VGG16 out layer by layer (Keras names, 134,276,932 parameters for its four
coffee-bean classes at 224x224), trains it with Adam at 1e-4 (batch 32, 20 epochs,
validation_split 0.2, seed 123) and sets a challenge: 在不影响准确率的前提下轻量化模型, make the
model lighter without losing accuracy. This chapter measures the candidates side by side:

  vgg16_keras   the article's VGG16: 13 convolutions + Flatten + fc1 4096 + fc2 4096 + Dense
  vgg16_gap     the same convolutions, global average pooling + Dense (drops fc1/fc2)
  mobilenet_v2  MobileNetV2 + global average pooling + Dense (depthwise convolutions)

For each: parameters and FLOPs (``models.summary.summarize``), CPU milliseconds per image
(median of timed forward passes in eval mode after a warm-up, at batch 1 and 16) and the
validation accuracy after a short training (``course.experiment.run_experiment``, so each model
gets a normal run directory with VisualDL records). The table goes to
``LOGDIR/<data>-lighten/lighten.md`` and ``lighten.csv``.

Departures from the article:
- 32x32 and 3 epochs by default instead of 224x224 and 20: VGG16 at 224 takes minutes per
  batch on a 2-core CPU. At 32x32 vgg16_keras's fc1 sees a 1x1x512 map, so it has 33.6M
  parameters rather than 134M (the convolutions' 14.7M do not depend on the size); pass
  ``--image-size 224`` for the article's count.
- Paddle, not Keras; the article defines an ExponentialDecay but trains at the constant 1e-4,
  and so does this script. The engine marks a run whose validation accuracy is at chance after
  its first epoch as diverged and stops it (VGG16 from scratch can start that slowly).
- The default data is the demo digits (``python scripts/export_demo_images.py``); the
  coffee-bean photos are not in the repository: pass them with --data.

examples:
  python course/lighten_vgg16.py                                  # demo digits, 32x32, 3 epochs
  python course/lighten_vgg16.py --data ~/data/coffee --image-size 224 --epochs 20   # the article
  python course/lighten_vgg16.py --models vgg16_gap,vision:resnet18 --epochs 5
  python course/lighten_vgg16.py --dry-run
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root, not course/, leads the path
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.chapter import (DEMO_DATA, DRY_RUN_IMAGE_SIZE, dry_run_logdir,  # noqa: E402
                            folder_dataset, print_where)
from course.cli import HelpFormatter, csv_list, run_main  # noqa: E402
from course.config import RunConfig, dataset_label  # noqa: E402
from course.errors import ConfigError  # noqa: E402
from course.files import atomic_write_csv, atomic_write_text  # noqa: E402
from course.progress import hms  # noqa: E402

MODELS = "vgg16_keras,vgg16_gap,mobilenet_v2"
# 文章的设置:Adam(1e-4)、batch 32、validation_split=0.2、seed=123;轮数和尺寸为 CPU 缩小
LR, BATCH_SIZE, VALIDATION_SPLIT, SPLIT_SEED = 1e-4, 32, 0.2, 123
IMAGE_SIZE, EPOCHS = 32, 3
COLUMNS = ["model", "params", "trainable", "flops", "params_vs_base", "flops_vs_base",
           "ms_per_image_b1", "ms_per_image_b16", "best_val_acc", "best_epoch", "final_val_acc",
           "epochs_run", "train_seconds", "diverged", "run_dir"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    g = p.add_argument_group("what is compared")
    g.add_argument("--data", default=DEMO_DATA, help="class-per-folder image tree (or train/ val/ test/)")
    g.add_argument("--models", type=csv_list(str), default=MODELS,
                   help="models to compare; the first is the baseline of the 'vs' columns")
    g.add_argument("--image-size", type=int, default=IMAGE_SIZE, help="image side in pixels (article: 224)")
    g.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs per model (article: 20)")
    g.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="images per step")
    g.add_argument("--lr", type=float, default=LR, help="Adam's learning rate")
    g.add_argument("--validation-split", type=float, default=VALIDATION_SPLIT,
                   help="fraction of each class held out for validation")
    g.add_argument("--split-seed", type=int, default=SPLIT_SEED, help="seed of that split")
    g = p.add_argument_group("timing")
    g.add_argument("--timing-batches", type=csv_list(int), default="1,16",
                   help="batch sizes of the timed forward passes")
    g.add_argument("--repeats", type=int, default=5, help="timed passes per batch size (the median is kept)")
    g = p.add_argument_group("where and how")
    g.add_argument("--seed", type=int, default=0, help="seed of every training run")
    g.add_argument("--logdir", default="runs", help="root directory of all runs")
    g.add_argument("--device", default="auto", help="training device: auto, cpu, gpu or gpu:N "
                                                    "(timing is always on the CPU)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--dry-run", action="store_true",
                   help="smoke test: 1 epoch at 32x32 on 8 images per class, 2 timed passes (seconds)")
    return p


def count_classes(dataset: str) -> int:
    """Number of classes of a 'folder:PATH' dataset (the class folders of its training part)."""
    from data.image_folder import detect_layout, find_classes

    root = dataset.partition(":")[2]
    layout, folders = detect_layout(root)
    return len(find_classes(folders["training"] if layout == "split" else root))


def cpu_ms_per_image(model, input_shape, batch: int, repeats: int, warmup: int = 2) -> float:
    """Median wall-clock milliseconds per image of a forward pass in eval mode, on the CPU."""
    import paddle

    x = paddle.rand([batch, *input_shape])
    model.eval()
    times = []
    with paddle.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x).numpy()            # .numpy() waits for the result
            if i >= warmup:             # the first passes pay for memory allocation and caches
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / batch


def measure(config: RunConfig, run_dir: Path, num_classes: int, batches, repeats: int) -> dict:
    """Parameters, FLOPs and CPU speed of the model ``config`` trained in ``run_dir``."""
    import paddle

    from models import build_model, summarize

    shape = (3, config.image_size, config.image_size)
    device = paddle.get_device()
    paddle.set_device("cpu")
    try:
        model = build_model(config.model, num_classes=num_classes, image_size=config.image_size)
        weights = run_dir / "model.pdparams"
        if weights.is_file():        # the trained model, though its speed does not depend on it
            model.set_state_dict(paddle.load(str(weights)))
        row = summarize(model, shape)
        for batch in batches:
            row[f"ms_per_image_b{batch}"] = cpu_ms_per_image(model, shape, batch, repeats)
    finally:
        paddle.set_device(device)
    return row


def markdown(rows: list[dict], batches, base: str, title: str) -> str:
    def ratio(value):
        return "—" if value is None else f"{value:.2f}×"

    def pct(value):
        return "—" if value is None else f"{100 * value:.2f}%"

    head = ["model", "parameters", f"vs {base}", "FLOPs/image", f"FLOPs vs {base}",
            *[f"CPU ms/image (batch {b})" for b in batches],
            "best val acc (epoch)", "final val acc", "epochs", "train time", "diverged"]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        flops = "—" if r["flops"] is None else f"{r['flops'] / 1e6:,.1f}M"
        cells = [r["model"], f"{r['params']:,}", ratio(r["params_vs_base"]), flops,
                 ratio(r["flops_vs_base"]), *[f"{r[f'ms_per_image_b{b}']:.2f}" for b in batches],
                 f"{pct(r['best_val_acc'])} ({r['best_epoch'] or '—'})", pct(r["final_val_acc"]),
                 str(r["epochs_run"]), hms(r["train_seconds"]), "yes" if r["diverged"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from course.experiment import run_experiment
    from models import list_models

    args = build_parser().parse_args(argv)
    repeats, warm = args.repeats, "after 2 warm-up passes"
    if args.dry_run:
        args.logdir = str(dry_run_logdir(args))
        args.image_size, args.epochs, repeats = DRY_RUN_IMAGE_SIZE, 1, 2
    if repeats < 1 or not args.timing_batches or min(args.timing_batches) < 1:
        raise ConfigError("--repeats and every --timing-batches size must be >= 1")
    unknown = [m for m in args.models if m not in list_models() and not m.startswith("vision:")]
    if unknown or not args.models:
        raise ConfigError(f"--models: unknown model(s) {', '.join(unknown) or '(none given)'}; "
                          f"image models: vgg16_keras, vgg16, vgg16_gap, vgg16_transfer, "
                          f"densenet121, mobilenet_v2, vision:<backbone>")
    dataset = folder_dataset(args.data, args.dry_run, args.logdir)
    num_classes = count_classes(dataset)
    print(f"{len(args.models)} models ({', '.join(args.models)}) on {dataset} ({num_classes} classes), "
          f"{args.image_size}x{args.image_size}, Adam {args.lr:g}, batch {args.batch_size}, "
          f"{args.epochs} epochs each", flush=True)
    rows, run_dirs = [], []
    for name in args.models:
        # 每个模型一个普通的运行目录:LOGDIR/<数据>-<模型>/adam-lr0.0001-seed0
        config = RunConfig(dataset=dataset, model=name, image_size=args.image_size, optimizer="adam",
                           lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                           validation_split=args.validation_split, split_seed=args.split_seed,
                           seed=args.seed, device=args.device,
                           # a light model that starts slowly is what this table is about
                           stop_at_chance=False)
        run_dir = Path(args.logdir) / config.group_name() / config.run_name()
        print(f"[{name}] training -> {run_dir}", flush=True)
        result = run_experiment(config, run_dir, progress=not args.no_progress)
        print(f"[{name}] timing forward passes on the CPU (batch {', '.join(map(str, args.timing_batches))})",
              flush=True)
        row = measure(config, run_dir, num_classes, args.timing_batches, repeats)
        rows.append({"model": name, "params": row["total"], "trainable": row["trainable"],
                     "flops": row["flops"], **{k: v for k, v in row.items() if k.startswith("ms_")},
                     "best_val_acc": result["best_val_acc"], "best_epoch": result["best_epoch"],
                     "final_val_acc": result["final_val_acc"], "epochs_run": result["epochs_run"],
                     "train_seconds": result["train_seconds"], "diverged": result["diverged"],
                     "run_dir": str(run_dir)})
        run_dirs.append(run_dir.parent)
    base = rows[0]
    for r in rows:   # 轻量化的程度:相对第一个模型(默认 vgg16_keras)
        r["params_vs_base"] = r["params"] / base["params"]
        r["flops_vs_base"] = r["flops"] / base["flops"] if r["flops"] and base["flops"] else None

    out = Path(args.logdir) / f"{dataset_label(dataset)}-lighten"
    title = (f"{out.name}: lighter VGG16 at {args.image_size}x{args.image_size}, {args.epochs} epochs "
             f"(article 004); CPU times: median of {repeats} passes {warm}")
    table = markdown(rows, args.timing_batches, base["model"], title)
    columns = (COLUMNS[:6] + [f"ms_per_image_b{b}" for b in args.timing_batches]
               + [c for c in COLUMNS[6:] if not c.startswith("ms_")])
    atomic_write_text(out / "lighten.md", table)
    atomic_write_csv(out / "lighten.csv", rows, columns)
    print()
    print(table)
    print_where(out / "lighten.md", out / "lighten.csv", [], run_dirs)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint="Run the same command again: finished models are not "
                                             "trained again."))
