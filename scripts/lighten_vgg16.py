#!/usr/bin/env python
"""Article 004: lighten VGG16 without losing accuracy (coffee beans) (course/chapters/article_lighten_vgg16.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.article_lighten_vgg16 import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
