"""A --jobs 2 sweep when something goes wrong: a worker killed, Ctrl-C, kill -9, a script
without a main guard. None of them may hang the sweep, lose a finished run or leave a process."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
SCRIPT = ROOT / "scripts" / "compare_optimizers.py"
# Three runs of many short epochs: once a run has saved its first epoch, its worker is in the
# middle of that run for several seconds more.
ARGS = ["--dataset", f"mnist:{FIXTURE}", "--model", "mlp_relu", "--optimizers", "sgd,adam,momentum",
        "--lrs", "0.01", "--epochs", "40", "--subset", "500", "--val-subset", "200", "--jobs", "2",
        "--no-progress"]


def launch(logdir):
    # A session of its own, so that a signal can go to its whole process group as Ctrl-C does.
    return subprocess.Popen([sys.executable, str(SCRIPT), *ARGS, "--logdir", str(logdir)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def start_sweep(logdir, running=1):
    """The sweep, once ``running`` of its runs have saved an epoch."""
    proc = launch(logdir)
    root = Path(logdir) / "mnist_mnist_small-mlp_relu"
    deadline = time.monotonic() + 120
    while len(list(root.glob("*/metrics.json"))) < running:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no run saved an epoch within 120 s"
        time.sleep(0.1)
    return proc, root, workers_of(proc.pid)


def workers_of(pid):
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in _cmdline(c)]


def _cmdline(pid) -> bytes:
    """A process's command line; empty if it has ended since it was listed (a short-lived child)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def gone(pids, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()
                 and "Z" not in Path(f"/proc/{p}/stat").read_text().split(")")[-1].split()[0]]
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow   # tens of seconds: the slow tier runs it
def test_a_worker_killed_mid_run_fails_that_run_and_the_others_finish(tmp_path):
    proc, root, workers = start_sweep(tmp_path, running=2)   # both workers are mid-run
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)      # what the OOM killer does
    out, err = proc.communicate(timeout=300)

    assert proc.returncode == 1, err
    assert out.count("FAILED: its worker process was killed by SIGKILL") == 1, out
    assert err.startswith("error: 1 run(s) failed") and "Traceback" not in err, err
    assert len(list(root.glob("*/result.json"))) == 2      # a new worker trained the third run

    again = subprocess.run([sys.executable, str(SCRIPT), *ARGS, "--logdir", str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "2 of 3 runs already done" in again.stdout
    for run in root.glob("*-lr0.01-seed0"):
        history = json.loads((run / "metrics.json").read_text())
        assert [h["epoch"] for h in history] == list(range(1, 41))


def test_ctrl_c_stops_a_parallel_sweep_at_once_and_leaves_no_worker(tmp_path):
    proc, _, workers = start_sweep(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)       # Ctrl-C in a terminal signals the whole group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted. Run the same command again to continue" in err
    assert "Traceback" not in err
    assert gone(workers)


def starting_workers(proc):
    """The sweep's two workers, as soon as both processes exist (before they import Paddle)."""
    deadline = time.monotonic() + 120
    while len(workers_of(proc.pid)) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    return workers_of(proc.pid)


def test_a_worker_killed_before_it_is_ready_fails_its_run_only(tmp_path):
    proc = launch(tmp_path)
    os.kill(starting_workers(proc)[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert out.count("FAILED: its worker process was killed by SIGKILL") == 1, out
    assert err.startswith("error: 1 run(s) failed") and "Traceback" not in err, err
    assert len(list(tmp_path.glob("*/*/result.json"))) == 2   # not a "could not start" error


def test_ctrl_c_while_the_workers_are_still_starting_is_no_traceback(tmp_path):
    proc = launch(tmp_path)
    workers = starting_workers(proc)
    for pid in workers:   # just started, still importing Paddle, and ignoring SIGINT already
        ignored = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("SigIgn:")), 16)
        assert ignored & (1 << (signal.SIGINT - 1)), f"worker {pid} would die of Ctrl-C with a traceback"
    # Past the milliseconds in which the sweep process, starting a worker, ignores Ctrl-C.
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert gone(workers)


def test_kill_9_of_the_sweep_takes_its_workers_with_it(tmp_path):
    proc, _, workers = start_sweep(tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    assert gone(workers), "workers kept training after their sweep was killed"


def test_a_script_without_a_main_guard_gets_a_clear_error_not_endless_workers(tmp_path):
    script = tmp_path / "my_sweep.py"
    script.write_text(
        "from course.engine.config import RunConfig\n"
        "from course.sweep.grid import Sweep\nfrom course.sweep.runner import run_sweep\n"
        f"base = RunConfig(dataset='mnist:{FIXTURE}', model='mlp_relu', epochs=1, subset=100, val_subset=50)\n"
        f"run_sweep(Sweep(base, ['sgd', 'adam'], [0.01], [0], {str(tmp_path / 'runs')!r}), jobs=2)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 1
    assert "before it was ready" in out.stderr and 'if __name__ == "__main__":' in out.stderr
