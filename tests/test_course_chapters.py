"""The course's sections as chapter scripts: each dry run, in this process, does what its section
teaches (data checked, networks compared, a resume that continues exactly, an export that
predicts like the model it came from, data parallel equal to one process)."""
import json
import re
from pathlib import Path

import pytest

from course import compat
from PIL import Image

from course.chapters import (ch1_data, ch2_networks, ch3_loss, ch5_devices, ch6_debugging,
                             ch7_resume, ch8_deploy)
from course.cli import run_main

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_small.npz"
MNIST = ["--dataset", f"mnist:{FIXTURE}", "--dry-run"]


def run(chapter, tmp_path, capsys, *extra):
    code = run_main(chapter.main, [*MNIST, "--logdir", str(tmp_path), *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_ch1_checks_the_data_and_draws_a_batch(tmp_path, capsys):
    out = run(ch1_data, tmp_path, capsys, "--num-workers", "0")
    assert "机器校验 passed on 2,000 training images" in out
    assert "first batch images [100, 1, 28, 28], labels [100, 1]" in out
    with Image.open(tmp_path / "dry-run" / "ch1-data" / "digits.png") as figure:
        assert figure.width > 500


def test_ch2_puts_the_courses_rows_beside_ours(tmp_path, capsys):
    out = run(ch2_networks, tmp_path, capsys, "--jobs", "1", "--no-progress")
    for arm, course in (("sgd+sigmoid500", "85.03%"), ("sgd+relu512-256+l2", "97.18%")):
        assert any(line.startswith(arm) and course in line for line in out.splitlines()), arm
    configs = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.rglob("config.json")}
    assert configs["sgd+sigmoid500-lr1-seed0"]["loss"] == "double_softmax"
    assert configs["sgd+sigmoid500-1softmax-lr0.1-seed0"]["loss"] == "ce"
    assert configs["sgd+relu512-256+l2-lr0.1-seed0"]["weight_decay"] == 5e-4
    assert len(configs) == 6 and {c["batch_size"] for c in configs.values()} == {32}


def test_ch2_trains_only_the_rows_asked_for_at_every_seed(tmp_path, capsys):
    # The first row's seed spread is measured this way: one row, several seeds, not the whole table.
    code = run_main(ch2_networks.main, ["--dataset", f"mnist:{FIXTURE}", "--subset", "256",
                                        "--val-subset", "128", "--epochs", "1", "--logdir", str(tmp_path),
                                        "--optimizers", "sgd+sigmoid500", "--seeds", "0,1",
                                        "--jobs", "1", "--no-progress", "--quiet"])
    assert code == 0, capsys.readouterr().err
    runs = sorted(p.parent.name for p in tmp_path.rglob("result.json"))
    assert runs == [f"sgd+sigmoid500-lr{lr}-seed{seed}" for lr in ("0.1", "1") for seed in (0, 1)]


def test_ch2_names_its_rows_when_asked_for_one_it_lacks(tmp_path, capsys):
    code = run_main(ch2_networks.main, [*MNIST, "--logdir", str(tmp_path), "--optimizers", "sgd+tanh500"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --optimizers: unknown optimizer variant(s) sgd+tanh500")
    assert "sgd+sigmoid500-1softmax" in err and err.count("\n") == 1


def test_ch3_trains_a_regression_and_a_classification(tmp_path, capsys):
    run(ch3_loss, tmp_path, capsys, "--jobs", "1", "--no-progress")
    results = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.rglob("result.json")}
    assert set(results) == {"sgd+regression-mse-lr0.01-seed0", "sgd+classification-ce-lr0.01-seed0"}
    summaries = {name: r["model_summary"]["total"] for name, r in results.items()}
    # LeNet with one output for the regression, ten for the classification: 9 x 981 fewer weights.
    assert summaries["sgd+classification-ce-lr0.01-seed0"] - summaries["sgd+regression-mse-lr0.01-seed0"] == 9 * 981


@pytest.mark.skipif(not compat.spawns_in_this_process(), reason="Paddle 2.6's spawned processes "
                    "crash inside pytest (SIGSEGV; the same command runs as a script)")
def test_ch5_two_spawned_processes_train_what_one_does(tmp_path, capsys):
    one = run(ch5_devices, tmp_path, capsys, "--no-progress")
    two = run(ch5_devices, tmp_path, capsys, "--no-progress", "--processes", "2")
    assert "CPU-only build" in one and "--device auto chooses cpu" in one
    acc = [json.loads(p.read_text())["final_val_acc"] for p in sorted(tmp_path.rglob("result.json"))]
    assert len(acc) == 2 and acc[0] == pytest.approx(acc[1], abs=1e-6)   # no dropout: the same run
    assert "2 process(es) on cpu" in two


def test_ch6_shows_every_layer_and_the_over_fitting_gap(tmp_path, capsys):
    out = run(ch6_debugging, tmp_path, capsys, "--jobs", "1", "--no-progress", "--weight-decays", "0,0.01")
    for line in ("conv1    Conv2D     [64, 20, 28, 28]", "pool2    MaxPool2D  [64, 20, 7, 7]",
                 "fc       Linear     [64, 10]"):
        assert line in out
    assert "sgd+l2=0: train" in out and "sgd+l2=0.01: train" in out and "gap" in out


def test_ch7_resumed_losses_equal_the_uninterrupted_ones(tmp_path, capsys):
    out = run(ch7_resume, tmp_path, capsys)
    assert "the resumed losses equal the uninterrupted ones (bit for bit)" in out
    files = sorted(p.name for p in (tmp_path / "dry-run" / "ch7-resume").glob("epoch*"))
    assert files == ["epoch1.pdopt", "epoch1.pdparams", "epoch2.pdopt", "epoch2.pdparams"]


def test_ch8_exports_a_program_that_predicts_png_digits(tmp_path, capsys):
    out = run(ch8_deploy, tmp_path, capsys, "--no-progress")
    gap = float(out.split("by at most ")[1].split()[0])
    assert gap < 1e-4 and re.search(r"model\.(json|pdmodel), model\.pdiparams, model_meta\.json", out)
    assert out.count("(p=") == 5 and "digits read right" in out
