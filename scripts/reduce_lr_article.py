#!/usr/bin/env python
"""Article 003: EarlyStopping alone vs with ReduceLROnPlateau (MLP, MNIST)
(course/chapters/article_reduce_lr.py; --help lists every flag)."""
import sys

from course.chapters.article_reduce_lr import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
