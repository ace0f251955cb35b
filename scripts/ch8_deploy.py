#!/usr/bin/env python
"""Chapter 8 (动转静与部署): export with paddle.jit.save, load, predict a PNG digit
(course/chapters/ch8_deploy.py; --help lists every flag)."""
import sys

from course.chapters.ch8_deploy import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
