"""A run interrupted after epoch k and resumed ends exactly as the run that was never stopped."""
import json
from pathlib import Path

import numpy as np
import paddle
import pytest

from course.engine.config import RunConfig
from course.engine.experiment import run_experiment
from course.engine.run_events import RunEvents
from course.engine.trainer import Trainer

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_small.npz"


def interrupt_after_epochs(monkeypatch, k):
    """Make a run raise KeyboardInterrupt right after epoch k was saved and reported, like Ctrl-C."""
    original = RunEvents.on_epoch_end   # the last callback of a run

    def on_epoch_end(self, trainer, epoch, logs):
        original(self, trainer, epoch, logs)
        if len(trainer.history) == k:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunEvents, "on_epoch_end", on_epoch_end)


def metrics(run_dir):
    history = json.loads((run_dir / "metrics.json").read_text())
    return [{k: v for k, v in h.items() if k != "epoch_seconds"} for h in history]


@pytest.mark.parametrize("k", [1, 2])
def test_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch, k):
    # Dropout (mlp_keras), Adam moments, a shuffled loader and ReduceLROnPlateau's counters and
    # lowered rate must all survive the interruption for the results to match bit for bit.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_keras", optimizer="adam", lr=0.01,
                       epochs=4, batch_size=64, subset=640, val_subset=200, seed=7,
                       reduce_lr_on_plateau="monitor=val_loss,factor=0.5,patience=0,min_delta=10")
    whole = run_experiment(config, tmp_path / "whole", progress=False)

    with monkeypatch.context() as m:
        interrupt_after_epochs(m, k)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "cut", progress=False)
    assert not (tmp_path / "cut" / "result.json").exists()
    assert len(json.loads((tmp_path / "cut" / "metrics.json").read_text())) == k

    resumed = run_experiment(config, tmp_path / "cut", progress=False)
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "whole")
    lrs = [h["lr"] for h in metrics(tmp_path / "whole")]
    # Epoch 1 sets the best value; from epoch 2 on nothing improves by min_delta=10, so with
    # patience 0 the rate is halved at the end of epochs 2 and 3 (Keras's rule).
    assert lrs == [0.01, 0.01, 0.005, 0.0025]
    a = paddle.load(str(tmp_path / "whole" / "model.pdparams"))
    b = paddle.load(str(tmp_path / "cut" / "model.pdparams"))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
    assert resumed["test_acc"] == whole["test_acc"] and resumed["test_loss"] == whole["test_loss"]


def test_a_restarted_run_removes_the_temporary_files_a_kill_left(tmp_path):
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=1, subset=320, val_subset=100)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".last.pdckpt.12345.tmp").write_bytes(b"half a checkpoint")
    run_experiment(config, run_dir, progress=False)
    assert not list(run_dir.glob(".*.tmp")) and (run_dir / "result.json").is_file()


def test_a_resumed_run_keeps_the_thread_count_it_started_with(tmp_path, monkeypatch):
    # oneDNN and MKL split their sums by thread, so a run's numbers depend on its thread count:
    # resumed in a process set to another count, it must go on with its own to end the same.
    from course.engine.device import cpu_threads, set_cpu_threads

    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="lenet", optimizer="adam", lr=0.01,
                       epochs=2, batch_size=64, subset=640, val_subset=200, seed=3)
    before = cpu_threads()
    try:
        set_cpu_threads(2)
        whole = run_experiment(config, tmp_path / "whole", progress=False)
        with monkeypatch.context() as m:
            interrupt_after_epochs(m, 1)
            with pytest.raises(KeyboardInterrupt):
                run_experiment(config, tmp_path / "cut", progress=False)
        set_cpu_threads(1)
        import course.engine.device as device
        with monkeypatch.context() as m:   # a resumed run that breaks sets the count back too
            m.setattr(Trainer, "fit", lambda *a, **k: 1 / 0)
            with pytest.raises(ZeroDivisionError):
                run_experiment(config, tmp_path / "cut", progress=False)
        assert cpu_threads() == 1
        counts = []
        with monkeypatch.context() as m:
            m.setattr(device, "set_cpu_threads", lambda n: counts.append(n) or set_cpu_threads(n))
            resumed = run_experiment(config, tmp_path / "cut", progress=False)
        assert counts == [2, 1]     # trained on with its own 2 threads, then set back to 1
        assert cpu_threads() == 1   # the process's own count is set back after the run
    finally:
        set_cpu_threads(before)
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "whole")
    assert resumed["test_loss"] == whole["test_loss"]


def test_a_run_killed_between_an_epochs_line_and_its_checkpoint_logs_each_epoch_once(tmp_path, monkeypatch):
    # A run prints an epoch's line, then saves its checkpoint: killed in between, it resumes
    # from the epoch before and prints the lost epoch again; the log must keep that line once.
    import course.engine.run_files as run_files
    from course.sweep.workers import train_logged

    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=4, subset=320, val_subset=100)
    run_dir = tmp_path / "run"
    save_resume = run_files.save_resume

    def killed_at_epoch_3(path, trainer, train_data):
        if len(trainer.history) == 3:
            raise KeyboardInterrupt
        save_resume(path, trainer, train_data)

    with monkeypatch.context() as m:
        m.setattr(run_files, "save_resume", killed_at_epoch_3)
        with pytest.raises(KeyboardInterrupt):
            train_logged(config, run_dir, stderr=False)
    assert (run_dir / "train.log").read_text().count("] epoch 3/4:") == 1   # printed, not saved

    train_logged(config, run_dir, stderr=False)
    log = (run_dir / "train.log").read_text()
    assert [log.count(f"] epoch {n}/4:") for n in range(1, 5)] == [1, 1, 1, 1], log
    assert log.rstrip().splitlines()[-1].startswith("best val acc")   # written on after the cut
    assert len(json.loads((run_dir / "metrics.json").read_text())) == 4


def test_an_epoch_is_reported_only_once_its_checkpoint_is_saved(tmp_path):
    # The sweep's console shows what report gets: an epoch shown must be one a restart keeps.
    from course.engine.checkpoint import read_checkpoint

    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=2, subset=320, val_subset=100)
    run_dir, seen = tmp_path / "run", []

    def report(event):
        if event["event"] == "epoch":
            saved = read_checkpoint(run_dir / "last.pdckpt")["extra"]["trainer"]["history"]
            seen.append((event["logs"]["epoch"], len(saved)))
        else:
            seen.append(event["event"])

    run_experiment(config, run_dir, progress=False, report=report)
    assert seen == ["start", (1, 1), (2, 2), "done"]
