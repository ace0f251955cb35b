"""Every command-line entry point answers --help with its defaults; predict.py's smoke mode runs.

The --help of each is read in this process (its file run as a module, then its main): a subprocess
per script would add Paddle's start-up to each. One script is started as a file, as a user does.
"""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = sorted(str(p.relative_to(ROOT)) for folder in ("scripts", "bench")
                      for p in (ROOT / folder).glob("*.py") if folder == "scripts" or p.name.startswith("bench_"))


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_help(script, capsys, monkeypatch):
    for name, value in os.environ.items():   # a benchmark sets its thread count at import:
        monkeypatch.setenv(name, value)      # give the environment back afterwards
    main = runpy.run_path(str(ROOT / script), run_name="entry_point")["main"]
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code in (0, None) and out.startswith("usage:")
    if script.startswith("scripts"):      # every command has a small way to try it
        assert "--dry-run" in out or "--quick" in out
    assert "default" in out


def test_a_script_runs_as_a_file_from_the_installed_project():
    out = subprocess.run([sys.executable, "scripts/compare_optimizers.py", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("usage:"), out.stderr


def test_predict_dry_run_exports_and_classifies():
    out = subprocess.run([sys.executable, "scripts/predict.py", "--dry-run"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("blank.png (untrained LeNet): ") and "(p=" in out.stdout
