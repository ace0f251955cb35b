#!/usr/bin/env python
"""Article 004: lighten VGG16 without losing accuracy (coffee beans)
(course/chapters/article_lighten_vgg16.py; --help lists every flag)."""
import sys

from course.chapters.article_lighten_vgg16 import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
