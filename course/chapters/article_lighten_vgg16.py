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
validation accuracy after a short training (``course.engine.experiment.run_experiment``, so each model
gets a normal run directory with VisualDL records). The table goes to
``LOGDIR/<data>-lighten/lighten.md`` and ``lighten.csv``.

Departures from the article:
- 32x32 and 3 epochs by default instead of 224x224 and 20: VGG16 at 224 takes minutes per
  batch on a 2-core CPU. At 32x32 vgg16_keras's fc1 sees a 1x1x512 map, so it has 33.6M
  parameters rather than 134M (the convolutions' 14.7M do not depend on the size); pass
  ``--image-size 224`` for the article's count.
- Paddle, not Keras, with Keras's Adam (``--defaults keras``, the default here: epsilon 1e-7;
  course/engine/optimizers.py says where Paddle's Adam differs); the article defines an
  ExponentialDecay but trains at the constant 1e-4, and so does this script. The engine marks a
  run whose validation accuracy is at chance after its first epoch as diverged and stops it
  (VGG16 from scratch can start that slowly).
- The default data is the demo digits (``python scripts/export_demo_images.py``); the
  coffee-bean photos are not in the repository: pass them with --data.

examples:
  python scripts/lighten_vgg16.py                                  # demo digits, 32x32, 3 epochs
  python scripts/lighten_vgg16.py --data ~/data/coffee --image-size 224 --epochs 20   # the article
  python scripts/lighten_vgg16.py --models vgg16_gap,vision:resnet18 --epochs 5
  python scripts/lighten_vgg16.py --dry-run
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from course.chapters.common import DEMO_DATA, DRY_RUN_IMAGE_SIZE, folder_dataset, print_where, run_flags
from course.cli import CommandLine, csv_list
from course.engine.config import RunConfig, dataset_label
from course.engine.errors import ConfigError
from course.engine.files import atomic_write_csv, atomic_write_text
from course.engine.progress import hms

MODELS = "vgg16_keras,vgg16_gap,mobilenet_v2"
# 文章的设置:Adam(1e-4)、batch 32、validation_split=0.2、seed=123;轮数和尺寸为 CPU 缩小
LR, BATCH_SIZE, VALIDATION_SPLIT, SPLIT_SEED = 1e-4, 32, 0.2, 123
IMAGE_SIZE, EPOCHS = 32, 3
COLUMNS = ["model", "params", "trainable", "flops", "params_vs_base", "flops_vs_base",
           "ms_per_image_b1", "ms_per_image_b16", "best_val_acc", "best_epoch", "final_val_acc",
           "epochs_run", "train_seconds", "diverged", "run_dir"]


def command_line() -> CommandLine:
    """What is compared, how it is timed, where and how."""
    cl = CommandLine(__doc__)
    group = cl.settings("what is compared", RunConfig, "image_size", "epochs", "batch_size", "lr",
                        "validation_split", "split_seed", image_size=IMAGE_SIZE, epochs=EPOCHS,
                        batch_size=BATCH_SIZE, lr=LR, validation_split=VALIDATION_SPLIT,
                        split_seed=SPLIT_SEED)
    cl.settings("what is compared", RunConfig, "defaults", defaults="keras")   # the article's tf.keras Adam
    group.add_argument("--data", default=DEMO_DATA, help="class-per-folder image tree (or train/ val/ test/)")
    group.add_argument("--models", type=csv_list(str), default=MODELS,
                       help="models to compare; the first is the baseline of the 'vs' columns")
    group = cl.parser.add_argument_group("timing (always on the CPU)")
    group.add_argument("--timing-batches", type=csv_list(int), default="1,16",
                       help="batch sizes of the timed forward passes")
    group.add_argument("--repeats", type=int, default=5, help="timed passes per batch size (the median is kept)")
    cl.settings("where and how", RunConfig, "seed", "device", "amp", "num_workers")
    run_flags(cl, "progress", "dry_run")
    return cl


def count_classes(dataset: str) -> int:
    """Number of classes of a 'folder:PATH' dataset (the class folders of its training part)."""
    from data.folders import detect_layout, find_classes

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
    """The lightening table as Markdown: size, speed and accuracy of each model against the first."""
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
    """Train each model briefly, time it on the CPU, and write the lightening table."""
    from course.engine.experiment import run_experiment

    cl = command_line()
    args = cl.parse(argv, dry_run={"image_size": DRY_RUN_IMAGE_SIZE, "repeats": 2})
    repeats, warm = args.repeats, "after 2 warm-up passes"
    if repeats < 1 or not args.timing_batches or min(args.timing_batches) < 1:
        raise ConfigError("--repeats and every --timing-batches size must be >= 1")
    if not args.models:
        raise ConfigError("--models: name at least one model")
    dataset = folder_dataset(args.data)
    # 每个模型一个普通的运行目录:LOGDIR/<数据>-<模型>/adam-lr0.0001-seed0
    # (stop_at_chance off: a light model that starts slowly is what this table is about)
    configs = [cl.config(args, dataset=dataset, model=name, optimizer="adam", stop_at_chance=False)
               for name in args.models]
    num_classes = count_classes(dataset)
    print(f"{len(args.models)} models ({', '.join(args.models)}) on {dataset} ({num_classes} classes), "
          f"{args.image_size}x{args.image_size}, Adam {args.lr:g}, batch {args.batch_size}, "
          f"{args.epochs} epochs each", flush=True)
    rows, run_dirs = [], []
    for name, config in zip(args.models, configs):
        run_dir = Path(args.logdir) / config.group_name() / config.run_name()
        print(f"[{name}] training -> {run_dir}", flush=True)
        result = run_experiment(config, run_dir, progress=args.progress)
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

