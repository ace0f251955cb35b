#!/usr/bin/env python
"""Chapter 7 (恢复训练): save every epoch, resume, and the loss continues exactly (course/chapters/ch7_resume.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.ch7_resume import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
