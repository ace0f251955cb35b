"""--backend ray on a real three-node Ray cluster on this machine (a head without CPUs, two nodes of
one CPU each, all bound to 127.0.0.1), started once for the module, driven through the sweep's own
command with --address: the grid spreads over both nodes with the numbers of a local --jobs 1
sweep, a worker killed mid-run is retried and resumes from its last epoch, Ctrl-C leaves a sweep
the same command finishes. Every run has each of its epochs exactly once."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

if os.environ.get("PADDLE_OPT_LAB_NEED_RAY"):   # CI installs Ray: there these tests must run
    import ray  # noqa: F401
else:
    pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

from course.engine.config import RunConfig  # noqa: E402
from course.sweep.grid import Sweep  # noqa: E402
from course.sweep.runner import run_sweep  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
SCRIPT = ROOT / "scripts" / "compare_optimizers.py"
SMALL = {"model": "mlp_relu", "subset": 500, "val_subset": 200}
# Ray on a shared machine: small object stores, no dashboard, nothing reported home, loopback only.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
NODE = {"object_store_memory": 100 * 1024 ** 2, "node_ip_address": "127.0.0.1"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from ray.cluster_utils import Cluster

    saved = {key: os.environ.get(key) for key in RAY_ENV}
    os.environ.update(RAY_ENV)
    # Ray's socket paths must stay under 107 characters: a short temporary folder of its own.
    temp = Path("/tmp") / f"ray-test-{os.getpid()}"
    cluster = Cluster(initialize_head=True, head_node_args={
        **NODE, "num_cpus": 0, "include_dashboard": False, "temp_dir": str(temp)})
    for _ in range(2):
        cluster.add_node(**NODE, num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()
    shutil.rmtree(temp, ignore_errors=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def sweep_args(logdir, optimizers="sgd,adam", lrs="0.01,0.05", epochs=2):
    return ["--dataset", f"mnist:{FIXTURE}", "--model", SMALL["model"], "--subset", str(SMALL["subset"]),
            "--val-subset", str(SMALL["val_subset"]), "--optimizers", optimizers, "--lrs", lrs,
            "--epochs", str(epochs), "--logdir", str(logdir), "--no-progress"]


def drive(cluster, args, **popen):
    """The sweep's command against the test's cluster, as a user starts it: --address HOST:PORT."""
    port = cluster.address.rsplit(":", 1)[1]
    return subprocess.Popen([sys.executable, str(SCRIPT), *args, "--backend", "ray",
                             "--address", f"127.0.0.1:{port}"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def without_timings(history):
    return [{k: v for k, v in epoch.items() if "seconds" not in k} for epoch in history]


def visualdl_name(run_dir):
    from visualdl import LogReader

    (record,) = (run_dir / "vdl").glob("vdlrecords.*.log")
    return LogReader(file_path=str(record)).get_data("meta_data", "meta_data_tag")[0].meta_data.display_name


def read_runs(root):
    return {d.name: (json.loads((d / "metrics.json").read_text()), json.loads((d / "result.json").read_text()),
                     (d / "train.log").read_text()) for d in sorted(root.iterdir()) if d.is_dir()}


def assert_each_epoch_once(runs, epochs):
    for name, (history, result, log) in runs.items():
        assert [h["epoch"] for h in history] == list(range(1, epochs + 1)), name
        assert result["epochs_run"] == epochs, name
        for epoch in range(1, epochs + 1):   # the log's epoch lines come back with their checkpoint
            assert log.count(f"] epoch {epoch}/{epochs}:") == 1, (name, epoch, log)


def test_a_grid_over_two_nodes_gives_the_numbers_of_a_local_jobs_1_sweep(cluster, tmp_path, monkeypatch):
    proc = drive(cluster, sweep_args(tmp_path / "ray"))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    ray_root = tmp_path / "ray" / "mnist_mnist_small-mlp_relu"
    runs = read_runs(ray_root)
    assert len(runs) == 4
    nodes = {re.search(r"ray: attempt 1 on node \S+ (\w+)", log).group(1) for _, _, log in runs.values()}
    assert len(nodes) == 2, "the runs did not spread over both nodes"
    assert "ray: 4 run(s) trained on 2 node(s)" in out
    assert (ray_root / "comparison.md").is_file() and (ray_root / "curves.png").is_file()
    for name in runs:   # what a local run leaves, and nothing of the transfer
        files = {p.relative_to(ray_root / name).parts[0] for p in (ray_root / name).rglob("*")}
        assert {"config.json", "metrics.csv", "last.pdckpt", "model.pdparams", "vdl"} <= files, name
        assert not [f for f in files if f.startswith(".")], name

    base = RunConfig(dataset=f"mnist:{FIXTURE}", epochs=2, **SMALL)
    local = Sweep(base, optimizers=["sgd", "adam"], lrs=[0.01, 0.05], logdir=str(tmp_path / "local"))
    # Each Ray run trains on its one CPU (--cpus-per-run 1) with one thread; a local --jobs 1 run
    # gets every core, and a run's last digits depend on its thread count (runner.threads_per_job):
    # so the local sweep is the one a 1-core machine runs.
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    run_sweep(local, jobs=1, progress=False, quiet=True)
    for name, (history, result, _) in read_runs(local.root).items():
        ray_history, ray_result, _ = runs[name]
        assert without_timings(ray_history) == without_timings(history), name   # same seed, same numbers
        assert (ray_result["test_acc"], ray_result["test_loss"]) == (result["test_acc"], result["test_loss"])
        assert visualdl_name(ray_root / name) == visualdl_name(local.root / name)   # 'adam lr=0.01'


def train_processes(cluster):
    """The Ray worker processes of the test's cluster now training a run (``ray::train_run``)."""
    def descendants(pid):
        path = Path(f"/proc/{pid}/task/{pid}/children")
        children = [int(c) for c in path.read_text().split()] if path.exists() else []
        return children + [d for c in children for d in descendants(c)]

    raylets = [node.all_processes["raylet"][0].process.pid for node in cluster.worker_nodes]
    found = []
    for pid in (d for r in raylets for d in descendants(r)):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::train_run"):
                found.append(pid)
        except OSError:   # it ended meanwhile
            pass
    return found


def wait_for(predicate, proc, timeout=180):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def stored_epochs(root):
    return sum(len(json.loads(p.read_text())) for p in root.glob("*/metrics.json"))


def test_a_worker_killed_mid_run_is_retried_and_the_run_resumes_from_its_last_epoch(cluster, tmp_path):
    # One run, long enough (an epoch here takes ~0.05 s on a quiet machine) that it is still
    # training when it is killed: the only ray::train_run process is then the one to kill.
    epochs = 40
    proc = drive(cluster, sweep_args(tmp_path, optimizers="sgd", lrs="0.01", epochs=epochs))
    root = tmp_path / "mnist_mnist_small-mlp_relu"
    wait_for(lambda: stored_epochs(root) >= 2, proc)   # an epoch of the run is in --logdir
    os.kill(wait_for(lambda: train_processes(cluster), proc)[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)

    assert proc.returncode == 0, err
    runs = read_runs(root)
    assert len(runs) == 1
    assert_each_epoch_once(runs, epochs)
    retried = [name for name, (_, _, log) in runs.items() if "ray: attempt 2 on node" in log]
    assert len(retried) == 1, out
    resumed = re.search(rf"training from epoch (\d+)/{epochs}", out)
    assert resumed and int(resumed.group(1)) >= 2, out   # not from the start: from its checkpoint


def test_ctrl_c_cancels_the_runs_and_the_same_command_finishes_the_sweep(cluster, tmp_path):
    epochs = 40   # long enough that neither run ends before the Ctrl-C, on a quiet machine too
    args = sweep_args(tmp_path, lrs="0.01", epochs=epochs)
    proc = drive(cluster, args, start_new_session=True)
    root = tmp_path / "mnist_mnist_small-mlp_relu"
    wait_for(lambda: stored_epochs(root) >= 2, proc)
    os.killpg(proc.pid, signal.SIGINT)                  # Ctrl-C in a terminal signals the group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted. Run the same command again to continue" in err and "Traceback" not in err
    deadline = time.monotonic() + 30
    while train_processes(cluster):                      # the cancelled runs stop training
        assert time.monotonic() < deadline, "a run kept training after Ctrl-C"
        time.sleep(0.2)
    assert not list(root.glob("*/result.json")) and stored_epochs(root) >= 2

    again = drive(cluster, args)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    resumed = [int(n) for n in re.findall(rf"training from epoch (\d+)/{epochs}", out)]
    assert resumed and max(resumed) >= 2, out   # a run went on from its stored epochs
    assert_each_epoch_once(read_runs(root), epochs)
