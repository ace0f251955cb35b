#!/usr/bin/env python
"""The course's optimizer experiment: optimizers x learning rates x seeds, table, plots, VisualDL
(course/chapters/ch4_optimizers.py; --help lists every flag)."""
import sys

from course.chapters.ch4_optimizers import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
