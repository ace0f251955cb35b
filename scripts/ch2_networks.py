#!/usr/bin/env python
"""Chapter 2 (网络结构): the course's networks side by side, against its table
(course/chapters/ch2_networks.py; --help lists every flag)."""
import sys

from course.chapters.ch2_networks import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
