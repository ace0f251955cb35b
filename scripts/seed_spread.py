#!/usr/bin/env python
"""How far a sweep's numbers carry: per optimizer x rate the mean and spread over seeds, the cells
at the edge of divergence marked, each optimizer's best rate seed by seed (docs/results.md).

examples:
  python scripts/seed_spread.py runs/mnist-lenet
  python scripts/seed_spread.py runs/mnist-lenet --metric best_val_acc --edge 0.5
  python scripts/seed_spread.py --dry-run
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course.cli import run_main  # noqa: E402
from course.sweep.spread import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main))
