#!/usr/bin/env python
"""Article 000: five optimizers on DenseNet121 (gym equipment)
(course/chapters/article_gym_optimizers.py; --help lists every flag)."""
import sys

from course.chapters.article_gym_optimizers import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
