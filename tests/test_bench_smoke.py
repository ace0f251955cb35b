"""Smoke tests: bench/bench_training.py and bench_peer.py run end to end on the small fixture
(--quick).

It measures nothing worth keeping: 320 images on a shared, noisy machine. What a smoke run can
show is asserted -- every table row, ratio and target line is printed and saved, every number
is finite and positive, the table's median lies within its min and max, and each PASS/FAIL
verdict agrees with the number it judges. Whether a target passes is not asserted (FAIL is
accepted): that is for a full run on a quiet machine (bench/README.md).
"""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
NUMBER = r"[0-9]+\.[0-9]+"


ROWS = ("Trainer.train_epoch + ArrayLoader", "preloaded tensors (ceiling)",
        "ours with paddle.nn.Conv2D's forward", "paddle.Model.fit (hapi)", "course per-sample generator")
RATIOS = ("ours / ceiling", "ours / paddle.nn.Conv2D", "ours / Model.fit", "ours / course generator")
TARGETS = ("ours / ceiling", "ours / ceiling per CPU second", "cache load", "cache peak memory")


def finite_positive(*numbers):
    return all(math.isfinite(n) and n > 0 for n in numbers)


def result_file(folder: Path, benchmark: str) -> dict:
    """The one dated result file a benchmark wrote into ``folder``, checked for what it must hold."""
    files = list(folder.iterdir())
    assert len(files) == 1 and re.fullmatch(rf"\d{{4}}-\d\d-\d\d-[A-Za-z0-9_-]+-{benchmark}\.json",
                                            files[0].name), files
    saved = json.loads(files[0].read_text())
    assert saved["benchmark"] == benchmark and re.fullmatch(r"[0-9a-f]{40}", saved["commit"] or "")
    assert isinstance(saved["dirty"], bool) and saved["machine"]["cpus"] >= 1 and saved["machine"]["cpu"]
    assert saved["versions"]["python"] and saved["versions"]["paddlepaddle"]
    assert len(saved["load"]["start"]) == len(saved["load"]["end"]) == 3
    assert saved["args"]["quick"] is True and saved["command"][0] == f"{benchmark}.py"
    return saved["results"]


def test_quick_benchmark_prints_every_row_ratio_and_target(tmp_path):
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_training.py"), "--quick", "--skip-sweep",
         "--dataset", f"mnist:{FIXTURE}", "--json", str(out_json), "--results-dir", str(tmp_path / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for label in ROWS:       # median, min, max images/s, images per CPU second
        row = re.search(rf"^{re.escape(label)}\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})$", out, re.M)
        assert row, f"no table row for {label}:\n{out}"
        median, low, high, per_cpu = map(float, row.groups())
        assert finite_positive(median, low, high, per_cpu) and low <= median <= high, row.group(0)
    for ratio in RATIOS:
        line = re.search(rf"^ratio {re.escape(ratio)}: ({NUMBER}) \(per-round median ({NUMBER}), "
                         rf"per CPU second ({NUMBER})\)", out, re.M)
        assert line and finite_positive(*map(float, line.groups())), f"no ratio line {ratio}:\n{out}"
    targets = out.split("\ntargets:\n")[1]
    for name in TARGETS:
        line = re.search(rf"^  {re.escape(name)} = ({NUMBER}|[0-9]+)( s| MB)?\s+target (>=|<) ({NUMBER}|[0-9]+)"
                         rf"( s| MB)?\s+(PASS|FAIL)", targets, re.M)
        assert line, f"no target line {name}:\n{out}"
        value, op, threshold, verdict = (float(line[1]), line[3], float(line[4]), line[6])
        assert finite_positive(value)
        if value != threshold:                      # printed rounded: equal is undecidable here
            assert verdict == ("PASS" if (value >= threshold if op == ">=" else value < threshold)
                               else "FAIL"), line.group(0)
    assert "sweep" not in targets                         # --skip-sweep was honoured
    saved = json.loads(out_json.read_text())
    recorded = result_file(tmp_path / "results", "bench_training")   # every round, as --json has it
    assert json.dumps(recorded, sort_keys=True) == json.dumps(saved, sort_keys=True)
    assert set(saved["loops"]) == {"ours", "ceiling", "paddle_conv", "hapi", "course"}
    for loop in saved["loops"].values():
        assert loop["images_per_s"] and finite_positive(*loop["images_per_s"], *loop["images_per_cpu_s"])


def test_bad_dataset_is_a_one_line_error():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_training.py"), "--quick",
                           "--dataset", "folder:/nowhere"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --dataset must be 'mnist'")
    assert "Traceback" not in proc.stderr


def test_the_peer_benchmark_runs_and_reports_its_rows(tmp_path):
    """bench/bench_peer.py --quick: a smoke run (the numbers mean nothing; the report must be whole)."""
    import importlib.util

    # --baseline: this same checkout stands in for another commit's
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_peer.py"), "--quick",
                           "--modes", "1x1", "--nets", "lenet", "--dataset", f"mnist:{FIXTURE}",
                           "--baseline", str(ROOT), "--results-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    row = re.search(r"^LeNet\s+1x1\s+(.*)$", out, re.M)
    assert row, out
    cells = re.findall(r"([0-9]+) img/s \[\s*([0-9]+)-\s*([0-9]+)\]", row.group(1))
    has_torch = importlib.util.find_spec("torch") is not None
    assert len(cells) == 3 + has_torch and all(int(m) > 0 for m, _, _ in cells)
    assert re.search(rf"^ours / baseline, LeNet, 1x1: {NUMBER} \(per-round median {NUMBER}\)$", out, re.M), out
    assert ("PyTorch is not installed" in out) is not has_torch
    assert "requirements-peer.txt" in out or has_torch
    assert ("ours / PyTorch, LeNet, 1 thread = " in out) is has_torch
    saved = result_file(tmp_path, "bench_peer")
    rounds = saved["measurements"]["ours|1x1|lenet"]
    assert len(rounds) == saved["rounds"] == 1 and finite_positive(rounds[0]["images_per_s"])
    assert finite_positive(saved["measurements"]["baseline|1x1|lenet"][0]["images_per_s"])


def test_the_digit_benchmarks_refuse_what_they_cannot_run_in_one_line():
    from bench import bench_peer
    from course.engine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--modes from 1x1,1x2,2x1.*got 'lenet,mlp', '3x1'"):
        bench_peer.main(["--modes", "3x1"])
    with pytest.raises(ConfigError, match=r"--baseline .*: not a checkout of this project"):
        bench_peer.main(["--baseline", str(ROOT / "docs")])
    with pytest.raises(ConfigError, match=r"--images >= 64"):
        bench_peer.main(["--images", "32"])


def test_quick_convnets_benchmark_times_both_kernels_and_saves_them(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_convnets.py"), "--quick", "--models", "mobilenet_v2",
         "--results-dir", str(tmp_path / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(rf"^mobilenet_v2\s+32x32 1 thread\(s\): oneDNN {NUMBER} img/s .*ratio {NUMBER}",
                     proc.stdout, re.M), proc.stdout
    saved = result_file(tmp_path / "results", "bench_convnets")
    (row,) = saved["measurements"]
    assert row["model"] == "mobilenet_v2" and row["side"] == 32 and row["threads"] == 1
    assert finite_positive(*row["median"].values(), row["ratio_onednn_to_paddle"])
    assert row["ratio_onednn_to_paddle"] == row["median"]["oneDNN"] / row["median"]["Paddle"]
