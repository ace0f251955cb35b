"""The optimizer sweep on a class-per-folder dataset: the same run directories, table and plots
as on MNIST, and a short training on real exported digits that clearly beats chance."""
import json
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "compare_optimizers.py"


@pytest.mark.slow   # tens of seconds: the slow tier runs it
def test_sweep_on_an_image_folder_trains_well_above_chance(digits, tmp_path):
    digits_tree = digits["single30"]
    out = subprocess.run([sys.executable, str(SCRIPT), "--dataset", f"folder:{digits_tree}",
                          "--model", "vision:resnet18", "--image-size", "32", "--optimizers", "adam",
                          "--lrs", "0.001", "--epochs", "4", "--batch-size", "16", "--logdir", str(tmp_path),
                          "--jobs", "1", "--no-progress"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    root = tmp_path / "digits-vision_resnet18"
    run_dir = root / "adam-lr0.001-seed0"
    result = json.loads((run_dir / "result.json").read_text())
    # 10 classes: chance is 10%. 240 training images, 4 epochs from random weights.
    assert result["best_val_acc"] >= 0.5, result
    assert (run_dir / "vdl").is_dir() and (root / "comparison.md").is_file() and (root / "curves.png").is_file()
    assert "| adam | 0.001 | 1 |" in (root / "comparison.md").read_text()


def test_a_folder_without_classes_is_a_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    out = subprocess.run([sys.executable, str(SCRIPT), "--dataset", f"folder:{tmp_path / 'empty'}",
                          "--model", "mobilenet_v2", "--logdir", str(tmp_path / "runs"), "--no-progress"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(tmp_path / "empty") in lines[0]
