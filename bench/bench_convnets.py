#!/usr/bin/env python
"""The image models' convolutions on oneDNN (course.speed) next to Paddle's own kernels.

Trains VGG16 (the lighter vgg16_gap: VGG16's 13 convolutions, pooled head), DenseNet121 and
MobileNetV2 (paddle.vision backbones, whose convolutions the engine switches with
``course.speed.apply``) for a few SGD steps on random images, in one process: each
model twice, once per kernel, the two copies with the same weights, timed in turn for
``--rounds`` interleaved rounds. Prints every round, the medians (images per second, and per CPU
second) and the ratio oneDNN / Paddle for each model, with 1 thread and then with 2, and writes
the dated result file bench/README.md describes.

examples:
  python bench/bench_convnets.py                      # ~5 min on 2 cores
  python bench/bench_convnets.py --models mobilenet_v2 --side 96 --batch 16 --rounds 5
  python bench/bench_convnets.py --quick                # smoke run: 32x32, one step, one round
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course import speed  # noqa: E402
from bench.common import finish, loadavg_text, median, train_on_batches  # noqa: E402
from bench.record import add_results_dir  # noqa: E402

MODELS = {"vgg16_gap": 64, "densenet121": 80, "mobilenet_v2": 96}   # name: default image side


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:" + __doc__.split("examples:")[1])
    p.add_argument("--models", default=",".join(MODELS), help="models to time, from: " + ", ".join(MODELS))
    # Not --image-size (a RunConfig setting, whose flag course.cli generates): one side per model.
    p.add_argument("--side", type=int, default=0,
                   help="image side for every model (default: 64 for VGG16, 80 for DenseNet121 as in "
                        "its article, 96 for MobileNetV2)")
    p.add_argument("--batch", type=int, default=8, help="images per step (default 8)")
    p.add_argument("--steps", type=int, default=3, help="timed SGD steps per round (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--threads", default="1,2", help="thread counts to measure (default 1,2)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 32x32 images, batch 2, one step, one round, one thread")
    p.add_argument("--json", metavar="OUT", default="", help="save every measured number to this file")
    add_results_dir(p)
    return p


def make_step(name: str, image_size: int, batch: int, fast: bool):
    """One SGD step of model ``name`` (same seed, so the same weights either way)."""
    import paddle
    import paddle.nn.functional as F

    from models import build_model

    paddle.seed(0)
    # Both copies get course.speed's layers (as the engine gives them); they differ only in
    # whether those layers may use oneDNN, a switch read per call.
    model = build_model(name, num_classes=10, image_size=image_size)
    speed.apply(model)
    optimizer = paddle.optimizer.SGD(0.001, parameters=model.parameters())
    x = paddle.rand([batch, 3, image_size, image_size])
    y = paddle.randint(0, 10, [batch, 1])

    def step():
        speed.set_enabled(fast)   # this copy's kernels, whichever copy ran last
        train_on_batches(model, optimizer, [(x, y)], F.cross_entropy)
    return step


def time_model(name: str, size: int, threads: int, args) -> dict:
    """Interleaved rounds of both copies of ``name``; every round's images/s and the medians."""
    steps = {kind: make_step(name, size, args.batch, kind == "oneDNN") for kind in ("oneDNN", "Paddle")}
    for step in steps.values():   # kernel set-up outside the clock
        step()
    rates = {kind: [] for kind in steps}
    cpu_rates = {kind: [] for kind in steps}
    for r in range(args.rounds):
        for kind, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                step()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rates[kind].append(args.steps * args.batch / wall)
            cpu_rates[kind].append(args.steps * args.batch / cpu)
            print(f"  round {r + 1}/{args.rounds} {threads} thread(s) {name} {size}x{size} "
                  f"{kind:6s} {rates[kind][-1]:7.1f} images/s", flush=True)
    med = {k: median(v) for k, v in rates.items()}
    cpu = {k: median(v) for k, v in cpu_rates.items()}
    print(f"{name:13s} {size}x{size} {threads} thread(s): oneDNN {med['oneDNN']:.1f} img/s "
          f"({cpu['oneDNN']:.1f}/CPU-s), Paddle {med['Paddle']:.1f} img/s "
          f"({cpu['Paddle']:.1f}/CPU-s): ratio {med['oneDNN'] / med['Paddle']:.2f} "
          f"(per CPU second {cpu['oneDNN'] / cpu['Paddle']:.2f})", flush=True)
    return {"model": name, "side": size, "threads": threads, "images_per_s": rates,
            "images_per_cpu_s": cpu_rates, "median": med, "median_per_cpu_s": cpu,
            "ratio_onednn_to_paddle": med["oneDNN"] / med["Paddle"]}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.side, args.batch, args.steps, args.rounds, args.threads = 32, 2, 1, 1, "1"
    from course.engine.device import set_cpu_threads

    names = args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"error: unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}",
              file=sys.stderr)
        return 2
    print(f"bench_convnets: {', '.join(names)}, batch {args.batch}, {args.steps} SGD steps x "
          f"{args.rounds} rounds; oneDNN usable: {speed.enabled()}; {os.cpu_count()} CPUs, "
          f"load average {loadavg_text()}", flush=True)
    results = {"oneDNN_usable": speed.enabled(), "loadavg_start": os.getloadavg(), "measurements": []}
    was_enabled = speed.enabled()
    try:
        for threads in [int(t) for t in args.threads.split(",")]:
            set_cpu_threads(threads)
            for name in names:
                results["measurements"].append(time_model(name, args.side or MODELS[name], threads, args))
    finally:
        speed.set_enabled(was_enabled)
    finish("bench_convnets", results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
