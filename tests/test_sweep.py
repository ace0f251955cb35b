"""A sweep end to end: run directories, VisualDL records, table, plots, restart after kill -9."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from visualdl import LogReader

from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.sweep.report import write_report
from course.sweep.grid import Sweep
from course.sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
SCRIPT = ROOT / "scripts" / "compare_optimizers.py"
TAGS = {"loss/train_loss", "loss/val_loss", "metric/train_acc", "metric/val_acc", "optimizer/lr",
        "train/batch_loss", "train/batch_lr", "trial/best_val_acc", "trial/test_acc", "trial/test_loss"}


def small(**changes):
    base = dict(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=2, batch_size=32,
                subset=1000, val_subset=300)
    base.update(changes)
    return RunConfig(**base)


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, str(SCRIPT), "--dataset", f"mnist:{FIXTURE}", "--no-progress",
                           *args], capture_output=True, text=True, cwd=ROOT, **kwargs)


def test_sweep_writes_runs_visualdl_records_table_and_plots(tmp_path):
    sweep = Sweep(small(), optimizers=["adam", "momentum"], lrs=[0.01, 1e4], logdir=str(tmp_path))
    results = run_sweep(sweep, jobs=1, progress=False)

    root = tmp_path / "mnist_mnist_small-mlp_relu"
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert names == ["adam-lr0.01-seed0", "adam-lr10000-seed0", "momentum-lr0.01-seed0", "momentum-lr10000-seed0"]
    for run in names:
        run_dir = root / run
        for f in ("config.json", "metrics.json", "metrics.csv", "result.json"):
            assert (run_dir / f).is_file(), f"{run}/{f} missing"
        records = list((run_dir / "vdl").glob("vdlrecords.*.log"))
        assert len(records) == 1
        reader = LogReader(file_path=str(records[0]))
        assert TAGS <= set(reader.get_tags()["scalar"])
        assert "hparam" in reader.get_tags()["hyper_parameters"]
        history = json.loads((run_dir / "metrics.json").read_text())
        val_acc = [round(r.value, 5) for r in reader.get_data("scalar", "metric/val_acc")]
        assert val_acc == [round(h["val_acc"], 5) for h in history]

    by_run = {r["run"]: r for r in results}
    assert not by_run["adam-lr0.01-seed0"]["diverged"] and by_run["adam-lr0.01-seed0"]["best_val_acc"] > 0.8
    assert by_run["momentum-lr10000-seed0"]["diverged"]          # a rate of 10,000 blows up
    assert by_run["momentum-lr10000-seed0"]["epochs_run"] == 1   # and stops instead of running on

    paths = write_report(root, sweep.optimizers)
    table = paths["table_md"].read_text()
    assert "| adam | 0.01 | 1 |" in table and "| momentum | 10000 |" in table
    rows = paths["table_csv"].read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("optimizer,lr,seeds,best_val_acc")
    diverged_row = next(line for line in table.splitlines() if "| momentum | 10000 |" in line)
    assert diverged_row.rstrip(" |").endswith("yes")
    for png in ("curves.png", "lr_sensitivity.png"):
        with Image.open(root / png) as im:
            assert im.format == "PNG" and im.width > 400 and im.height > 300


def _wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow   # tens of seconds: the slow tier runs it
def test_sweep_killed_midway_then_restarted_completes_each_run_once(tmp_path):
    args = ["--model", "mlp_relu", "--optimizers", "adam,momentum", "--lrs", "0.01,0.003",
            "--epochs", "2", "--subset", "1000", "--val-subset", "300", "--logdir", str(tmp_path), "--jobs", "1"]
    root = tmp_path / "mnist_mnist_small-mlp_relu"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--dataset", f"mnist:{FIXTURE}", "--no-progress", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(lambda: len(list(root.glob("*/result.json"))) >= 1), "first run never finished"
        # Let the second run get going, then kill the sweep without warning.
        _wait_for(lambda: len(list(root.glob("*/metrics.json"))) >= 2, timeout=30)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    finished = {p.parent.name: p.read_text() for p in root.glob("*/result.json")}
    assert 1 <= len(finished) < 4

    again = cli(*args, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} of 4 runs already done" in again.stdout
    assert again.stdout.count("] training") == 4 - len(finished)
    results = {p.parent.name: p.read_text() for p in root.glob("*/result.json")}
    assert len(results) == 4
    for name, text in finished.items():
        assert results[name] == text            # finished runs were not trained again
    assert not list(root.rglob("*.tmp")), "a temporary file was left behind"
    for text in results.values():
        result = json.loads(text)
        history = json.loads((root / result["run"] / "metrics.json").read_text())
        assert [h["epoch"] for h in history] == [1, 2]


def test_parallel_jobs_run_in_separate_processes(tmp_path):
    out = cli("--model", "mlp_relu", "--optimizers", "adam,rmsprop", "--lrs", "0.001", "--epochs", "1",
              "--subset", "600", "--val-subset", "200", "--logdir", str(tmp_path), "--jobs", "2", timeout=600)
    assert out.returncode == 0, out.stderr
    root = tmp_path / "mnist_mnist_small-mlp_relu"
    for run in ("adam-lr0.001-seed0", "rmsprop-lr0.001-seed0"):
        assert (root / run / "result.json").is_file()
        assert "best val acc" in (root / run / "train.log").read_text()
    assert "VisualDL: " in out.stdout and "visualdl --logdir" in out.stdout and "--host 127.0.0.1" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--optimizers", "sgd,adamm"], "unknown optimizer 'adamm'; choose from: sgd, momentum"),
    (["--lrs", "0.1,0"], "--lr: must be > 0, got 0"),
    (["--model", "resnet999"], "resnet999"),
    (["--dataset", "mnist:/no/such/mnist.json.gz"], "/no/such/mnist.json.gz"),
    (["--jobs", "0"], "--jobs: must be >= 1"),
    (["--model", "mobilenet_v2"], "'mobilenet_v2' is an image model"),
    (["--schedule", "exponential", "--schedule-args", "decay_stepz=3"], "decay_stepz"),
    (["--early-stop", "patience=-1"], "patience"),
])
def test_user_mistakes_are_one_line_errors_with_exit_code_2(tmp_path, args, message):
    out = cli("--logdir", str(tmp_path), "--epochs", "1", "--subset", "100", *args, timeout=300)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr


def test_help_shows_defaults():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "(default: 0.1,0.01,0.001)" in text and "(default: sgd,momentum,adagrad,rmsprop,adam)" in text


def test_labelled_arms_give_each_variant_its_own_run_and_name():
    sweep = Sweep(small(), optimizers=[{"optimizer": "adam", "label": "es", "early_stop": "patience=2"},
                                       {"optimizer": "adam", "label": "es+plateau", "early_stop": "patience=2",
                                        "reduce_lr_on_plateau": "factor=0.1,patience=1"}, "sgd"],
                  lrs=[0.01], logdir="unused")
    cells = sweep.runs()
    assert [d.name for _, d in cells] == ["adam+es-lr0.01-seed0", "adam+es+plateau-lr0.01-seed0", "sgd-lr0.01-seed0"]
    assert cells[1][0].reduce_lr_on_plateau == "factor=0.1,patience=1" and cells[0][0].reduce_lr_on_plateau == ""
    assert sweep.optimizers == ["adam+es", "adam+es+plateau", "sgd"]
    with pytest.raises(ConfigError, match="an optimizer repeats in the sweep"):
        Sweep(small(), optimizers=["adam", "adam"], lrs=[0.01])


def _run(arm, lr, seed, best, stopped_early=False, final_lr=None, epochs=3):
    history = [{"epoch": e + 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_acc": best,
                "lr": lr if e < epochs - 1 or final_lr is None else final_lr, "epoch_seconds": 2.0}
               for e in range(epochs)]
    return {"run": f"{arm}-lr{lr:g}-seed{seed}", "variant": arm, "optimizer": arm.split("+")[0], "lr": lr,
            "seed": seed, "best_val_acc": best, "final_val_acc": best, "test_acc": best - 0.01,
            "test_loss": 0.3, "epochs_run": epochs, "stopped_early": stopped_early,
            "epochs_to_target": None, "seconds_to_target": None, "total_seconds": 6.0,
            "diverged": False, "target_acc": 0.97, "history": history}


def test_table_shows_spread_over_seeds_early_stops_and_changed_rates():
    from course.sweep.report import markdown_table, summarize_groups

    one_seed = markdown_table(summarize_groups([_run("adam", 0.01, 0, 0.9)]))
    assert "±" not in one_seed and "final lr" not in one_seed      # nothing to say: columns left out
    runs = [_run("adam+es", 0.01, 0, 0.90, stopped_early=True), _run("adam+es", 0.01, 1, 0.92, stopped_early=True),
            _run("adam+es+plateau", 0.01, 0, 0.95, final_lr=0.001), _run("adam+es+plateau", 0.01, 1, 0.97, final_lr=0.001)]
    table = markdown_table(summarize_groups(runs, ["adam+es", "adam+es+plateau"]))
    es, plateau = table.splitlines()[2:4]
    assert "final lr" in table.splitlines()[0]
    assert "| adam+es | 0.01 | 2 | 91.00% ± 1.41 |" in es and "3 (2/2 early stop)" in es
    assert "| adam+es+plateau | 0.01 | 2 | 96.00% ± 1.41 | 96.00% | 0.001 |" in plateau


def test_schedule_and_its_settings_from_the_command_line(tmp_path):
    out = cli("--model", "mlp_relu", "--optimizers", "sgd", "--lrs", "0.1", "--epochs", "2", "--subset", "3200",
              "--val-subset", "200", "--schedule", "step", "--schedule-args", "step_size=1,gamma=0.5",
              "--logdir", str(tmp_path), "--jobs", "1", timeout=300)
    assert out.returncode == 0, out.stderr
    run_dir = tmp_path / "mnist_mnist_small-mlp_relu" / "sgd-lr0.1-seed0"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["schedule"] == "step" and config["schedule_args"] == {"step_size": 1, "gamma": 0.5}
    assert [h["lr"] for h in json.loads((run_dir / "metrics.json").read_text())] == [0.1, 0.05]
    log = (run_dir / "train.log").read_text()   # --jobs 1 too keeps a run's details in its log
    assert "parameters" in log and "FLOPs" in log and "epoch 2/2: train loss" in log   # the model summary


def test_no_resume_starts_unfinished_runs_over(tmp_path, monkeypatch, capsys):
    from tests.test_resume import interrupt_after_epochs

    sweep = Sweep(small(), optimizers=["adam"], lrs=[0.01], logdir=str(tmp_path))
    with monkeypatch.context() as m:
        interrupt_after_epochs(m, 1)
        with pytest.raises(KeyboardInterrupt):
            run_sweep(sweep, jobs=1, progress=False)
    capsys.readouterr()
    run_sweep(sweep, jobs=1, progress=False, resume=False)
    printed = capsys.readouterr().out
    assert "epoch 1/2" in printed and "epoch 2/2" in printed      # trained from the start again


@pytest.mark.parametrize("jobs, runs, expected", [
    (2, 15, [1] * 14 + [2]),   # the default sweep: two at a time, the last one alone on both cores
    (2, 4, [1] * 4),
    (1, 3, [2] * 3),           # one at a time: every core
    (2, 1, [2]),               # a lone run: every core
    (4, 6, [1] * 4 + [1] * 2),  # more jobs than cores: one thread each, never less
    (2, 0, []),
])
def test_each_run_gets_its_thread_count_from_the_grid(jobs, runs, expected):
    from course.sweep.runner import threads_per_job

    assert threads_per_job(jobs, runs, cores=2) == expected
