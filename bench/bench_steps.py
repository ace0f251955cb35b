#!/usr/bin/env python
"""Paddle's own layers, optimizer step and loss next to the project's: same net, same digits, one process.

For each net (the course MLP 784-512-256-10, LeNet) and optimizer (SGD, Adam), trains two copies
from the same start on one thread: one with ``paddle.optimizer.SGD``/``Adam`` and
``F.cross_entropy``, the MLP written with ``paddle.nn.Linear`` (what a Paddle user writes), one
with the project's ``course.engine.optimizers.build_optimizer``, ``course.engine.losses.cross_entropy``
and ``models.mnist_nets.MLPRelu`` (what the trainer uses: SGD's short step, Adam's multi-tensor
path on the CPU, the loss without its wrapper, the MLP's ``models.layers.Linear`` layers).
LeNet is the project's on both sides (its convolutions are bench_peer.py's ``--paddle-conv``
comparison). Every round times one epoch of each in turn;
prints every round, the medians and the ratio ours / Paddle's own. See bench/README.md.

examples:
  python bench/bench_steps.py                          # ~1 min on one core
  python bench/bench_steps.py --nets mlp --compare adam --rounds 9
  python bench/bench_steps.py --quick --dataset mnist:tests/fixtures/mnist_small.npz
"""
from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_peer import NET_LABELS, digits_parser, parse_digits_args  # noqa: E402
from bench.common import finish, loadavg_text, median, train_on_batches  # noqa: E402
from bench.peer_worker import BATCH_SIZE, load_digits  # noqa: E402
from course.cli import run_main  # noqa: E402

OPTIMIZERS = ("sgd", "adam")   # the two whose step the project changes
RATES = {"sgd": 0.01, "adam": 0.001}


def build_parser():
    p = digits_parser(__doc__, rounds=7, quick_images=128)
    p.add_argument("--compare", default=",".join(OPTIMIZERS), help="optimizers whose steps to compare, from: sgd, adam")
    return p


def epochs(nets, optimizers, images, labels) -> dict:
    """{(net, optimizer, 'paddle' | 'ours'): epoch()}, each on its own model from the same start."""
    import paddle
    import paddle.nn.functional as F

    from course.engine.losses import cross_entropy
    from course.engine.optimizers import build_optimizer
    from models.mnist_nets import LeNet, MLPRelu

    paddles_own = {"sgd": paddle.optimizer.SGD, "adam": paddle.optimizer.Adam}

    def paddle_mlp():
        nn = paddle.nn
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                             nn.ReLU(), nn.Linear(256, 10))

    batches = [(paddle.to_tensor(images[i:i + BATCH_SIZE]),
                paddle.to_tensor(labels[i:i + BATCH_SIZE].reshape(-1, 1)))
               for i in range(0, len(images), BATCH_SIZE)]
    out = {}
    for net in nets:
        for name in optimizers:
            for side in ("paddle", "ours"):
                paddle.seed(0)   # nn.Linear and models.layers.Linear draw the same weights
                model = {"lenet": LeNet, "mlp": MLPRelu if side == "ours" else paddle_mlp}[net]()
                if side == "paddle":
                    optimizer = paddles_own[name](RATES[name], parameters=model.parameters())
                    loss = F.cross_entropy
                else:
                    optimizer = build_optimizer(name, RATES[name], model.parameters())
                    loss = cross_entropy
                out[(net, name, side)] = partial(train_on_batches, model, optimizer, batches, loss)
    return out


def report(measured: dict) -> dict:
    """Print the medians and ratios; return {'net optimizer': ratio of medians}."""
    print(f"\n{'net':20s} {'optimizer':9s} {'Paddle own, img/s':>26s} {'ours, img/s':>26s}"
          "   ours / Paddle's own (per-round median)")
    ratios = {}
    for (net, name) in dict.fromkeys((k[0], k[1]) for k in measured):
        a, b = measured[(net, name, "paddle")], measured[(net, name, "ours")]
        cells = [f"{median(v):8.0f} [{min(v):6.0f}-{max(v):6.0f}]" for v in (a, b)]
        ratio = median(b) / median(a)
        paired = median([y / x for x, y in zip(a, b)])
        ratios[f"{net} {name}"] = ratio
        print(f"{NET_LABELS[net]:20s} {name:9s} {cells[0]:>26s} {cells[1]:>26s}   {ratio:.2f} ({paired:.2f})")
    return ratios


def main(argv=None) -> int:
    args = parse_digits_args(build_parser(), argv, compare=OPTIMIZERS)
    images, rounds = args.images, args.rounds
    nets, optimizers = args.nets.split(","), args.compare.split(",")
    import course  # noqa: F401  (quiets Paddle's import warning)
    import paddle

    from course.engine.device import cpu_threads_during

    print(f"bench_steps: {', '.join(NET_LABELS[n] for n in nets)} x {', '.join(optimizers)}; batch "
          f"{BATCH_SIZE}, {images:,} {args.dataset} images per epoch, {rounds} rounds, 1 thread; "
          f"load average {loadavg_text()}", flush=True)
    loadavg_start = os.getloadavg()
    paddle.set_device("cpu")
    with cpu_threads_during(1):
        digits, labels = load_digits(args.dataset, images)
        runs = epochs(nets, optimizers, digits, labels)
        for epoch in runs.values():     # untimed: kernel set-up and first allocations
            epoch()
        measured = {key: [] for key in runs}
        for r in range(rounds):
            for key, epoch in runs.items():
                start = time.perf_counter()
                epoch()
                measured[key].append(len(digits) / (time.perf_counter() - start))
                print(f"  round {r + 1}/{rounds} {NET_LABELS[key[0]]:20s} {key[1]:5s} {key[2]:7s} "
                      f"{measured[key][-1]:8.0f} images/s", flush=True)
    results = {"args": vars(args), "rounds": rounds, "loadavg_start": loadavg_start,
               "images_per_s": {" ".join(k): v for k, v in measured.items()}}
    results["ratios"] = report(measured)
    finish(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
