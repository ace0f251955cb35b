#!/usr/bin/env python
"""Article 001: frozen VGG16 transfer, Adam vs SGD (film stars)
(course/chapters/article_filmstar_transfer.py; --help lists every flag)."""
import sys

from course.chapters.article_filmstar_transfer import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
