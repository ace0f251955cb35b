#!/usr/bin/env python
"""Article 003: EarlyStopping alone vs with ReduceLROnPlateau (MLP, MNIST) (course/chapters/article_reduce_lr.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.article_reduce_lr import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
