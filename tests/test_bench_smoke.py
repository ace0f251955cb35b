"""bench/bench_training.py runs end to end on the small fixture and prints its table and ratios.

Timings are not asserted (the machine is shared and noisy); the output's shape is.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
NUMBER = r"[0-9]+\.[0-9]+"


def test_quick_benchmark_prints_table_ratios_and_targets(tmp_path):
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_training.py"), "--quick", "--skip-sweep",
         "--dataset", f"mnist:{FIXTURE}", "--json", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for label in ("Trainer.train_epoch + ArrayLoader", "preloaded tensors (ceiling)",
                  "ours with paddle.nn.Conv2D's forward", "paddle.Model.fit (hapi)", "course per-sample generator"):
        assert re.search(rf"^{re.escape(label)}\s+{NUMBER}", out, re.M), f"no table row for {label}:\n{out}"
    for ratio in ("ours / ceiling", "ours / paddle.nn.Conv2D", "ours / Model.fit", "ours / course generator"):
        assert re.search(rf"^ratio {re.escape(ratio)}: {NUMBER}", out, re.M), f"no ratio line {ratio}:\n{out}"
    assert re.search(r"ours / ceiling = [0-9.]+\s+target >= 0\.95\s+(PASS|FAIL)", out)
    assert re.search(r"cache load = [0-9.]+ s\s+target < 0\.3 s\s+(PASS|FAIL)", out)
    assert "sweep" not in out.split("targets:")[1]        # --skip-sweep was honoured
    saved = json.loads(out_json.read_text())
    assert set(saved["loops"]) == {"ours", "ceiling", "paddle_conv", "hapi", "course"}
    assert all(v["images_per_s"] and min(v["images_per_s"]) > 0 for v in saved["loops"].values())


def test_bad_dataset_is_a_one_line_error():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_training.py"), "--quick",
                           "--dataset", "folder:/nowhere"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --dataset must be 'mnist'")
    assert "Traceback" not in proc.stderr
