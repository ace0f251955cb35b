"""What a new user gets wrong, tried on every entry point: each mistake is one line on stderr that
names the flag, file or field and what was expected, exit code 2, no traceback, and no new file or
folder anywhere under the test's folder (nothing half-made to trip over on the next try).

Every case runs in this process through ``run_main`` (what each script's ``__main__`` calls), so
Paddle is imported once and the whole matrix takes seconds.
"""
import errno
import importlib.util
import sys
from pathlib import Path

import pytest

from course.chapters import (article_filmstar_transfer, article_gym_optimizers, article_lighten_vgg16,
                             article_reduce_lr, ch4_optimizers, ch5_devices)
from course.cli import run_main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"


def script(name):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


MAINS = {"sweep": ch4_optimizers.main, "gym": article_gym_optimizers.main,
         "filmstar": article_filmstar_transfer.main, "reduce_lr": article_reduce_lr.main,
         "lighten": article_lighten_vgg16.main, "ch5": ch5_devices.main,
         **{name: script(name) for name in ("lr_find", "train_distributed", "export_model", "predict",
                                            "prepare_mnist", "export_demo_images")}}
MNIST = ["--dataset", f"mnist:{FIXTURE}", "--subset", "500"]
# {tmp}: the test's own folder; {digits}, {split}: real digit folders; {file}, {empty}, {one},
# {hollow}: a file, an empty folder, a folder of one class, a class folder without images.
CASES = [
    # --- the main sweep: the grid ------------------------------------------------------------
    ("sweep", [*MNIST, "--optimizers", "adamm"], "--optimizers: unknown optimizer 'adamm'; choose from"),
    ("sweep", [*MNIST, "--optimizers", ","], "needs at least one optimizer"),
    ("sweep", [*MNIST, "--optimizers", "adam,ADAM"], "an optimizer repeats in the sweep"),
    ("sweep", [*MNIST, "--lrs", "0"], "--lr: must be > 0, got 0"),
    ("sweep", [*MNIST, "--lrs", "0.1,-1"], "--lr: must be > 0, got -1"),
    ("sweep", [*MNIST, "--lrs", "inf"], "--lr: expected a finite number, got inf"),
    ("sweep", [*MNIST, "--lrs", "nan"], "--lr: expected a finite number, got nan"),
    ("sweep", [*MNIST, "--lrs", "fast"], "argument --lrs: expected a comma-separated list of float"),
    ("sweep", [*MNIST, "--seeds", "one"], "argument --seeds: expected a comma-separated list of int"),
    ("sweep", [*MNIST, "--seeds", ","], "one seed"),
    # --- the main sweep: data and model ------------------------------------------------------
    ("sweep", [*MNIST, "--subset", "-5"], "--subset: must be >= 0, got -5"),
    ("sweep", [*MNIST, "--subset", "999999"], "--subset: 999,999 is more than the 6,000 training images"),
    ("sweep", [*MNIST, "--val-subset", "-1"], "--val-subset: must be >= 0"),
    ("sweep", [*MNIST, "--val-subset", "5000"], "--val-subset: 5,000 is more than the 1,000 validation"),
    ("sweep", [*MNIST, "--subset", "lots"], "argument --subset: invalid int value: 'lots'"),
    ("sweep", [*MNIST, "--image-size", "-1"], "--image-size: must be >= 0"),
    ("sweep", [*MNIST, "--validation-split", "1.5"], "--validation-split: must be a fraction in (0, 1)"),
    ("sweep", [*MNIST, "--validation-split", "0"], "--validation-split: must be a fraction in (0, 1)"),
    ("sweep", [*MNIST, "--split-seed", "x"], "argument --split-seed: invalid int value"),
    ("sweep", [*MNIST, "--augment", "wild"], "--augment: unknown preset 'wild'; choose one of"),
    ("sweep", [*MNIST, "--model", "resnet"], "--model: unknown model 'resnet'; choices:"),
    ("sweep", [*MNIST, "--model", "mobilenet_v2"], "--model: 'mobilenet_v2' is an image model"),
    ("sweep", ["--dataset", "folder:", "--model", "mobilenet_v2"], "--dataset: 'folder:' needs a path"),
    ("sweep", ["--dataset", "imagenet"], "--dataset: unknown dataset 'imagenet'"),
    ("sweep", ["--dataset", "mnist:{tmp}/nope.json.gz"], "nope.json.gz: no such file"),
    ("sweep", ["--dataset", "mnist:{file}"], "{file}"),
    ("sweep", ["--dataset", "folder:{tmp}/nope", "--model", "mobilenet_v2"], "nope does not exist"),
    ("sweep", ["--dataset", "folder:{file}", "--model", "mobilenet_v2"], "is not a folder"),
    ("sweep", ["--dataset", "folder:{empty}", "--model", "mobilenet_v2"], "has no class sub-folders"),
    ("sweep", ["--dataset", "folder:{one}", "--model", "mobilenet_v2"], "has only one class folder (a)"),
    ("sweep", ["--dataset", "folder:{hollow}", "--model", "mobilenet_v2"], "has no images"),
    ("sweep", ["--dataset", "folder:{digits}", "--model", "lenet"], "--model: 'lenet' is one of the course's MNIST nets"),
    ("sweep", [*MNIST, "--pretrained", "{tmp}/nope.pdparams"], "--pretrained: no weights file"),
    # --- the main sweep: training ------------------------------------------------------------
    ("sweep", [*MNIST, "--epochs", "0"], "--epochs: must be >= 1, got 0"),
    ("sweep", [*MNIST, "--epochs", "five"], "argument --epochs: invalid int value: 'five'"),
    ("sweep", [*MNIST, "--batch-size", "0"], "--batch-size: must be >= 1, got 0"),
    ("sweep", [*MNIST, "--weight-decay", "-0.1"], "--weight-decay: must be >= 0"),
    ("sweep", [*MNIST, "--weight-decay", "inf"], "--weight-decay: expected a finite number"),
    ("sweep", [*MNIST, "--schedule", "cosinus"], "--schedule: unknown schedule 'cosinus'; choose one of"),
    ("sweep", [*MNIST, "--schedule", "exponential", "--schedule-args", "decay_step=5"],
     "unknown argument(s) decay_step; valid: decay_steps"),
    ("sweep", [*MNIST, "--schedule-args", "fast"], "argument --schedule-args: expected key=value pairs"),
    ("sweep", [*MNIST, "--schedule", "step", "--schedule-args", "gamma=1.5"], "gamma must be a finite number in"),
    ("sweep", [*MNIST, "--schedule", "warmup", "--schedule-args", "after=step"], "after='step' cannot follow"),
    ("sweep", [*MNIST, "--early-stop", "patiense=2"], "--early-stop: unknown key 'patiense'; valid keys:"),
    ("sweep", [*MNIST, "--early-stop", "monitor=nope"], "monitor 'nope' is not a metric the trainer logs"),
    ("sweep", [*MNIST, "--early-stop", "patience=two"], "patience must be an integer, got 'two'"),
    ("sweep", [*MNIST, "--early-stop", "restore_best_weights=maybe"], "true or false, got 'maybe'"),
    ("sweep", [*MNIST, "--reduce-lr-on-plateau", "factor=2"], "factor must be in (0, 1)"),
    ("sweep", [*MNIST, "--reduce-lr-on-plateau", "monitor=val_f1"], "monitor 'val_f1' is not a metric"),
    ("sweep", [*MNIST, "--reduce-lr-on-plateau", "cooldown=-1"], "cooldown must be an integer >= 0"),
    ("sweep", [*MNIST, "--reduce-lr-on-plateau", "factor=0.5", "--schedule", "cosine"],
     "--reduce-lr-on-plateau sets the rate itself, but --schedule cosine drives it too"),
    ("sweep", [*MNIST, "--checkpoint", "bestest"], "--checkpoint: unknown preset 'bestest'"),
    ("sweep", [*MNIST, "--checkpoint", "monitor=val_acc"], "--checkpoint: give a path=... or a preset"),
    ("sweep", [*MNIST, "--checkpoint", "path=x-{{epoc"], "--checkpoint"),
    ("sweep", [*MNIST, "--target-acc", "2"], "--target-acc: must be an accuracy in (0, 1], got 2.0"),
    ("sweep", [*MNIST, "--target-acc", "0"], "--target-acc: must be an accuracy in (0, 1]"),
    ("sweep", [*MNIST, "--log-every-n-steps", "-1"], "--log-every-n-steps: must be >= 0, got -1"),
    ("sweep", [*MNIST, "--no-stop-at-chance", "--stop-at-chance=1"], "ignored explicit argument"),
    # --- the main sweep: where and how -------------------------------------------------------
    ("sweep", [*MNIST, "--device", "tpu"], "--device: unknown device 'tpu'; choose from"),
    ("sweep", [*MNIST, "--device", "gpu:x"], "--device: unknown device 'gpu:x'"),
    ("sweep", [*MNIST, "--device", "gpu:0"], "--device gpu:0: this Paddle is the CPU-only build"),
    ("sweep", [*MNIST, "--jobs", "0"], "--jobs: must be >= 1, got 0"),
    ("sweep", [*MNIST, "--jobs", "many"], "--jobs: expected 'auto' or a number of runs at once, got 'many'"),
    ("sweep", [*MNIST, "--jobs", "-2"], "--jobs: must be >= 1, got -2"),
    ("sweep", [*MNIST, "--amp", "fp16"], "--amp fp16: float16 needs a GPU"),
    ("sweep", [*MNIST, "--amp", "fp8"], "--amp: unknown precision 'fp8'; choose one of auto, off, fp16, bf16"),
    ("sweep", [*MNIST, "--num-workers", "-2"], "--num-workers: must be >= -1, got -2"),
    ("gym", ["--data", "{split}", "--pretrained", "none", "--amp", "fp16"], "--amp fp16: float16 needs a GPU"),
    ("sweep", [*MNIST, "--backend", "spark"], "--backend: unknown backend 'spark'; choose local or ray"),
    ("sweep", [*MNIST, "--address", "10.0.0.1:6379"], "--address: only with --backend ray"),
    ("sweep", [*MNIST, "--logdir", "{file}"], "--logdir: {file} is a file, not a folder"),
    ("sweep", [*MNIST, "--logdir", "/proc/lab"], "--logdir: cannot create folders in /proc"),
    ("sweep", [*MNIST, "--logdir", "/sys/lab"], "--logdir: cannot create folders in /sys"),
    ("sweep", [*MNIST, "--epoch", "3"], "unrecognized arguments: --epoch 3"),
    # --- the articles --------------------------------------------------------------------------
    ("gym", ["--data", "{tmp}/nope", "--pretrained", "none"], "--data: {tmp}/nope is not a folder"),
    ("gym", ["--data", "{split}", "--pretrained", "none", "--optimizers", "adam"], "--optimizers: unknown optimizer variant(s) adam"),
    ("gym", ["--data", "{split}", "--pretrained", "{tmp}/w.pdparams"], "--pretrained: weights file {tmp}/w.pdparams"),
    ("gym", ["--data", "{split}", "--pretrained", "none", "--image-size", "-3"], "--image-size: must be >= 0"),
    ("gym", ["--data", "{split}", "--pretrained", "none", "--augment", "wild"], "--augment: unknown preset"),
    ("gym", ["--data", "{split}", "--pretrained", "none", "--early-stop", "monitor=loss_val"], "monitor 'loss_val'"),
    ("filmstar", ["--data", "{file}", "--pretrained", "none"], "--data: {file} is not a folder"),
    ("filmstar", ["--data", "{digits}", "--pretrained", "none", "--validation-split", "2"], "--validation-split"),
    ("filmstar", ["--data", "{digits}", "--pretrained", "none", "--batch-size", "-1"], "--batch-size: must be >= 1"),
    ("filmstar", ["--data", "{one}", "--pretrained", "none"], "has only one class folder"),
    ("reduce_lr", [*MNIST, "--lr", "0"], "--lr: must be > 0"),
    ("reduce_lr", [*MNIST, "--reduce-lr-on-plateau", "factor=5"], "factor must be in (0, 1)"),
    ("reduce_lr", ["--dataset", "mnist:{tmp}/nope.npz"], "nope.npz: no such file"),
    ("reduce_lr", [*MNIST, "--seeds", "7,x"], "argument --seeds"),
    ("lighten", ["--data", "{digits}", "--models", "nope"], "--model: unknown model 'nope'"),
    ("lighten", ["--data", "{digits}", "--models", "lenet"], "--model: 'lenet' is one of the course's MNIST nets"),
    ("lighten", ["--data", "{digits}", "--repeats", "0"], "--repeats and every --timing-batches size must be >= 1"),
    ("lighten", ["--data", "{digits}", "--timing-batches", "0"], "--timing-batches"),
    ("lighten", ["--data", "{hollow}"], "has no images"),
    # --- the tools ------------------------------------------------------------------------------
    ("lr_find", [*MNIST, "--start-lr", "0"], "start_lr"),
    ("lr_find", [*MNIST, "--start-lr", "1", "--end-lr", "0.1"], "end_lr"),
    ("lr_find", [*MNIST, "--num-steps", "1"], "num_steps"),
    ("lr_find", [*MNIST, "--optimizer", "nope"], "--optimizer: unknown optimizer 'nope'"),
    ("lr_find", [*MNIST, "--model", "nope"], "--model: unknown model 'nope'"),
    ("lr_find", [*MNIST, "--batch-size", "0"], "--batch-size: must be >= 1"),
    ("train_distributed", [*MNIST, "--lr", "-1"], "--lr: must be > 0"),
    ("train_distributed", [*MNIST, "--batch-size", "0"], "--batch-size: must be >= 1"),
    ("train_distributed", [*MNIST, "--early-stop", "monitor=f1"], "monitor 'f1'"),
    ("export_model", [], "give a RUN_DIR to export"),
    ("export_model", ["{tmp}/nope"], "run directory {tmp}/nope does not exist"),
    ("export_model", ["{empty}"], "cannot read run config {empty}/config.json"),
    ("predict", [], "give one or more IMAGE files and --export PREFIX"),
    ("predict", ["x.png", "--export", "m", "--top-k", "0"], "--top-k: must be >= 1, got 0"),
    ("predict", ["x.png", "--export", "{tmp}/nope"], "no exported model at {tmp}/nope"),
    ("predict", ["x.png", "--top-k", "two"], "argument --top-k: invalid int value"),
    ("prepare_mnist", ["--from", "{tmp}/nope.json.gz", "--data-cache", "{tmp}/cache"], "nope.json.gz: no such file"),
    ("prepare_mnist", ["--from", "{tmp}", "--data-cache", "{tmp}/cache"], "is a directory"),
    ("export_demo_images", ["--source", "nope", "--out", "{tmp}/out"], "nope"),
    ("export_demo_images", ["--layout", "nope", "--out", "{tmp}/out"], "nope"),
    # --- values that were accepted without a word, or failed late --------------------------------
    ("sweep", [*MNIST, "--seeds", "-1"], "--seeds: a seed must be in [0, 2**32), got -1"),
    ("sweep", [*MNIST, "--seeds", "0,1,0"], "--seeds: the seed 0 is given twice; give each once"),
    ("sweep", [*MNIST, "--lrs", "0.1,0.01,0.10"], "--lrs: the learning rate 0.1 is given twice"),
    ("sweep", [*MNIST, "--early-stop", "min_delta=nan"], "min_delta must be a finite number >= 0, got nan"),
    ("sweep", [*MNIST, "--schedule", "polynomial", "--schedule-args", "power=inf"],
     "power must be a finite number in (0.0, inf), got inf"),
    ("sweep", [*MNIST, "--logdir", ""], "--logdir: give a folder ('' is no path"),
    ("sweep", [*MNIST, "--cpus-per-run", "-3"], "--cpus-per-run: must be >= 1, got -3"),
    ("sweep", [*MNIST, "--gpus-per-run", "-1"], "--gpus-per-run: must be >= 0"),
    ("sweep", [*MNIST, "--report-only"], "no finished runs to report"),
    ("sweep", [*MNIST, "--epochs", "0", "--dry-run"], "--epochs: must be >= 1, got 0"),
    ("sweep", [*MNIST, "--subset", "999999", "--dry-run"], "--subset: 999,999 is more than the 6,000"),
    ("sweep", [*MNIST, "--seeds", "3,3", "--dry-run"], "--seeds: the seed 3 is given twice"),
    ("sweep", [*MNIST, "--checkpoint", "path=/proc/lab/best"], "--checkpoint: cannot create folders in /proc"),
    ("sweep", ["--dataset", "folder:{digits}", "--model", "vgg16", "--image-size", "16"],
     "--image-size: this model's image_size must be an integer >= 32; got 16"),
    ("sweep", ["--dataset", "folder:{digits}", "--model", "mobilenet_v2", "--subset", "500"],
     "--subset: 500 is more than the 60 training images in"),
    ("gym", ["--data", "{split}", "--pretrained", "{tmp}/w.pdparams", "--dry-run"],
     "--pretrained: weights file {tmp}/w.pdparams does not exist"),
    ("lr_find", [*MNIST, "--batch-size", "100000"], "--batch-size: 100,000 is more than the 500 training images"),
    ("lr_find", [*MNIST, "--end-lr", "inf"], "end_lr must be a finite number, got inf"),
    ("lr_find", [*MNIST, "--seed", "-1"], "--seed: must be in [0, 2**32), got -1"),
    ("export_model", ["{file}"], "{file} is a file, not a run directory"),
    ("ch5", [*MNIST, "--processes", "0"], "--processes: must be >= 1, got 0"),
]


@pytest.fixture
def places(tmp_path, digits):
    """The paths the cases name, made before the test takes its snapshot of ``tmp_path``."""
    (tmp_path / "a.txt").write_text("not a folder")
    for folder in ("empty", "one/a", "hollow/a", "hollow/b"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "one" / "a" / "x.png").write_bytes(b"")
    (tmp_path / "hollow" / "a" / "notes.txt").write_text("no image")
    return {"tmp": tmp_path, "file": tmp_path / "a.txt", "empty": tmp_path / "empty",
            "one": tmp_path / "one", "hollow": tmp_path / "hollow", "digits": digits["single"],
            "split": digits["split"]}


def tree(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_the_matrix_is_as_large_as_promised():
    assert len(CASES) >= 80
    assert {entry for entry, _, _ in CASES} == set(MAINS)


@pytest.mark.parametrize("entry, argv, expected", CASES,
                         ids=[f"{e}:{' '.join(a[2:] if a[:1] == ['--dataset'] else a)}"[:70] for e, a, _ in CASES])
def test_a_user_mistake_is_one_line_and_leaves_nothing(entry, argv, expected, places, capsys, monkeypatch):
    one_line_and_nothing_left(entry, argv, expected, places, capsys, monkeypatch)


def one_line_and_nothing_left(entry, argv, expected, places, capsys, monkeypatch):
    monkeypatch.chdir(places["tmp"])
    monkeypatch.setenv("PADDLE_OPT_LAB_DATA", str(places["tmp"] / "data-root"))   # never the real cache
    argv = [a.format(**places) for a in argv]
    if entry in ("sweep", "gym", "filmstar", "reduce_lr", "lighten", "train_distributed", "ch5") \
            and "--logdir" not in argv:
        argv += ["--logdir", str(places["tmp"] / "runs"), "--no-progress"]
    before = tree(places["tmp"])
    try:
        code = run_main(MAINS[entry], argv)
    except SystemExit as stop:      # argparse's own errors exit from inside parse_args
        code = stop.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected.format(**places) in lines[0]
    assert "Traceback" not in err
    assert tree(places["tmp"]) == before, "a rejected command left files behind"


# --backend ray: the flags are checked before Ray is imported or started, the address before it
# is joined; a head that does not answer is one line within seconds, not Ray's minutes of retries.
RAY_CASES = [
    ("sweep", [*MNIST, "--backend", "ray", "--address", "nohost"], "--address: expected the Ray head as HOST:PORT"),
    ("sweep", [*MNIST, "--backend", "ray", "--address", "127.0.0.1:99999"], "--address: expected the Ray head"),
    ("sweep", [*MNIST, "--backend", "ray", "--address", "127.0.0.1:1"], "--address: no Ray head answers at 127.0.0.1:1"),
    ("sweep", [*MNIST, "--backend", "ray", "--cpus-per-run", "0"], "--cpus-per-run: must be >= 1, got 0"),
    ("sweep", [*MNIST, "--backend", "ray", "--gpus-per-run", "-0.5"], "--gpus-per-run: must be >= 0"),
    ("reduce_lr", [*MNIST, "--backend", "ray", "--address", "x:y"], "--address: expected the Ray head"),
]


@pytest.mark.parametrize("entry, argv, expected", RAY_CASES, ids=[" ".join(a[4:]) for _, a, _ in RAY_CASES])
def test_a_ray_mistake_is_one_line_and_leaves_nothing(entry, argv, expected, places, capsys, monkeypatch):
    if "no Ray head answers" in expected:     # only this one needs Ray: it tries to join
        pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")
    else:                                     # a flag's mistake is reported where Ray is missing too
        monkeypatch.setitem(sys.modules, "ray", None)
    one_line_and_nothing_left(entry, argv, expected, places, capsys, monkeypatch)


@pytest.mark.parametrize("entry, argv", [("sweep", MNIST), ("gym", ["--data", "{split}", "--pretrained", "none"])])
def test_backend_ray_without_ray_says_how_to_install_it(entry, argv, places, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)   # what `import ray` meets where Ray is not installed
    one_line_and_nothing_left(entry, [*argv, "--backend", "ray"], "--backend ray: Ray is not installed; "
                              "install it with: pip install -r requirements-ray.txt", places, capsys, monkeypatch)


def test_a_full_disk_is_one_line_that_says_finished_runs_are_intact(tmp_path, capsys, monkeypatch):
    """A write that finds the disk full (simulated: fsync raises ENOSPC) stops the sweep cleanly."""
    import course.engine.files as files

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    code = run_main(ch4_optimizers.main, [*MNIST, "--optimizers", "sgd", "--lrs", "0.1", "--epochs", "1",
                                          "--subset", "64", "--val-subset", "64", "--jobs", "1",
                                          "--logdir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "no space left on the device; the runs that finished are intact" in err
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"
