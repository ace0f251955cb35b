"""What the chapters share: the flags of a sweep chapter, an image chapter's data and weights,
and the ending of every sweep (table, plots, the VisualDL command).

A chapter module reads as its section or article: its settings, the code it teaches, and one call
into the engine. What they have in common lives here:

- ``sweep_flags``: --seeds, --logdir, --device, --amp, --num-workers, --fast-kernels and the Launch flags (--jobs,
  --progress, ...).
- ``image_inputs``: ``--data PATH`` as a ``folder:`` dataset (a dry run reads it all and trains
  on a few hundred of its images) and ``--pretrained`` checked before any training starts.
- ``run_and_report``, ``print_where``: run the sweep, write and print its table and plots, say how
  to open VisualDL.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from course.cli import Launch
from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.sweep.grid import Sweep
from data.errors import DataError
from models.errors import ModelError

DEMO_DATA = "demo_images/digits"                 # what scripts/export_demo_images.py writes by default
EXPORT_COMMAND = "python scripts/export_demo_images.py --out demo_images"
DRY_RUN_IMAGE_SIZE = 32
VISUALDL_HOST, VISUALDL_PORT = "127.0.0.1", 8040   # loopback: the runs are not served to the network


def sweep_flags(cl, seeds=None, jobs: bool = True) -> None:
    """The flags every sweep chapter has: --seeds, --logdir, where and in what precision the runs
    compute, and how the command runs."""
    cl.settings("where and how", Sweep, "seeds", "logdir", **({"seeds": seeds} if seeds else {}))
    cl.settings("where and how", RunConfig, "device", "amp", "num_workers", "fast_kernels")
    launch = ("jobs", "report_only", "resume", "overwrite") if jobs else ()
    cl.settings("where and how", Launch, *launch, "progress", "quiet", "dry_run")
    if jobs:   # many machines: course/sweep/ray_cluster.py
        cl.settings("many machines (Ray)", Launch, "backend", "address", "cpus_per_run", "gpus_per_run")


def run_flags(cl, *launch: str) -> None:
    """The flags of a chapter that is not a sweep: --logdir and the Launch flags named in ``launch``."""
    cl.settings("where and how", Sweep, "logdir")
    cl.settings("where and how", Launch, *launch)


def pick_arms(arms: list[dict], wanted: list[str] | None, base) -> list[dict]:
    """The arms named in ``wanted`` (by their report name, e.g. 'adam+plateau'), in article order."""
    names = [base.replace(**{k: v for k, v in a.items() if k != "lr"}).optimizer_variant() for a in arms]
    if not wanted:
        return arms
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigError(f"--optimizers: unknown optimizer variant(s) {', '.join(unknown)}; "
                          f"the choices are {', '.join(names)}")
    return [arm for arm, name in zip(arms, names) if name in wanted]


# --- an image chapter's data and weights ----------------------------------------------------------
def image_inputs(args, model: str) -> tuple[str, str, str]:
    """An image chapter's folder dataset and weights, from its parsed flags.

    Returns (dataset spec, pretrained spec, the weights as the printout names them).
    """
    dataset = folder_dataset(args.data)
    pretrained = resolve_pretrained(model, args.pretrained, args.dry_run)
    weights = "ImageNet" if pretrained == "imagenet" else pretrained or "random (no pretrained weights)"
    return dataset, pretrained, weights


def folder_dataset(path: str) -> str:
    """The ``folder:`` dataset spec for ``--data PATH`` (one sub-folder per class, or train/val/test).

    A missing default demo folder says how to export it. A dry run reads this same folder (every
    image checked, a few hundred trained on: ``course.cli.CommandLine.config``), so its messages
    name the user's files.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        hint = f"; make the demo digits first: {EXPORT_COMMAND}" if path == DEMO_DATA else \
            "; expected a folder with one sub-folder of images per class"
        raise DataError(f"--data: {root} is not a folder{hint}")
    return f"folder:{root}"


def resolve_pretrained(model_name: str, spec: str, dry_run: bool = False,
                       allow_download: bool = True) -> str:
    """RunConfig.pretrained for ``--pretrained SPEC``: 'imagenet', a .pdparams path, or 'none'.

    Checked before training, so a missing file stops the command at once (ModelError: one line,
    exit 2) instead of failing in every run. The articles start from ImageNet weights and no
    learner should mistake a random backbone's accuracy for theirs, so a real run never falls
    back silently: it asks for the file or for an explicit ``--pretrained none``. A file the
    user names must exist in a dry run too; ImageNet weights that cannot be fetched (no network)
    are the one thing a dry run goes on without, with a note.
    """
    text = (spec or "").strip()
    if text.lower() in ("", "none"):
        return ""
    if text != "imagenet":
        path = Path(text).expanduser()
        if path.is_file():
            return str(path)
        raise ModelError(f"--pretrained: weights file {path} does not exist; or pass --pretrained "
                         "none to start from random weights (expect far lower accuracy than the "
                         "article's)")
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


# --- the ending of every sweep chapter ------------------------------------------------------------
def run_and_report(sweep: Sweep, args, title: str, what: str = "", summary=None) -> dict:
    """Run the sweep's unfinished runs (then, with ``sweep.confirm_best``, the confirmation's:
    ``course.sweep.confirm``), write its table and plots, print where they are.

    ``summary(runs)``, if given, returns lines printed above the table; ``runs`` are this
    sweep's finished runs (result plus ``history``), in grid order, the confirmation's after them.
    Returns ``write_report``'s paths plus ``runs`` and ``confirmation``.
    """
    from course.sweep.confirm import confirm_best
    from course.sweep.report import load_runs, write_report
    from course.sweep.ray_cluster import ray_cluster
    from course.sweep.runner import check_existing, run_sweep
    from course.sweep.spread import spread_section

    cells = sweep.runs()
    cluster = ray_cluster(*(getattr(args, name, Launch.__dataclass_fields__[name].default)
                            for name in ("backend", "address", "cpus_per_run", "gpus_per_run")))
    options = dict(jobs=args.jobs, progress=args.progress, resume=args.resume, overwrite=args.overwrite,
                   quiet=args.quiet, cluster=cluster)
    if args.report_only:
        check_existing(cells)   # a table of runs trained with other settings would mislead
    else:
        run_sweep(sweep, what=what, **options)
    names = [config.run_name() for config, _ in cells]
    confirmation = confirm_best(sweep, train=not args.report_only, **options) if sweep.confirm_best else {}
    names += confirmation.get("names", [])
    # Several seeds show which cells another machine will not repeat (docs/results.md).
    spread = (spread_section(load_runs(sweep.root, names)) if len(sweep.seeds) > 1
              else {"markdown": "", "line": ""})
    paths = write_report(sweep.root, sweep.optimizers, title=title, names=names,
                         target_acc=sweep.base.target_acc,
                         sections=confirmation.get("markdown", "") + "\n" + spread["markdown"])
    by_name = {run["run"]: run for run in load_runs(sweep.root, names)}
    paths["runs"] = [by_name[name] for name in names if name in by_name]
    paths["confirmation"] = confirmation
    if not args.quiet:   # --quiet: the table, nothing else
        print()
        for line in (summary(paths["runs"]) if summary else []):
            print(line)
    print(paths["table"])
    if confirmation:
        print(confirmation["markdown"])
    if spread["line"]:
        print(spread["line"])
    if not args.quiet:
        print_where(paths["table_md"], paths["table_csv"],
                    [paths["curves"], paths["lr_sensitivity"], paths["heatmap"]], [sweep.root])
    return paths


def print_where(table_md, table_csv, plots, vdl_dirs) -> None:
    """The closing lines of every chapter: where the table and plots are, how to open VisualDL."""
    print(f"table:  {table_md}  (CSV: {Path(table_csv).name})")
    if plots:
        print("plots:  " + "  ".join(str(p) for p in plots))
    command, address = visualdl_lines(vdl_dirs)
    # Each on a line of its own, nothing after it: a learner pastes the command line whole (its
    # words are all VisualDL's arguments) and opens the address; prose on either line would be
    # pasted with it ("unrecognized arguments").
    print("VisualDL: start it with the next line, then open the address below it in a browser")
    print(command)
    print(address)


def visualdl_lines(vdl_dirs) -> tuple[str, str]:
    """(the shell command that serves ``vdl_dirs`` in VisualDL, the address of its Scalars page).

    Printed rather than started for the learner: the sweep ends and hands back the terminal, and
    on a remote machine (AI Studio, a server over ssh) a browser opened here would open in the
    wrong place; VisualDL's own ``open_browser`` is not on its command line either.
    """
    # --language en: without it VisualDL 2.5.3 answers HTTP 500 to every browser (and curl)
    # that asks for neither English nor Chinese -- it sets its language cookie to None, which
    # every werkzeug version refuses -- so the page would not open in, say, a German browser.
    # The sweep's own folder, not the whole --logdir: runs are shown by their short names
    # ('adam lr=0.01', unique within a sweep), and VisualDL lists two runs of one name as one.
    # The Scalars page's own address: VisualDL's front page goes to the first page its data
    # has answered for at that moment, and while a sweep's records load that is mostly the
    # HParams or the empty Graphs page (11 of 12 starts on a 15-run sweep).
    command = [visualdl_command(), "--logdir", *(str(d) for d in vdl_dirs),
               "--host", VISUALDL_HOST, "--port", str(VISUALDL_PORT), "--language", "en"]
    return shlex.join(command), f"http://{VISUALDL_HOST}:{VISUALDL_PORT}/app/scalar"


def visualdl_command() -> str:
    """``visualdl`` as it can be run from here: the one beside this Python (a venv's bin/ is not
    on PATH unless the venv is activated), relative to the working directory when inside it."""
    beside = Path(sys.executable).with_name("visualdl")
    if not beside.is_file():
        return "visualdl"
    relative = os.path.relpath(beside)
    return relative if not relative.startswith("..") else str(beside)
