"""Every command-line entry point answers --help with its defaults; predict.py's smoke mode runs."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = sorted(str(p.relative_to(ROOT)) for folder in ("scripts", "bench")
                      for p in (ROOT / folder).glob("*.py") if folder == "scripts" or p.name.startswith("bench_"))


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_help(script):
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:")
    if script.startswith("scripts"):      # every command has a small way to try it
        assert "--dry-run" in out.stdout or "--quick" in out.stdout
    assert "default" in out.stdout


def test_predict_dry_run_exports_and_classifies():
    out = subprocess.run([sys.executable, "scripts/predict.py", "--dry-run"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("blank.png (untrained LeNet): ") and "(p=" in out.stdout
