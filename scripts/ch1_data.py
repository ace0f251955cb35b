#!/usr/bin/env python
"""Chapter 1 (数据处理): load, check, show and time the course's MNIST data
(course/chapters/ch1_data.py; --help lists every flag)."""
import sys

from course.chapters.ch1_data import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
