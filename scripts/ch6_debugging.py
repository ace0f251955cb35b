#!/usr/bin/env python
"""Chapter 6 (训练调试与优化): look inside the network, L2 against over-fitting (course/chapters/ch6_debugging.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.ch6_debugging import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
