#!/usr/bin/env python
"""Check a GPU setup before training on it (AI Studio: run this first).

Prints Paddle's build, CUDA, cuDNN and the visible cards; trains LeNet and VGG16 at 64 px for a
few steps on the card in float32 and with mixed precision, compares one step with the CPU's
(loss within a tolerance) and prints images/s for each, then a one-line verdict (docs/gpu_and_aistudio.md
shows the output). Without a GPU it says so and exits 0. Exit code 1: a step differs.

examples:
  python scripts/check_gpu.py                    # the first card, or the no-GPU message
  python scripts/check_gpu.py --device gpu:1
  python scripts/check_gpu.py --device cpu --dry-run   # rehearse the check on the CPU
"""
import sys

from course.cli import CommandLine, Launch, run_main
from course.engine.config import RunConfig


def main(argv=None) -> int:
    from course.tools.check_gpu import run_check

    cl = CommandLine(__doc__)
    group = cl.settings("the check", RunConfig, "device")
    group.add_argument("--steps", type=int, default=20, help="timed training steps per model and precision")
    group.add_argument("--warmup", type=int, default=3, help="untimed steps first (allocation, cuDNN search)")
    cl.settings("the check", Launch, "dry_run")
    args = cl.parse(argv, dry_run={"steps": 1, "warmup": 0})
    RunConfig(device=args.device)    # the device's spelling, checked as everywhere else
    return run_check(args.device, args.steps, args.warmup, small=args.dry_run)


if __name__ == "__main__":
    sys.exit(run_main(main))
