#!/usr/bin/env python
"""Chapter 3 (损失函数): the digit as a regression target (MSE) vs a class (cross-entropy)
(course/chapters/ch3_loss.py; --help lists every flag)."""
import sys

from course.chapters.ch3_loss import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
