#!/usr/bin/env python
"""Chapter 5 (资源配置): the CPU, a GPU, or several processes with paddle.DataParallel
(course/chapters/ch5_devices.py; --help lists every flag)."""
import sys

from course.chapters.ch5_devices import main
from course.cli import RESUME_HINT, run_main

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
