#!/usr/bin/env python
"""Ours next to PyTorch: the same nets, the same digits, the same step, side by side.

Trains the course's LeNet and its MLP (784-512-256-10) with SGD at batch 64 on real MNIST digits,
in three modes, each framework in processes of its own (bench/peer_worker.py):
  1x1  one process, 1 thread          (speed per core)
  1x2  one process, 2 threads         (one run using both cores)
  2x1  two 1-thread processes at once (two runs, one per core: images/s of the pair)
All the workers start first and stay up, idle but for the one being timed; then every round
times one epoch of each (mode, framework, net) in turn, the order of the frameworks alternating
from round to round. Prints every round, then the medians, the ratios ours / PyTorch, the
thread scaling, and PASS/FAIL for the targets. See bench/README.md.

PyTorch is optional (bench/requirements-peer.txt); without it the PyTorch columns are skipped
with one line saying how to install it. ``--baseline DIR`` adds another checkout of the project
(``git worktree add ../before REV``) as one more column, ours at that commit, and prints the ratio
ours / baseline: a change's speed, before and after, measured side by side.

examples:
  python bench/bench_peer.py                         # full run, ~5 min on 2 cores
  python bench/bench_peer.py --quick --dataset mnist:tests/fixtures/mnist_small.npz
  python bench/bench_peer.py --modes 1x1 --nets lenet --rounds 9 --json peer.json
  python bench/bench_peer.py --modes 1x1 --rounds 9 --baseline ../before
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The user's environment for the workers, as it was before the project's imports below (importing
# models sets MKL_DEBUG_CPU_TYPE on AMD CPUs: ours sets it in its own workers too).
USER_ENV = dict(os.environ)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import finish, loadavg, loadavg_text, median, print_targets  # noqa: E402
from bench.peer_worker import BATCH_SIZE  # noqa: E402
from bench.record import add_results_dir  # noqa: E402
from course.cli import CommandLine, run_main  # noqa: E402
from course.engine.config import RunConfig  # noqa: E402
from course.engine.errors import ConfigError  # noqa: E402

WORKER = Path("bench") / "peer_worker.py"   # in this checkout, or in --baseline's
MODES = {"1x1": (1, 1), "1x2": (1, 2), "2x1": (2, 1)}   # name: (processes, threads each)
LABELS = {"ours": "ours", "ours-paddle-conv": "ours, Paddle's conv kernels", "torch": "PyTorch",
          "baseline": "ours at --baseline"}
NET_LABELS = {"lenet": "LeNet", "mlp": "MLP 784-512-256-10"}
TARGETS = {  # name: threshold of a ">=" target
    "ours / PyTorch, LeNet, 1 thread": 1.0,
    "ours / PyTorch, MLP, 1 thread": 1.0,
    "ours LeNet, 2 threads / 1 thread": 1.7,
}
INSTALL_HINT = (f"PyTorch is not installed: PyTorch rows skipped (to compare, "
                f"{Path(sys.executable).name} -m pip install -r bench/requirements-peer.txt)")
PAUSE = 0.3   # seconds between timed epochs: an idle worker's OpenMP threads spin ~0.2 s


def digits_parser(doc: str, rounds: int, quick_images: int) -> argparse.ArgumentParser:
    """The flags the benchmarks on MNIST digits share: --dataset,
    --images, --rounds (default ``rounds``), --nets, --quick (``quick_images``), --json.
    Parse them with :func:`parse_digits_args`."""
    cl = CommandLine(doc)
    cl.settings("data ('mnist', or 'mnist:PATH.npz' such as tests/fixtures/mnist_small.npz)",
                RunConfig, "dataset")
    p = cl.parser
    p.add_argument("--images", type=int, default=None,
                   help=f"images per timed epoch (default 3200; --quick {quick_images})")
    p.add_argument("--rounds", type=int, default=None, help=f"interleaved rounds (default {rounds}; --quick 1)")
    p.add_argument("--nets", default="lenet,mlp", help="nets to train, from: lenet, mlp")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--json", metavar="OUT", default="", help="save every measured number to this file")
    add_results_dir(p)
    p.set_defaults(default_rounds=rounds, quick_images=quick_images)
    return p


def parse_digits_args(parser: argparse.ArgumentParser, argv=None, **lists):
    """``parser``'s arguments (a :func:`digits_parser`), --images and --rounds filled in from
    their defaults; ConfigError for an unknown net or value of ``lists`` (a flag's name -> the
    values it may list), fewer images than a batch, no round, or data that is not MNIST."""
    args = parser.parse_args(argv)
    if args.images is None:
        args.images = args.quick_images if args.quick else 3200
    if args.rounds is None:
        args.rounds = 1 if args.quick else args.default_rounds
    lists = {"nets": NET_LABELS, **lists}
    bad = [v for name, allowed in lists.items() for v in getattr(args, name).split(",") if v not in allowed]
    if bad or args.images < BATCH_SIZE or args.rounds < 1 or args.dataset.partition(":")[0] != "mnist":
        raise ConfigError(", ".join(f"--{name} from {','.join(allowed)}" for name, allowed in lists.items())
                          + f", --images >= {BATCH_SIZE}, --rounds >= 1, --dataset mnist or mnist:PATH; got "
                          + ", ".join(repr(getattr(args, name)) for name in lists)
                          + f", {args.images}, {args.rounds}, {args.dataset!r}")
    return args


def build_parser() -> argparse.ArgumentParser:
    p = digits_parser(__doc__, rounds=5, quick_images=192)
    p.add_argument("--modes", default="1x1,1x2,2x1", help="modes, from: 1x1, 1x2, 2x1")
    p.add_argument("--no-paddle-conv", action="store_true",
                   help="leave out ours on Paddle's own conv kernels (the before-picture)")
    p.add_argument("--baseline", metavar="DIR", default="",
                   help="another checkout of this project (e.g. git worktree add ../before REV): "
                        "its ours as one more column, and the ratio ours / baseline")
    return p


class Worker:
    """One bench/peer_worker.py process, driven over its stdin/stdout."""

    def __init__(self, framework: str, threads: int, args, log_dir: str, name: str):
        env = dict(USER_ENV, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.name, self.log = name, Path(log_dir) / f"{name}.log"
        # The baseline is ours, run by the other checkout's own worker (which puts that checkout
        # first on its sys.path), from the other checkout.
        root = Path(args.baseline).resolve() if framework == "baseline" else ROOT
        self.process = subprocess.Popen(
            [sys.executable, str(root / WORKER),
             "--framework", "ours" if framework == "baseline" else framework, "--threads", str(threads),
             "--source", args.dataset, "--images", str(args.images), "--nets", args.nets],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True,
            env=env, cwd=root)

    def read(self) -> dict:
        """The worker's next JSON (or READY) line; other lines it prints are passed through."""
        for line in self.process.stdout:
            if line.startswith("READY "):
                return json.loads(line[6:])
            if line.startswith("{"):
                return json.loads(line)
            print(f"  [{self.name}] {line.rstrip()}", flush=True)
        tail = self.log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"peer worker {self.name} stopped (exit {self.process.wait()}):\n{tail}")

    def send(self, line: str) -> None:
        """Send one command line."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        """Ask the worker to stop, and make sure it does."""
        try:
            self.send("quit")
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def start_workers(frameworks, modes, args, log_dir) -> dict:
    """{(framework, threads, index): Worker}, started at once, returned once all are READY."""
    wanted = {}
    for fw in frameworks:
        for mode in modes:
            processes, threads = MODES[mode]
            for i in range(processes):
                wanted[(fw, threads, i)] = None
    workers = {key: Worker(key[0], key[1], args, log_dir, f"{key[0]}-{key[1]}t-{key[2]}")
               for key in wanted}
    for worker in workers.values():
        worker.read()
    return workers


def time_epoch(workers, fw, mode, net) -> dict:
    """One epoch of ``net`` in each process of ``mode``, started together: images/s of them all."""
    processes, threads = MODES[mode]
    group = [workers[(fw, threads, i)] for i in range(processes)]
    start = time.perf_counter()
    for w in group:
        w.send(f"epoch {net}")
    results = [w.read() for w in group]
    wall = time.perf_counter() - start
    images = sum(r["images"] for r in results)
    return {"images_per_s": images / wall, "seconds": wall,
            "images_per_cpu_s": images / max(sum(r["cpu_seconds"] for r in results), 1e-9),
            "loadavg": loadavg()}


def report(results, frameworks, modes, nets) -> list[str]:
    """Print the medians, ratios and scaling; return the target lines."""
    m = results["measurements"]
    med = {k: median([r["images_per_s"] for r in v]) for k, v in m.items()}
    print(f"\n{'net':20s} {'mode':5s} " + " ".join(f"{LABELS[fw]:>29s}" for fw in frameworks)
          + ("   ours / PyTorch (per-round median)" if "torch" in frameworks else ""))
    for net in nets:
        for mode in modes:
            cells = []
            for fw in frameworks:
                v = [r["images_per_s"] for r in m[f"{fw}|{mode}|{net}"]]
                cells.append(f"{med[f'{fw}|{mode}|{net}']:9.0f} img/s [{min(v):6.0f}-{max(v):6.0f}]")
            line = f"{NET_LABELS[net]:20s} {mode:5s} " + " ".join(f"{c:>29s}" for c in cells)
            if "torch" in frameworks:
                whole, paired = ratios(m[f"ours|{mode}|{net}"], m[f"torch|{mode}|{net}"])
                line += f"   {whole:.2f} ({paired:.2f})"
            print(line)
    print()
    for fw in frameworks:
        for net in nets:
            base = med.get(f"{fw}|1x1|{net}")
            parts = [f"{mode} {med[f'{fw}|{mode}|{net}'] / base:.2f}x" for mode in modes
                     if mode != "1x1" and base]
            if parts:
                print(f"scaling {LABELS[fw]}, {NET_LABELS[net]}: " + ", ".join(parts) + " of 1x1")
    if "1x1" in modes:
        print("images per CPU second, 1x1 (time spent waiting for a core left out): " + "; ".join(
            f"{LABELS[fw]} {NET_LABELS[net]} "
            f"{median([r['images_per_cpu_s'] for r in m[f'{fw}|1x1|{net}']]):.0f}"
            for fw in frameworks for net in nets))
    values, rounds = {}, {}   # a target's ratio of medians, and its ratio in each round

    def ratio(name, a, b):
        values[name] = med[a] / med[b]
        rounds[name] = [x["images_per_s"] / y["images_per_s"] for x, y in zip(m[a], m[b])]

    if "torch" in frameworks and "1x1" in modes:
        for net, name in (("lenet", "ours / PyTorch, LeNet, 1 thread"),
                          ("mlp", "ours / PyTorch, MLP, 1 thread")):
            if net in nets:
                ratio(name, f"ours|1x1|{net}", f"torch|1x1|{net}")
    if {"1x1", "1x2"} <= set(modes) and "lenet" in nets:
        ratio("ours LeNet, 2 threads / 1 thread", "ours|1x2|lenet", "ours|1x1|lenet")
    if "baseline" in frameworks:
        print_baseline_ratios(m, modes, nets)
    return print_targets([f"{name} = {v:.2f}  target >= {TARGETS[name]:g}  "
                          f"{'PASS' if v >= TARGETS[name] else 'FAIL'}  (rounds: "
                          f"{', '.join(format(r, '.2f') for r in rounds[name])})"
                          for name, v in values.items()])


def ratios(a: list, b: list) -> tuple[float, float]:
    """a / b of two interleaved measurements: the ratio of their medians, and the median of the
    per-round ratios."""
    whole = median([r["images_per_s"] for r in a]) / median([r["images_per_s"] for r in b])
    return whole, median([x["images_per_s"] / y["images_per_s"] for x, y in zip(a, b)])


def print_baseline_ratios(m, modes, nets) -> None:
    """ours / baseline for each net and mode: the ratio of the medians and the per-round median."""
    for net in nets:
        for mode in modes:
            whole, paired = ratios(m[f"ours|{mode}|{net}"], m[f"baseline|{mode}|{net}"])
            print(f"ours / baseline, {NET_LABELS[net]}, {mode}: {whole:.3f} (per-round median {paired:.3f})")


def check_baseline(path: str) -> None:
    """ConfigError unless ``path`` is a checkout of this project (it has bench/peer_worker.py)."""
    if path and not (Path(path) / WORKER).is_file():
        raise ConfigError(f"--baseline {path}: not a checkout of this project (no {WORKER.as_posix()} "
                          "there); make one with: git worktree add ../before REV")


def main(argv=None) -> int:
    args = parse_digits_args(build_parser(), argv, modes=MODES)
    rounds, nets, modes = args.rounds, args.nets.split(","), args.modes.split(",")
    check_baseline(args.baseline)
    frameworks = (["ours"] + ([] if args.no_paddle_conv else ["ours-paddle-conv"])
                  + (["baseline"] if args.baseline else []))
    if importlib.util.find_spec("torch") is None:
        print(INSTALL_HINT)
    else:
        frameworks.append("torch")
    print(f"bench_peer: {', '.join(NET_LABELS[n] for n in nets)}; SGD(0.01), batch {BATCH_SIZE}, {args.images:,} "
          f"{args.dataset} images per epoch, {rounds} rounds, modes {', '.join(modes)}; "
          f"{os.cpu_count()} CPUs, load average {loadavg_text()}",
          flush=True)
    results = {"args": vars(args), "frameworks": frameworks, "rounds": rounds,
               "loadavg_start": os.getloadavg(), "measurements": {}}
    m = results["measurements"]
    with tempfile.TemporaryDirectory(prefix="bench_peer_") as log_dir:
        workers = start_workers(frameworks, modes, args, log_dir)
        try:
            for r in range(rounds):
                order = frameworks if r % 2 == 0 else frameworks[::-1]
                for mode in modes:
                    for fw in order:
                        for net in nets:
                            time.sleep(PAUSE)
                            out = time_epoch(workers, fw, mode, net)
                            m.setdefault(f"{fw}|{mode}|{net}", []).append(out)
                            print(f"  round {r + 1}/{rounds} {mode} {NET_LABELS[net]:20s} "
                                  f"{LABELS[fw]:29s} {out['images_per_s']:8.0f} images/s", flush=True)
        finally:
            for worker in workers.values():
                worker.close()
    results["targets"] = report(results, frameworks, modes, nets)
    finish("bench_peer", results, args)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
