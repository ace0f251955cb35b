"""What the chapter scripts share: demo data, ImageNet weights, the ending.

Each chapter script (``course/filmstar_transfer.py``, ``gym_optimizers.py``,
``reduce_lr_article.py``, ``lighten_vgg16.py``) reproduces one source article with the engine
(``Sweep``, ``run_sweep``, ``write_report``). What they have in common lives here, so that a
chapter script reads as the article's settings and little else:

- ``folder_dataset``: ``--data PATH`` as a ``folder:`` dataset; a dry run copies a few images
  per class, so it takes seconds whatever the tree's size.
- ``resolve_pretrained``: ``--pretrained imagenet`` checked before any training starts;
  ``image_chapter_inputs`` does the dry run, the folder and the weights of an image chapter.
- ``add_run_flags``, ``run_and_report``, ``print_where``: the common flags and the ending (the
  table, the plots and the VisualDL command).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from course.errors import ConfigError
from course.sweep import Sweep
from data.errors import DataError
from models.errors import ModelError

DEMO_DATA = "demo_images/digits"                 # what scripts/export_demo_images.py writes by default
EXPORT_COMMAND = "python scripts/export_demo_images.py --out demo_images"
DRY_RUN_PER_CLASS = 8                            # images per class (per split folder) in a dry run
DRY_RUN_IMAGE_SIZE = 32
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def pick_arms(arms: list[dict], wanted: list[str] | None, base) -> list[dict]:
    """The arms named in ``wanted`` (by their report name, e.g. 'adam+plateau'), in article order."""
    names = [base.replace(**{k: v for k, v in a.items() if k != "lr"}).arm() for a in arms]
    if not wanted:
        return arms
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigError(f"--optimizers: unknown arm(s) {', '.join(unknown)}; "
                          f"this article's are {', '.join(names)}")
    return [arm for arm, name in zip(arms, names) if name in wanted]


# --- data ------------------------------------------------------------------------------------

def folder_dataset(path: str, dry_run: bool = False, workdir=None) -> str:
    """The ``folder:`` dataset spec for ``--data PATH`` (one sub-folder per class, or train/val/test).

    A missing default demo folder says how to export it. With ``dry_run`` the spec points at a
    copy of the first ``DRY_RUN_PER_CLASS`` images of every class (of every split folder) made
    under ``workdir``, with the same folder name so the run directories are named alike.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        hint = f"; make the demo digits first: {EXPORT_COMMAND}" if path == DEMO_DATA else \
            "; expected a folder with one sub-folder of images per class"
        raise DataError(f"--data: {root} is not a folder{hint}")
    if dry_run:
        root = sample_tree(root, Path(workdir) / "data" / root.name, DRY_RUN_PER_CLASS)
    return f"folder:{root}"


def sample_tree(src, dest, per_class: int) -> Path:
    """Copy the first ``per_class`` images (sorted by path) of every class folder of ``src``.

    Works for both layouts of ``data.image_folder``: ``src/<class>/`` and
    ``src/{train,val,test}/<class>/``. ``dest`` is replaced whole, through a temporary folder.
    """
    from data.image_folder import detect_layout

    src, dest = Path(src), Path(dest)
    layout, folders = detect_layout(str(src))
    parts = [Path(f) for f in folders.values()] if layout == "split" else [src]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        for part in parts:
            for class_dir in sorted(p for p in part.iterdir() if p.is_dir() and not p.name.startswith(".")):
                images = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
                for image in images[:per_class]:
                    target = tmp / image.relative_to(src)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(image, target)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def prefetch_mnist(config) -> None:
    """Load (and if needed fetch) MNIST once here, not in every worker process at the same time."""
    kind, _, path = config.dataset.partition(":")
    if kind == "mnist":
        from data.mnist import load_mnist

        load_mnist(path=path or None, cache_dir=config.data_cache or None)


# --- ImageNet weights ------------------------------------------------------------------------

def resolve_pretrained(model_name: str, spec: str, dry_run: bool = False,
                       allow_download: bool = True) -> str:
    """RunConfig.pretrained for ``--pretrained SPEC``: 'imagenet', a .pdparams path, or 'none'.

    Checked before training, so a missing file stops the command at once (ModelError: one line,
    exit 2) instead of failing in every run. The articles start from ImageNet weights and no
    learner should mistake a random backbone's accuracy for theirs, so a real run never falls
    back silently: it asks for the file or for an explicit ``--pretrained none``. A dry run only
    checks the pipeline, so there it prints a note and goes on without them.
    """
    text = (spec or "").strip()
    if text.lower() in ("", "none"):
        return ""
    if text != "imagenet":
        path = Path(text).expanduser()
        if path.is_file():
            return str(path)
        error = ModelError(f"--pretrained: weights file {path} does not exist")
    else:
        import paddle

        from models import build_model
        from models.pretrained import imagenet_weights_path

        with paddle.LazyGuard():   # only the model's name matters here: allocate nothing
            model = build_model(model_name, num_classes=2)
        try:
            imagenet_weights_path(model, allow_download)
            return "imagenet"
        except ModelError as err:
            error = err
    if dry_run:
        print(f"note: {error}\nnote: the dry run goes on with random weights (--pretrained none)")
        return ""
    raise ModelError(f"{error}; or pass --pretrained none to start from random weights "
                     "(expect far lower accuracy than the article's)")


# --- flags and the ending --------------------------------------------------------------------

def add_run_flags(parser, dry_run_help: str, jobs: bool = True, seeds: str = "0"):
    """The flags every chapter has: --seeds, --logdir, --jobs, --device, --no-progress, --dry-run."""
    from course.cli import csv_list

    g = parser.add_argument_group("where and how")
    g.add_argument("--seeds", type=csv_list(int), default=seeds,
                   help="comma-separated seeds (several give mean ± std in the table)")
    g.add_argument("--logdir", default="runs", help="root directory of all runs")
    if jobs:
        g.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="runs trained at once, each in its own process")
        g.add_argument("--report-only", action="store_true",
                       help="only (re)write the table and plots from finished runs")
    g.add_argument("--device", default="auto", help="auto, cpu, gpu or gpu:N")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--dry-run", action="store_true", help=dry_run_help)
    return g


def dry_run_logdir(args) -> Path:
    """Dry runs go to LOGDIR/dry-run, apart from real results."""
    return Path(args.logdir) / "dry-run"


def run_and_report(sweep: Sweep, args, title: str, what: str = "", summary=None) -> dict:
    """Run the sweep's unfinished runs, write its table and plots, print where they are.

    ``summary(runs)``, if given, returns lines printed above the table; ``runs`` are this
    sweep's finished runs (result plus ``history``), in grid order. Returns ``write_report``'s
    paths plus ``runs``.
    """
    from course.report import load_runs, write_report
    from course.sweep import run_sweep

    cells = sweep.runs()
    if not getattr(args, "report_only", False):
        prefetch_mnist(sweep.base)
        jobs = min(getattr(args, "jobs", 1), len(cells))
        print(f"{len(cells)} runs ({', '.join(sweep.optimizers)}) of {sweep.base.model} on "
              f"{sweep.base.dataset}{', ' + what if what else ''}, {jobs} at a time -> {sweep.root}",
              flush=True)
        run_sweep(sweep, jobs=jobs, progress=not args.no_progress)
    paths = write_report(sweep.root, sweep.optimizers, title=title)
    by_name = {run["run"]: run for run in load_runs(sweep.root)}
    paths["runs"] = [by_name[c.run_name()] for c, _ in cells if c.run_name() in by_name]
    print()
    for line in (summary(paths["runs"]) if summary else []):
        print(line)
    print(paths["table"])
    print_where(paths["table_md"], paths["table_csv"], [paths["curves"], paths["lr_sensitivity"]],
                [sweep.root])
    return paths


def print_where(table_md, table_csv, plots, vdl_dirs) -> None:
    """The closing lines of every chapter: where the table and plots are, how to open VisualDL."""
    print(f"table:  {table_md}  (CSV: {Path(table_csv).name})")
    if plots:
        print("plots:  " + "  ".join(str(p) for p in plots))
    print(f"VisualDL: visualdl --logdir {' '.join(str(d) for d in vdl_dirs)} --host 127.0.0.1 "
          "--port 8040   then open http://127.0.0.1:8040")


def image_chapter_inputs(args, model: str) -> tuple[str, str, str]:
    """An image chapter's dry-run settings, folder dataset and weights, from its parsed flags.

    Returns (dataset spec, pretrained spec, weights as the printout names them); with
    ``--dry-run`` it first shrinks the run (32x32, 1 epoch, one seed, under LOGDIR/dry-run).
    """
    if args.dry_run:
        args.logdir = str(dry_run_logdir(args))
        args.image_size, args.epochs, args.seeds = DRY_RUN_IMAGE_SIZE, 1, args.seeds[:1]
    dataset = folder_dataset(args.data, args.dry_run, args.logdir)
    pretrained = resolve_pretrained(model, args.pretrained, args.dry_run)
    weights = "ImageNet" if pretrained == "imagenet" else pretrained or "random (no pretrained weights)"
    return dataset, pretrained, weights
