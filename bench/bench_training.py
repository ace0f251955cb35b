#!/usr/bin/env python
"""How fast does the optimizer lab train, next to what it could do and what the alternatives do?

Measures in one run, side by side (interleaved A, B, C, D, A, B, ... with repeats; medians):
  1. our loop: course.engine.trainer.Trainer.train_epoch over data.batches.ArrayLoader
  2. the ceiling: the same step on batches already held as paddle tensors
  3. our loop with LeNet on Paddle's own kernels (what course.speed, on
     oneDNN, saves)
  4. paddle.Model.fit (hapi) on a paddle.io.Dataset over the same arrays
  5. the course's per-sample load_data generator feeding our step
  all LeNet + SGD, batch 64, one thread, real MNIST; then
  6. a sweep of 4 runs the size of the default sweep's (5 epochs of 20,000 images), --jobs 2 vs
     --jobs 1 (images trained per wall second)
  7. seconds and peak memory to get MNIST as arrays: our fast cache vs json.load(gzip.open(...))
and prints a table, the ratios, and PASS/FAIL for each target. See bench/README.md.

examples:
  python bench/bench_training.py                      # the full benchmark, ~25 min on 2 cores
  python bench/bench_training.py --quick --skip-sweep # smoke run, seconds
  python bench/bench_training.py --repeats 5 --images 6400 --json bench.json
  python bench/bench_training.py --profile            # + cProfile of our loop and the ceiling
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# The user's environment, for the subprocesses that must run as a user's would (the sweep).
USER_ENV = dict(os.environ)
# One thread for the loops compared here, set before paddle is imported: the course's
# comparisons run one single-threaded process per core, and one thread makes timings steadier.
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from bench.common import finish, loadavg, loadavg_text, median, print_targets  # noqa: E402
from bench.record import add_results_dir  # noqa: E402
from course.cli import CommandLine, run_main  # noqa: E402
from course.engine.config import RunConfig  # noqa: E402
from course.engine.errors import ConfigError  # noqa: E402

TARGETS = {  # name: (comparison, threshold, unit) -- what bench/README.md explains
    "ours / ceiling": (">=", 0.95, ""),
    "sweep jobs 2 / jobs 1": (">=", 1.8, "x"),
    "cache load seconds": ("<", 0.3, " s"),
    "cache load peak memory": ("<", 400, " MB"),
}


def build_parser() -> argparse.ArgumentParser:
    cl = CommandLine(__doc__)
    cl.settings("data ('mnist', 'mnist:PATH.npz' such as tests/fixtures/mnist_small.npz, or "
                "'mnist:PATH/mnist.json.gz')", RunConfig, "dataset")
    p = cl.parser
    p.add_argument("--images", type=int, default=None,
                   help="training images per timed epoch of each loop (default 1920; --quick 320)")
    p.add_argument("--repeats", type=int, default=None,
                   help="interleaved timed epochs per loop (default 9; --quick 1)")
    p.add_argument("--sweep-images", type=int, default=None,
                   help="training images per sweep run (default 20000, as in the default sweep; --quick 256)")
    p.add_argument("--sweep-epochs", type=int, default=None,
                   help="epochs per sweep run (default 5, as in the default sweep; --quick 1)")
    p.add_argument("--process-repeats", type=int, default=None,
                   help="interleaved rounds of the fresh-process tests: sweeps, loads (default 3; --quick 1)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in seconds")
    p.add_argument("--skip-sweep", action="store_true", help="leave out the --jobs 2 vs 1 sweep")
    p.add_argument("--skip-load", action="store_true", help="leave out the MNIST load time/memory test")
    p.add_argument("--profile", action="store_true",
                   help="also cProfile one epoch of our loop and of the ceiling, and print the top functions")
    p.add_argument("--json", metavar="OUT", default="", help="save every measured number to this file")
    add_results_dir(p)
    return p


def scheduler_note() -> str:
    """Why a second job may get no second core here: Linux shares CPU between sessions first."""
    try:
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return ""
    if not autogroup:
        return ""
    return ("note: sched_autogroup is on: the CPU is shared between sessions first, then between the "
            "processes of a session, so while other sessions keep the cores busy, --jobs 2 gets about "
            "the share --jobs 1 gets (see 'cores busy')")


# --- 1-4: the loops, interleaved --------------------------------------------------------------------
def measure_loops(images, labels, repeats: int) -> dict:
    """images/s (wall and per CPU second) of every loop in bench.loops, ``repeats`` interleaved rounds."""
    from bench.loops import BATCH_SIZE, LOOPS, MAKERS

    warm = BATCH_SIZE * 3
    epochs = {}
    for name in LOOPS:   # first-call costs (kernel setup, allocator) paid outside the clock
        MAKERS[name](images[:warm], labels[:warm])()
        epochs[name] = MAKERS[name](images, labels)
    out = {name: {"images_per_s": [], "images_per_cpu_s": [], "loadavg": []} for name in LOOPS}
    for rep in range(repeats):
        for name in LOOPS:
            wall, cpu = time.perf_counter(), time.process_time()
            epochs[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            out[name]["images_per_s"].append(len(images) / wall)
            out[name]["images_per_cpu_s"].append(len(images) / max(cpu, 1e-9))
            out[name]["loadavg"].append(loadavg())
            print(f"  round {rep + 1}/{repeats} {name:8s} {len(images) / wall:8.1f} images/s", flush=True)
    return out


def ratio(loops: dict, a: str, b: str) -> dict:
    """Ratio of medians, and the median of the per-round ratios (each round's runs are adjacent)."""
    ra, rb = loops[a]["images_per_s"], loops[b]["images_per_s"]
    ca, cb = loops[a]["images_per_cpu_s"], loops[b]["images_per_cpu_s"]
    return {"of_medians": median(ra) / median(rb), "paired": median([x / y for x, y in zip(ra, rb)]),
            "cpu": median(ca) / median(cb)}


def profile_loops(images, labels) -> None:
    import cProfile
    import pstats

    from bench.loops import MAKERS

    for name in ("ours", "ceiling"):
        epoch = MAKERS[name](images, labels)
        epoch()
        profiler = cProfile.Profile()
        profiler.runcall(epoch)
        print(f"\n--- cProfile, one epoch of '{name}' ({len(images)} images), top 18 by own time ---")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(18)


# --- 5, 6: fresh processes, interleaved ------------------------------------------------------------
def measure_sweep(dataset: str, images: int, epochs: int, val_images: int, repeats: int) -> dict:
    from bench.processes import sweep_throughput, worker_startup_seconds

    out = {1: [], 2: [], "startup_seconds": []}
    for rep in range(repeats):
        out["startup_seconds"].append(worker_startup_seconds(dataset, USER_ENV))
        print(f"  round {rep + 1}/{repeats} worker start-up: {out['startup_seconds'][-1]:.1f} s", flush=True)
        for jobs in (1, 2):
            r = sweep_throughput(dataset, images, epochs, val_images, jobs, USER_ENV)
            r["loadavg"] = loadavg()
            out[jobs].append(r)
            print(f"  round {rep + 1}/{repeats} sweep --jobs {jobs}: {r['images']} images in "
                  f"{r['seconds']:.1f} s = {r['images_per_s']:.1f} images/s, "
                  f"{r['cpu_seconds'] / r['seconds']:.2f} cores busy", flush=True)
    return out


def measure_load(dataset: str, repeats: int, with_json: bool = True) -> dict:
    from bench.processes import load_seconds_and_memory, load_sources

    sources = load_sources(dataset)
    if not with_json:   # --quick: json.load of the real file alone takes ~13 s
        sources["json"] = None
    kinds = [k for k in ("cache", "json") if sources[k] is not None]
    out = {k: [] for k in kinds}
    for rep in range(repeats):
        for kind in kinds:
            r = load_seconds_and_memory(kind, sources[kind], os.environ)
            out[kind].append(r)
            print(f"  round {rep + 1}/{repeats} load from {kind}: {r['load_seconds']:.2f} s "
                  f"({r['seconds']:.2f} s with imports), "
                  f"peak {r['peak_mb']:.0f} MB", flush=True)
    out["sources"] = sources
    return out


# --- report ------------------------------------------------------------------------------------------
def verdict(name: str, value: float) -> str:
    op, threshold, unit = TARGETS[name]
    ok = value >= threshold if op == ">=" else value < threshold
    return f"target {op} {threshold:g}{unit}  {'PASS' if ok else 'FAIL'}"


def print_report(results: dict) -> list[str]:
    """Print the table, the ratios and the targets; return the target lines."""
    from bench.loops import LABELS

    loops, targets = results["loops"], []
    print(f"\n{'loop':38s} {'median img/s':>12s} {'min':>8s} {'max':>8s} {'img/CPU-s':>10s}")
    for name, r in loops.items():
        v = r["images_per_s"]
        print(f"{LABELS[name]:38s} {median(v):12.1f} {min(v):8.1f} {max(v):8.1f} "
              f"{median(r['images_per_cpu_s']):10.1f}")
    print()
    for other, label in (("ceiling", "ceiling"), ("paddle_conv", "paddle.nn.Conv2D"), ("hapi", "Model.fit"),
                         ("course", "course generator")):
        r = results["ratios"][f"ours / {other}"]
        line = (f"ratio ours / {label}: {r['of_medians']:.3f} (per-round median {r['paired']:.3f}, "
                f"per CPU second {r['cpu']:.3f})")
        if other == "ceiling":
            line += "  " + verdict("ours / ceiling", r["of_medians"])
            targets.append(f"ours / ceiling = {r['of_medians']:.3f}  " + verdict("ours / ceiling", r["of_medians"]))
            targets.append(f"ours / ceiling per CPU second = {r['cpu']:.3f}  "
                           + verdict("ours / ceiling", r["cpu"]) + "  (time waiting for a core left out)")
        print(line)
    if "sweep" in results:
        s = results["sweep"]
        for jobs in ("1", "2"):
            runs = s[jobs]
            print(f"sweep --jobs {jobs}: {median([r['images_per_s'] for r in runs]):.1f} images/s "
                  f"(median of {len(runs)}; {runs[0]['runs']} runs x {results['sweep_epochs']} epochs x "
                  f"{results['images_per_run']} images, "
                  f"{median([r['seconds'] for r in runs]):.1f} s; "
                  f"{median([r['cpu_seconds'] / r['seconds'] for r in runs]):.2f} cores busy, "
                  f"{median([r['images_per_cpu_s'] for r in runs]):.1f} images/CPU-s)")
        print(f"sweep worker start-up (fresh python, import paddle + engine, load MNIST): "
              f"{median(s['startup_seconds']):.1f} s, paid once per worker with --jobs 2")
        v = s["ratio"]
        per_round = [b["images_per_s"] / a["images_per_s"] for a, b in zip(s["1"], s["2"])]
        print(f"ratio sweep jobs 2 / jobs 1: {v:.3f} (per round: "
              f"{', '.join(format(r, '.3f') for r in per_round)})  " + verdict("sweep jobs 2 / jobs 1", v))
        print(f"  if each job had a core of its own: ~{s['ideal_ratio']:.2f} (2 x the ratio of images "
              f"per CPU second, jobs 2 / jobs 1: what process-per-run costs in CPU)")
        targets.append(f"sweep jobs 2 / jobs 1 = {v:.3f}x  " + verdict("sweep jobs 2 / jobs 1", v))
        if results.get("scheduler_note"):
            print(results["scheduler_note"])
    if "load" in results:
        for kind in ("cache", "json"):
            if kind not in results["load"]:
                print(f"load from {kind}: not measured (--quick, or no json.gz for this --dataset)")
                continue
            runs = results["load"][kind]
            secs, mb = median([r["load_seconds"] for r in runs]), median([r["peak_mb"] for r in runs])
            print(f"load from {kind} ({results['load']['sources'][kind] or 'user cache'}): {secs:.3f} s "
                  f"({median([r['seconds'] for r in runs]):.3f} s with imports, "
                  f"{median([r['cpu_seconds'] for r in runs]):.3f} CPU-s), peak {mb:.0f} MB "
                  f"(median of {len(runs)} fresh processes; each: "
                  f"{', '.join(format(r['load_seconds'], '.2f') for r in runs)} s)")
            if kind == "cache":
                targets.append(f"cache load = {secs:.3f} s  " + verdict("cache load seconds", secs))
                targets.append(f"cache peak memory = {mb:.0f} MB  " + verdict("cache load peak memory", mb))
    return print_targets(targets)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    images_wanted = args.images if args.images is not None else (320 if args.quick else 1920)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 9)
    rounds = args.process_repeats if args.process_repeats is not None else (1 if args.quick else 3)
    sweep_images = args.sweep_images if args.sweep_images is not None else (256 if args.quick else 20_000)
    sweep_epochs = args.sweep_epochs if args.sweep_epochs is not None else (1 if args.quick else 5)
    if min(images_wanted, sweep_images) < 64 or min(repeats, rounds, sweep_epochs) < 1:
        raise ConfigError(f"--images and --sweep-images must be >= 64, --repeats, --process-repeats and "
                          f"--sweep-epochs >= 1; got {images_wanted}, {sweep_images}, {repeats}, {rounds} "
                          f"and {sweep_epochs}")
    if args.dataset.partition(":")[0] != "mnist":
        raise ConfigError(f"--dataset must be 'mnist' or 'mnist:PATH', got {args.dataset!r}")
    import paddle

    from course.engine.device import set_cpu_threads
    from data.mnist import load_mnist

    set_cpu_threads(1)
    paddle.set_device("cpu")
    train_x, train_y = load_mnist(path=args.dataset.partition(":")[2] or None).train
    images, labels = train_x[:images_wanted], train_y[:images_wanted]
    results = {"dataset": args.dataset, "images": len(images), "repeats": repeats, "process_repeats": rounds,
               "images_per_run": sweep_images, "sweep_epochs": sweep_epochs,
               # The default sweep validates on all 10,000 validation images every epoch.
               "sweep_val_images": 256 if args.quick else 0,
               "cpus": os.cpu_count(), "loadavg_start": os.getloadavg(), "scheduler_note": scheduler_note()}
    print(f"bench_training: LeNet + SGD(0.01), batch 64, 1 thread, {len(images):,} {args.dataset} "
          f"images x {repeats} interleaved rounds; {os.cpu_count()} CPUs, "
          f"load average {loadavg_text()}", flush=True)

    results["loops"] = measure_loops(images, labels, repeats)
    results["ratios"] = {f"ours / {o}": ratio(results["loops"], "ours", o)
                         for o in ("ceiling", "paddle_conv", "hapi", "course")}
    if not args.skip_sweep:
        s = measure_sweep(args.dataset, sweep_images, sweep_epochs, results["sweep_val_images"], rounds)
        per_cpu = {j: median([r["images_per_cpu_s"] for r in s[j]]) for j in (1, 2)}
        results["sweep"] = {"1": s[1], "2": s[2], "startup_seconds": s["startup_seconds"],
                            "ratio": (median([r["images_per_s"] for r in s[2]])
                                      / median([r["images_per_s"] for r in s[1]])),
                            "ideal_ratio": 2 * per_cpu[2] / per_cpu[1]}
    if not args.skip_load:
        results["load"] = measure_load(args.dataset, rounds, with_json=not args.quick)
    results["targets"] = print_report(results)
    if args.profile:
        profile_loops(images, labels)
    finish("bench_training", results, args)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
