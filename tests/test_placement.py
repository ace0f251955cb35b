"""--jobs auto: one run per visible GPU when the runs train on GPUs, each worker pinned to its card;
one per core on a CPU; a number wins. The GPU count is mocked: this machine has none."""
import os

import pytest

from course.engine.device import WorkerPlan, plan_workers
from course.engine.errors import ConfigError
from course.engine.validate import parse_jobs


@pytest.fixture(autouse=True)
def no_visible_devices_set(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.mark.parametrize("jobs, device, gpus, cores, expected", [
    ("auto", "auto", 0, 4, WorkerPlan(4)),                           # a CPU: one run per core
    ("auto", "cpu", 2, 4, WorkerPlan(4)),                            # GPUs there, but not asked for
    ("auto", "auto", 2, 16, WorkerPlan(2, ("0", "1"))),              # one run per card
    ("auto", "gpu", 4, 16, WorkerPlan(4, ("0", "1", "2", "3"))),
    ("auto", "auto", 1, 16, WorkerPlan(1)),                          # one card: in this process
    ("auto", "gpu:1", 2, 16, WorkerPlan(1)),                         # one card named: one run on it
    (3, "auto", 2, 16, WorkerPlan(3, ("0", "1", "0"))),              # a number wins, dealt out in turn
    (1, "auto", 2, 16, WorkerPlan(1)),
    (3, "gpu:0", 2, 16, WorkerPlan(3)),                              # all on the named card
    (2, "cpu", 0, 8, WorkerPlan(2)),
])
def test_the_plan_for_each_machine(jobs, device, gpus, cores, expected):
    assert plan_workers(jobs, device, gpus=gpus, cores=cores) == expected


def test_cards_already_narrowed_by_cuda_visible_devices_keep_their_names(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert plan_workers("auto", "auto", gpus=2, cores=8).cards == ("2", "3")


def test_the_gpu_count_comes_from_paddle(monkeypatch):
    monkeypatch.setattr("paddle.device.is_compiled_with_cuda", lambda: True)
    monkeypatch.setattr("paddle.device.cuda.device_count", lambda: 2)
    assert plan_workers("auto", "auto", cores=8) == WorkerPlan(2, ("0", "1"))
    assert plan_workers("auto", "auto").describe() == "2 at a time (on GPU 0, 1)"
    assert plan_workers("auto", "auto").describe(runs=1) == "1 at a time"


def test_this_cpu_gets_one_run_per_core():
    assert plan_workers("auto", "auto") == WorkerPlan(os.cpu_count())


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("AUTO", "auto"), ("3", 3), (2, 2)])
def test_jobs_is_auto_or_a_number(text, expected):
    assert parse_jobs(text) == expected


@pytest.mark.parametrize("text, message", [("0", "--jobs: must be >= 1, got 0"),
                                           ("many", "--jobs: expected 'auto' or a number of runs"),
                                           ("1.5", "--jobs: expected 'auto'")])
def test_a_bad_jobs_value_names_the_flag(text, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        parse_jobs(text)


def test_each_sweep_worker_starts_with_its_card_visible(tmp_path, monkeypatch):
    """The sweep pins worker i to cards[i] through CUDA_VISIBLE_DEVICES (on this CPU-only build
    the variable changes nothing else), and the sweep's own environment is left as it was."""
    from course.sweep import runner, workers
    from course.sweep.grid import Sweep
    from course.engine.config import RunConfig

    seen = []
    start = workers._Worker.start

    def recording_start(self):
        seen.append((self.card, os.environ.get("CUDA_VISIBLE_DEVICES")))
        start(self)

    monkeypatch.setattr(workers._Worker, "start", recording_start)
    monkeypatch.setattr(runner, "plan_workers", lambda jobs, device: WorkerPlan(2, ("5", "7")))
    fixture = os.path.join(os.path.dirname(__file__), "fixtures", "mnist_small.npz")
    base = RunConfig(dataset=f"mnist:{fixture}", model="linear", epochs=1, subset=64, val_subset=100)
    results = runner.run_sweep(Sweep(base, ["sgd", "adam"], [0.01], [0], str(tmp_path)), jobs="auto",
                               progress=False, quiet=True)
    assert all(r is not None for r in results)
    assert sorted(seen) == [("5", "5"), ("7", "7")]
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
