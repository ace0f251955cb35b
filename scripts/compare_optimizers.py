#!/usr/bin/env python
"""The course's optimizer experiment: optimizers x learning rates x seeds, table, plots, VisualDL (course/chapters/ch4_optimizers.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.ch4_optimizers import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
