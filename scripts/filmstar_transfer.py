#!/usr/bin/env python
"""Article 001: frozen VGG16 transfer, Adam vs SGD (film stars) (course/chapters/article_filmstar_transfer.py; --help lists every flag)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.chapters.article_filmstar_transfer import main  # noqa: E402
from course.cli import RESUME_HINT, run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main, interrupted_hint=RESUME_HINT))
