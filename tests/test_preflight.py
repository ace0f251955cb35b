"""Nothing a typo can break: the examples of a probe of bad inputs, each as a test.

Resource limits are tested by their refusal only (the cores and the free memory are made small
here), so no test ever starts many processes or allocates much. The rest checks that a mistake
is one line that leaves nothing behind, that a dry run rehearses the real command on the user's
own data, and that a failed start never blocks the corrected command.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from course.chapters import article_filmstar_transfer, ch4_optimizers, ch5_devices
from course.cli import run_main
from course.engine import preflight
from course.engine.config import RunConfig
from course.engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
QUIET = ["--no-progress", "--quiet", "--jobs", "1"]
ONE_RUN = ["--optimizers", "sgd", "--lrs", "0.1", "--epochs", "1"]


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory):
    """A valid 300-image mnist.json.gz and one whose labels are all one class."""
    from data.mnist.cache import read_splits_npz
    from data.mnist.json_io import write_mnist_json
    from data.mnist.splits import MnistSplits, Split, take_first

    folder = tmp_path_factory.mktemp("mnist-files")
    small = take_first(read_splits_npz(FIXTURE), {"train": 300, "val": 100, "test": 100})
    write_mnist_json(small, folder / "mnist300.json.gz")
    one = MnistSplits(*(Split(s.images, np.zeros_like(s.labels)) for s in small))
    write_mnist_json(one, folder / "oneclass.json.gz")
    return {"valid": folder / "mnist300.json.gz", "one_class": folder / "oneclass.json.gz"}


def run(main, argv, capsys, tmp_path, monkeypatch):
    """(exit code, stderr lines) of ``main(argv)`` run as its script runs it, in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PADDLE_OPT_LAB_DATA", str(tmp_path / "data-root"))
    try:
        code = run_main(main, argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.strip()]


def files(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --- limits where a value costs processes or memory ---------------------------------------------
def test_processes_above_the_cores_are_refused_before_any_starts(tmp_path, capsys, monkeypatch):
    import paddle.distributed as dist

    monkeypatch.setattr(preflight, "cores", lambda: 2)
    monkeypatch.setattr(dist, "spawn", lambda *a, **k: pytest.fail("processes were started"))
    code, err = run(ch5_devices.main, ["--dataset", f"mnist:{FIXTURE}", "--processes", "99",
                                       "--logdir", str(tmp_path / "runs")], capsys, tmp_path, monkeypatch)
    assert code == 2 and err == ["error: --processes: 99 processes is more than the 2 CPU core(s) "
                                 "here; use at most 2"]
    assert files(tmp_path) == set()


@pytest.mark.parametrize("flag, value, words", [("--jobs", "99", "99 runs at once"),
                                                ("--num-workers", "999", "999 loader processes")])
def test_workers_above_the_cores_are_refused_naming_the_number(flag, value, words, tmp_path, capsys,
                                                               monkeypatch, digits):
    import course.sweep.runner as runner

    monkeypatch.setattr(preflight, "cores", lambda: 2)
    monkeypatch.setattr(runner, "train_in_workers", lambda *a, **k: pytest.fail("workers started"))
    argv = ["--dataset", f"folder:{digits['single']}", "--model", "mobilenet_v2", *ONE_RUN, flag, value,
            "--logdir", str(tmp_path / "runs"), "--no-progress"]
    code, err = run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)
    assert code == 2 and err == [f"error: {flag}: {words} is more than the 2 CPU core(s) here; use at most 2"]
    assert files(tmp_path) == set()


def test_an_image_size_that_cannot_fit_in_memory_is_refused_with_the_estimate(tmp_path, capsys,
                                                                              monkeypatch, digits):
    monkeypatch.setattr(preflight, "free_memory", lambda: 8 * 2 ** 30)
    argv = ["--dataset", f"folder:{digits['single']}", "--model", "vgg16_gap", "--image-size", "100000",
            *ONE_RUN, "--logdir", str(tmp_path / "runs"), "--no-progress"]
    code, err = run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: --image-size 100000 with --batch-size 64: vgg16_gap needs at least ")
    assert "more than the 8.0 GB of memory free here" in err[0]
    assert files(tmp_path) == set()


def test_the_memory_estimate_follows_the_layer_shapes():
    """Activations grow with the image's area, parameters not (a pooled head); the estimate
    refuses a run only above the memory there is."""
    small = preflight._traced("vgg16_gap", "auto", False, (3, 32, 32))
    large = preflight._traced("vgg16_gap", "auto", False, (3, 64, 64))
    assert 3.8 < large / small < 4.2
    config = RunConfig(dataset="folder:x", model="vgg16_gap", image_size=64, batch_size=32)
    params = preflight._lazy_parameters("vgg16_gap", "auto", False, (3, 64, 64), "", None)
    need = 4 * (4 * params + 32 * large)
    preflight.check_memory(config, params, large, 32)                  # this machine: fits
    old = preflight.free_memory
    try:
        preflight.free_memory = lambda: need - 1
        with pytest.raises(ConfigError, match="--image-size 64 with --batch-size 32: vgg16_gap needs"):
            preflight.check_memory(config, params, large, 32)
        preflight.free_memory = lambda: need
        preflight.check_memory(config, params, large, 32)
    finally:
        preflight.free_memory = old


# --- everything a run checks, checked before its folder exists --------------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights file of the wrong shapes and one that is not a weights file at all."""
    import paddle

    folder = tmp_path_factory.mktemp("weights")
    paddle.save({"features.0.weight": paddle.zeros([1, 2])}, str(folder / "wrong.pdparams"))
    (folder / "corrupt.pdparams").write_bytes(b"not a state dict")
    return folder


@pytest.mark.slow   # trains the corrected command (MobileNetV2)
@pytest.mark.parametrize("name, expected", [("wrong", "does not fit ImageClassifier: matched 0 of"),
                                            ("corrupt", "cannot read weights file")])
def test_bad_weights_stop_the_sweep_before_any_folder_and_the_fix_runs(name, expected, weights, digits,
                                                                       tmp_path, capsys, monkeypatch):
    argv = ["--dataset", f"folder:{digits['single']}", "--model", "mobilenet_v2", *ONE_RUN,
            "--image-size", "32", "--subset", "20", "--val-subset", "10",
            "--logdir", str(tmp_path / "runs"), *QUIET]
    code, err = run(ch4_optimizers.main, [*argv, "--pretrained", str(weights / f"{name}.pdparams")],
                    capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --pretrained: ") and expected in err[0]
    assert files(tmp_path) == set()
    code, err = run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)   # the corrected command
    assert code == 0, err


@pytest.mark.slow   # tens of seconds: the slow tier runs it
def test_a_run_folder_of_a_start_that_failed_does_not_block_the_corrected_command(tmp_path, capsys,
                                                                                  monkeypatch):
    """A folder holding only a config.json (what a start that failed left) is no run."""
    argv = ["--dataset", f"mnist:{FIXTURE}", "--subset", "64", "--val-subset", "64", *ONE_RUN,
            "--logdir", str(tmp_path / "runs"), *QUIET]
    run_dir = tmp_path / "runs" / "mnist_mnist_small-lenet" / "sgd-lr0.1-seed0"
    run_dir.mkdir(parents=True)
    other = RunConfig(dataset=f"mnist:{FIXTURE}", subset=64, val_subset=64, lr=0.1, epochs=7)
    (run_dir / "config.json").write_text(json.dumps(other.to_dict()))
    code, err = run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)
    assert code == 0, err
    assert json.loads((run_dir / "config.json").read_text())["epochs"] == 1
    assert (run_dir / "result.json").is_file()


@pytest.mark.slow   # tens of seconds: the slow tier runs it
def test_a_finished_run_without_its_config_is_not_reused_with_other_settings(tmp_path, capsys, monkeypatch):
    argv = ["--dataset", f"mnist:{FIXTURE}", "--subset", "64", "--val-subset", "64", *ONE_RUN,
            "--logdir", str(tmp_path / "runs"), *QUIET]
    assert run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)[0] == 0
    run_dir = tmp_path / "runs" / "mnist_mnist_small-lenet" / "sgd-lr0.1-seed0"
    (run_dir / "config.json").unlink()
    code, err = run(ch4_optimizers.main, [*argv, "--batch-size", "32"], capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1 and "config.json missing" in err[0], err
    with pytest.raises(ConfigError, match="holds result.json but no config.json"):
        preflight.check_identity(RunConfig(dataset=f"mnist:{FIXTURE}"), run_dir)


def test_a_result_json_of_the_wrong_shape_is_one_line(tmp_path, capsys, monkeypatch):
    argv = ["--dataset", f"mnist:{FIXTURE}", "--subset", "64", "--val-subset", "64", *ONE_RUN,
            "--logdir", str(tmp_path / "runs"), *QUIET]
    assert run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)[0] == 0
    result = tmp_path / "runs" / "mnist_mnist_small-lenet" / "sgd-lr0.1-seed0" / "result.json"
    for wrong, says in (([1, 2], "holds a JSON list, not a run's result"), ({"run": "x"}, "no optimizer")):
        result.write_text(json.dumps(wrong))
        code, err = run(ch4_optimizers.main, [*argv, "--report-only"], capsys, tmp_path, monkeypatch)
        assert code == 2 and len(err) == 1 and str(result) in err[0] and says in err[0], err


def test_report_only_on_an_empty_folder_writes_no_plot(tmp_path, capsys, monkeypatch):
    code, err = run(ch4_optimizers.main, ["--report-only", "--logdir", str(tmp_path / "runs")],
                    capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1 and "no finished runs to report" in err[0]
    assert files(tmp_path) == set()


def test_a_full_disk_names_the_file_and_keeps_the_last_report_whole(tmp_path, capsys, monkeypatch):
    import course.engine.files as files_module

    argv = ["--dataset", f"mnist:{FIXTURE}", "--subset", "64", "--val-subset", "64", *ONE_RUN,
            "--logdir", str(tmp_path / "runs"), *QUIET]
    assert run(ch4_optimizers.main, argv, capsys, tmp_path, monkeypatch)[0] == 0
    root = tmp_path / "runs" / "mnist_mnist_small-lenet"
    report = {name: (root / name).read_bytes() for name in
              ("comparison.md", "comparison.csv", "curves.png", "heatmap.png", "lr_sensitivity.png")}
    writes = []

    def full_after_two(fd):   # the third file of the new report finds the disk full
        writes.append(fd)
        if len(writes) > 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "fsync", full_after_two)
    code, err = run(ch4_optimizers.main, [*argv, "--report-only", "--target-acc", "0.5"], capsys,
                    tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {root}/") and "no space left on the device" in err[0]
    assert {name: (root / name).read_bytes() for name in report} == report
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_a_logdir_that_is_not_utf8_is_one_line(tmp_path, capsys, monkeypatch):
    logdir = str(tmp_path / b"r\xffuns".decode("utf-8", "surrogateescape"))
    code, err = run(ch4_optimizers.main, ["--dataset", f"mnist:{FIXTURE}", "--logdir", logdir],
                    capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --logdir: ") and "not valid UTF-8" in err[0]
    assert files(tmp_path) == set()


def test_an_mnist_file_of_one_class_is_refused(mnist_files, tmp_path, capsys, monkeypatch):
    code, err = run(ch4_optimizers.main, ["--dataset", f"mnist:{mnist_files['one_class']}", *ONE_RUN,
                                          "--logdir", str(tmp_path / "runs"), *QUIET],
                    capsys, tmp_path, monkeypatch)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: --dataset: the 300 training images of ") and "are all labelled 0" in err[0]
    assert not (tmp_path / "runs").exists()


# --- a dry run rehearses the real command ------------------------------------------------------------
def test_a_dry_run_on_a_small_mnist_file_runs_without_a_subset_the_user_never_typed(
        mnist_files, tmp_path, capsys, monkeypatch):
    argv = ["--dataset", f"mnist:{mnist_files['valid']}", "--optimizers", "sgd", "--lrs", "0.1",
            "--logdir", str(tmp_path / "runs"), *QUIET]
    code, err = run(ch4_optimizers.main, [*argv, "--dry-run"], capsys, tmp_path, monkeypatch)
    assert code == 0, err
    config = json.loads(next((tmp_path / "runs" / "dry-run").rglob("config.json")).read_text())
    assert (config["subset"], config["val_subset"], config["epochs"]) == (300, 100, 1)
    # The real command: ch4's default --subset (20,000, never typed) is fitted to the file: all.
    code, err = run(ch4_optimizers.main, [*argv, "--epochs", "1"], capsys, tmp_path, monkeypatch)
    assert code == 0, err
    config = json.loads(next((tmp_path / "runs" / "mnist_mnist300-lenet").rglob("config.json")).read_text())
    assert config["subset"] == 0


def test_an_image_dry_run_reads_the_users_folder_and_names_its_files(digits, tmp_path, capsys, monkeypatch):
    data = tmp_path / "photos"
    shutil.copytree(digits["single"], data)
    broken = data / "9" / "zz-broken.png"
    broken.write_bytes(b"not a png")
    with pytest.warns(UserWarning, match=str(broken)):
        code, err = run(article_filmstar_transfer.main, ["--data", str(data), "--pretrained", "none",
                                                         "--dry-run", "--logdir", str(tmp_path / "runs"),
                                                         *QUIET], capsys, tmp_path, monkeypatch)
    assert code == 0, err
    assert not (tmp_path / "runs" / "dry-run" / "data").exists(), "the dry run made a copy"
    config = json.loads(next((tmp_path / "runs").rglob("config.json")).read_text())
    assert config["dataset"] == f"folder:{data}" and config["image_size"] == 32


def test_tilde_is_expanded_inside_the_dataset_spec(digits, tmp_path, capsys, monkeypatch):
    from course.engine.data import load_dataset

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(digits["single"], tmp_path / "photos")
    shutil.copy(FIXTURE, tmp_path / "mnist.npz")
    folder = load_dataset(RunConfig(dataset="folder:~/photos", model="mobilenet_v2"), progress=False)
    assert folder.num_classes == 10
    mnist = load_dataset(RunConfig(dataset="mnist:~/mnist.npz", subset=100), progress=False)
    assert mnist.sizes() == (100, 1000)


# --- messages that named the wrong thing ----------------------------------------------------------
def test_paddles_in_user_code_frame_is_not_the_message():
    from course.tools.export import first_line

    paddle_error = ValueError("In user code:\n\n    File \"model.py\", line 3, in forward\n"
                              "      return self.conv(x)\n\n    (InvalidArgument) The input's channels "
                              "(3) must equal the filter's (1).\n      [Hint: Expected ...]")
    assert first_line(paddle_error) == "(InvalidArgument) The input's channels (3) must equal the filter's (1)."
    assert first_line(ValueError("plain\nsecond")) == "plain"
    assert first_line(ValueError("")) == "ValueError"
