"""One training process of the peer benchmark (bench/bench_peer.py): ours or PyTorch, N threads.

Started by bench_peer.py with its thread count already in the environment (OpenMP reads
``OMP_NUM_THREADS`` when the framework loads), it builds every net it is asked for, loads the
same real digits, trains each for one untimed epoch, prints ``READY``, then answers each
line ``epoch NET`` on stdin with one JSON line on stdout: the wall and CPU seconds of one timed
epoch of NET (``PASSES[NET]`` passes over its images) and the images it trained on. ``quit`` (or
the end of stdin) ends it.

The nets, as the course has them:
- ``lenet``: conv(1->20, 5x5, pad 2) + ReLU, maxpool 2, conv(20->20, 5x5, pad 2) + ReLU,
  maxpool 2, fc 980 -> 10. Ours is ``models.mnist_nets.LeNet``.
- ``mlp``: 784 -> 512 -> 256 -> 10 with ReLU. Ours is ``models.mnist_nets.MLPRelu``.
Both trained with SGD (lr 0.01) and cross-entropy at batch 64, on batches already held as
tensors of each framework (the step alone: forward, loss, backward, step, zero the gradients).
Ours uses the optimizer and the cross-entropy the project's trainer uses (``course.engine.optimizers``;
with ``course.speed``, its short SGD step and loss), PyTorch its standard ``torch.optim.SGD`` and
``cross_entropy``.

Frameworks: ``ours`` (the project's models as the engine trains them: ``course.speed.apply``,
LeNet's conv + ReLU + max-pool blocks on oneDNN), ``ours-paddle-conv`` (the same models without
``course.speed``: Paddle's own kernels and calls, what ``--no-fast-kernels`` trains on), ``torch``
(PyTorch, the same nets written with ``torch.nn``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import train_on_batches  # noqa: E402

BATCH_SIZE = 64
LR = 0.01
NETS = ("lenet", "mlp")
# Passes over the images in one timed epoch: the MLP's step is ~6x shorter than LeNet's, and an
# MLP epoch of one pass (~0.2 s) was short enough for a burst of other load on this shared
# machine to swing a round by 30%; five passes time about as long as one of LeNet.
PASSES = {"lenet": 1, "mlp": 5}
FRAMEWORKS = ("ours", "ours-paddle-conv", "torch")


def load_digits(dataset: str, count: int):
    """The first ``count`` training images [N, 1, 28, 28] float32 and labels [N] int64."""
    import numpy as np

    from data.mnist import load_mnist

    images, labels = load_mnist(path=dataset.partition(":")[2] or None).train
    images = np.ascontiguousarray(images[:count], dtype="float32").reshape(-1, 1, 28, 28)
    return images, np.asarray(labels[:count], dtype="int64")


def paddle_epochs(nets, images, labels, threads: int, fast: bool = True) -> dict:
    """{net: epoch()} for our models on Paddle (``fast``: with course.speed, as the engine trains)."""
    import course  # noqa: F401  (quiets Paddle's import warning)
    import paddle

    import paddle.nn.functional as F

    from course import speed
    from course.engine.device import set_cpu_threads
    from course.engine.optimizers import build_optimizer
    from models.mnist_nets import LeNet, MLPRelu

    set_cpu_threads(threads)
    paddle.set_device("cpu")
    batches = [(paddle.to_tensor(images[i:i + BATCH_SIZE]),
                paddle.to_tensor(labels[i:i + BATCH_SIZE].reshape(-1, 1)))
               for i in range(0, len(images), BATCH_SIZE)]
    epochs = {}
    for name in nets:
        paddle.seed(0)
        model = {"lenet": LeNet, "mlp": MLPRelu}[name]()
        optimizer = build_optimizer("sgd", LR, model.parameters())
        if fast:
            speed.apply(model, optimizer)
        loss = speed.cross_entropy if fast else F.cross_entropy
        epochs[name] = partial(train_on_batches, model, optimizer, batches, loss)
    return epochs


def torch_epochs(nets, images, labels, threads: int) -> dict:
    """{net: epoch()} for the same nets in PyTorch."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    builders = {
        "lenet": lambda: nn.Sequential(
            nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(), nn.Linear(980, 10)),
        "mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
                                     nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)),
    }
    batches = [(torch.from_numpy(images[i:i + BATCH_SIZE]).clone(),
                torch.from_numpy(labels[i:i + BATCH_SIZE]).clone())
               for i in range(0, len(images), BATCH_SIZE)]
    epochs = {}
    for name in nets:
        model = builders[name]()
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        epochs[name] = partial(train_on_batches, model, optimizer, batches, nn.functional.cross_entropy)
    return epochs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=FRAMEWORKS, required=True)
    p.add_argument("--threads", type=int, default=1)
    # Not --dataset: that flag is generated from RunConfig (course.cli), and importing the engine
    # would load Paddle into PyTorch's worker too. bench_peer.py passes its --dataset here.
    p.add_argument("--source", default="mnist", help="where the digits come from: 'mnist' or 'mnist:PATH'")
    p.add_argument("--images", type=int, default=3200)
    p.add_argument("--nets", default=",".join(NETS))
    args = p.parse_args(argv)
    nets = args.nets.split(",")
    images, labels = load_digits(args.source, args.images)
    if args.framework == "torch":
        epochs = torch_epochs(nets, images, labels, args.threads)
    else:
        epochs = paddle_epochs(nets, images, labels, args.threads, fast=args.framework == "ours")
    for name in nets:   # one untimed epoch each: kernel set-up and first allocations
        epochs[name]()
    print("READY " + json.dumps({"images": len(images)}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        name = command[1]
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(PASSES[name]):
            epochs[name]()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"net": name, "seconds": wall, "cpu_seconds": cpu,
                          "images": len(images) * PASSES[name]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
