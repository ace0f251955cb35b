#!/usr/bin/env python
"""Chapter 7 (恢复训练): save every epoch, resume, and the loss continues exactly
(course/chapters/ch7_resume.py; --help lists every flag)."""
import sys

from course.chapters.ch7_resume import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
