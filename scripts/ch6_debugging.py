#!/usr/bin/env python
"""Chapter 6 (训练调试与优化): look inside the network, L2 against over-fitting
(course/chapters/ch6_debugging.py; --help lists every flag)."""
import sys

from course.chapters.ch6_debugging import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
