"""What the benchmarks share: medians, the load, the target lines, and the bare training step.

Nothing here imports a framework: bench/peer_worker.py runs PyTorch in processes that must not
load Paddle (the two bring different OpenMP runtimes).
"""
from __future__ import annotations

import os
import statistics


def median(values):
    """The median, or NaN for no values (a measurement that was skipped)."""
    return statistics.median(values) if values else float("nan")


def loadavg() -> float:
    """The 1-minute load average: how busy the shared machine was."""
    return os.getloadavg()[0]


def loadavg_text(values=None) -> str:
    """The 1-, 5- and 15-minute load averages (now, or ``values``) as '0.52 0.61 0.70'."""
    return " ".join(f"{x:.2f}" for x in (os.getloadavg() if values is None else values))


def print_targets(lines: list[str]) -> list[str]:
    """Print the PASS/FAIL lines under a ``targets:`` heading; return them."""
    print("\ntargets:")
    for line in lines:
        print("  " + line)
    return lines


def train_on_batches(model, optimizer, batches, cross_entropy) -> None:
    """One epoch of the bare step over ``batches`` (already tensors): forward, loss, backward,
    step, zero the gradients. Paddle's and PyTorch's optimizers alike (clear_grad / zero_grad)."""
    clear = getattr(optimizer, "clear_grad", None) or optimizer.zero_grad
    model.train()
    for x, y in batches:
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        clear()


def finish(benchmark: str, results: dict, args) -> None:
    """Print the load average at the start and now (saved as ``loadavg_end``); write the dated
    result file (``--results-dir``, bench/record.py) and, with ``--json OUT``, every number to OUT."""
    import json
    from pathlib import Path

    from bench.record import write_record

    results["loadavg_end"] = os.getloadavg()
    print(f"load average: start {loadavg_text(results['loadavg_start'])}, "
          f"end {loadavg_text(results['loadavg_end'])}")
    path = write_record(benchmark, args, results)
    if path:
        print(f"result file: {path}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"numbers saved to {args.json}")
