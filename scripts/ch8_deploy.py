#!/usr/bin/env python
"""Chapter 8 (动转静与部署): export with paddle.jit.save, load, predict a PNG digit (course/chapters/ch8_deploy.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.ch8_deploy import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
