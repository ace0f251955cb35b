"""What a sweep prints while it runs: a short line per epoch of every run as it ends, forwarded
from the worker processes with --jobs 2 and printed directly with --jobs 1; early stops and
divergences in their place; how far the sweep is and the time it has left; no bar, carriage
return or control character where output is not a terminal; and with --quiet the table alone."""
import contextlib
import io
import re
from pathlib import Path

import pytest

from course.chapters.ch4_optimizers import command_line
from course.chapters.common import run_and_report
from course.engine.config import RunConfig
from course.engine.experiment import run_experiment
from course.engine.progress import SweepProgress
from course.sweep.grid import Sweep

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"
ARGS = ["--dataset", f"mnist:{FIXTURE}", "--model", "mlp_relu", "--optimizers", "sgd,adam",
        "--lrs", "0.01", "--epochs", "2", "--subset", "300", "--val-subset", "200"]
LABELS = ["sgd lr=0.01", "adam lr=0.01"]


def sweep_output(logdir, *flags) -> tuple[str, str]:
    """stdout and stderr of a sweep chapter's flags and ending (``run_and_report``), run in this
    process, where output is not a terminal."""
    cl = command_line()
    args = cl.parse([*ARGS, "--logdir", str(logdir), *flags])
    sweep = Sweep(cl.config(args), args.optimizers, args.lrs, args.seeds, args.logdir)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        run_and_report(sweep, args, title="progress")
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    # Progress left on (the default): off a terminal it must turn into plain lines by itself.
    return sweep_output(tmp_path_factory.mktemp("jobs2"), "--jobs", "2")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return sweep_output(tmp_path_factory.mktemp("jobs1"), "--jobs", "1")


def run_lines(out: str) -> list[str]:
    """The lines about runs ('[adam lr=0.01] ...'), their measured numbers masked."""
    return [re.sub(r"\d+\.\d+", "#", line) for line in out.splitlines() if line.startswith("[")]


def seconds(text: str) -> float:
    """``hms``'s '7.4s', '2m 05s' or '1h 02m 03s' back to seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)([hms])", text))


def test_a_parallel_sweep_shows_each_epoch_of_each_run_once_and_in_order(parallel):
    out, err = parallel
    lines = out.splitlines()
    for label in LABELS:
        mine = [line for line in lines if line.startswith(f"[{label}] ")]
        kinds = [line.split("] ", 1)[1].split("  ")[0] for line in mine]
        assert kinds[:3] == ["training", "epoch 1/2", "epoch 2/2"], mine
        assert len(kinds) == 4 and kinds[3].startswith("best val acc "), mine
        assert re.fullmatch(rf"\[{label}\] epoch 1/2  loss \d+\.\d{{3}}  val \d+\.\d%  \d+\.\ds", mine[1])
    assert any(line.startswith("| sgd | 0.01 |") for line in lines)
    assert any(line.startswith("| adam | 0.01 |") for line in lines)
    for text in (out, err):
        assert "\r" not in text and "\x1b" not in text


def test_one_job_prints_the_same_lines_as_two(parallel, serial):
    assert sorted(run_lines(serial[0])) == sorted(run_lines(parallel[0]))
    assert "\r" not in serial[0] + serial[1] and "\x1b" not in serial[0] + serial[1]


def test_the_time_left_is_shown_with_the_whole_sweeps_estimate_first(parallel):
    out = parallel[0]
    lines = out.splitlines()
    left = [i for i, line in enumerate(lines) if re.fullmatch(r"sweep: .*, about .+ left", line)]
    whole = [i for i, line in enumerate(lines) if re.fullmatch(
        r"sweep: about [\d.ms ]+ in all on this machine \(estimated from the epochs timed so far\)", line)]
    assert left and len(whole) == 1 and whole[0] < left[0], out      # said once, at the first epoch
    assert re.search(r"^sweep: 2 runs, 4 epochs in [\d.]+s$", out, flags=re.M), out


class FakeClock:
    """The seconds a test sets, for SweepProgress and SweepConsole."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_time_left_counts_each_runs_overhead_outside_its_epochs():
    # Two runs of 2 epochs, one at a time. Run a: its slot is free at 0 s, it starts training at
    # 3 (data loaded, model built), epochs of 5 s end at 8 and 13, it is done at 15 (test pass,
    # files): 5 s outside its epochs. Run b: slot free at 15, epochs end at 23 and 28, done at 30.
    # At 8 s only the 3 s before a's first epoch are known as overhead:
    #   a: 1 epoch x 5 s + (3 - 3 already spent) = 5;  b: 2 x 5 + 3 = 13  -> about 18 s left
    #   (counting epochs only said 3 x 5 = 15), the whole sweep about 8 + 18 = 26 s.
    # At 15 s a's 5 s are measured: b: 2 x 5 + 5 = 15 s left.
    # At 28 s b's epochs are done but not its overhead: 5 - (28 - 15 - 10) = 2 s left (not 0.0).
    from course.sweep.runner import SweepConsole

    clock, out = FakeClock(), io.StringIO()
    a, b = RunConfig(dataset=f"mnist:{FIXTURE}", epochs=2), RunConfig(dataset=f"mnist:{FIXTURE}", epochs=2,
                                                                       optimizer="adam")
    with contextlib.redirect_stdout(out):
        console = SweepConsole([(a, Path("a")), (b, Path("b"))], jobs=1, progress=False, clock=clock)

        def at(seconds, event):
            clock.now = seconds
            console.report(event)

        for config, t0 in ((a, 0.0), (b, 15.0)):
            run = config.run_name()
            at(t0 + 3, {"event": "start", "run": run, "epoch": 0, "epochs": 2})
            for n in (1, 2):
                at(t0 + 3 + 5 * n, {"event": "epoch", "run": run, "epochs": 2, "logs": {
                    "epoch": n, "train_loss": 0.5, "val_acc": 0.9, "epoch_seconds": 5.0}})
            if config is b:
                assert console.tally.status()["eta"] == pytest.approx(2.0)
            at(t0 + 15, {"event": "done", "run": run, "result": {
                "diverged": False, "best_val_acc": 0.9, "test_acc": 0.9, "epochs_run": 2, "total_seconds": 12.0}})
        console.finish()
    status = [line for line in out.getvalue().splitlines() if line.startswith("sweep:")]
    assert status == ["sweep: about 26.0s in all on this machine (estimated from the epochs timed so far)",
                      "sweep: 0/2 runs, 1/4 epochs, 8.0s elapsed, about 18.0s left",
                      "sweep: 1/2 runs, 2/4 epochs, 15.0s elapsed, about 15.0s left",
                      "sweep: 2 runs, 4 epochs in 30.0s"]


def test_two_jobs_share_the_overhead_and_a_slot_comes_free_when_a_run_ends():
    # Three 1-epoch runs, two at a time. a and b take the two slots free at 0 s, start at 2, end
    # their epoch (10 s) at 12, and are done at 14 and 15: 4 and 5 s outside the epoch. c takes the
    # slot a left at 14. At 15 s: c has 1 epoch x 10 s + the mean overhead 4.5 s = 14.5 s of work,
    # on one of the two slots (one run left).
    clock = FakeClock()
    p = SweepProgress({"a": 1, "b": 1, "c": 1}, jobs=2, clock=clock)
    for t, event in [(2, {"event": "start", "run": "a", "epoch": 0}), (2, {"event": "start", "run": "b", "epoch": 0}),
                     (12, {"event": "epoch", "run": "a", "logs": {"epoch": 1, "epoch_seconds": 10.0}}),
                     (12, {"event": "epoch", "run": "b", "logs": {"epoch": 1, "epoch_seconds": 10.0}}),
                     (14, {"event": "done", "run": "a", "result": {"epochs_run": 1}}),
                     (15, {"event": "done", "run": "b", "result": {"epochs_run": 1}})]:
        clock.now = t
        p.update(event)
        if t == 12 and event["run"] == "a":
            # overhead known: a's 2 s before its epoch. a: done training, its 2 s spent -> 0;
            # b: 1 x 10 + (2 - 2 spent) = 10; c: 1 x 10 + 2 = 12 -> 22 s of work on 2 slots
            assert p.status()["eta"] == pytest.approx(11.0)
    assert p.overhead() == pytest.approx(4.5) and p.status()["eta"] == pytest.approx(14.5)
    clock.now = 16
    p.update({"event": "start", "run": "c", "epoch": 0})
    assert p.began["c"] == 14          # the slot a left, not b's (15) nor the start itself (16)


def test_quiet_prints_the_table_only(tmp_path):
    out, _ = sweep_output(tmp_path, "--jobs", "1", "--quiet")
    lines = out.strip().splitlines()
    assert all(line.startswith("|") for line in lines), out
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| sgd", "| adam"]


def test_the_time_left_counts_the_epochs_still_to_train_over_the_jobs():
    def epoch(run, n, s=10.0):
        return {"event": "epoch", "run": run, "epochs": 3, "logs": {"epoch": n, "epoch_seconds": s}}

    clock = SweepProgress({"a": 3, "b": 3, "c": 3}, jobs=2)
    assert clock.status()["eta"] is None                          # nothing measured yet
    clock.update({"event": "start", "run": "c", "epoch": 2, "epochs": 3})   # resumed after 2
    clock.update(epoch("a", 1))
    clock.update(epoch("b", 1, s=20.0))
    status = clock.status()
    assert (status["epochs_done"], status["epochs"]) == (4, 9)
    assert status["eta"] == pytest.approx(5 * 15.0 / 2)           # 2 + 2 + 1 epochs, 15 s, 2 at once
    clock.update({"event": "done", "run": "b", "result": {"epochs_run": 1}})   # stopped early
    clock.update({"event": "failed", "run": "c", "message": "killed"})
    status = clock.status()
    assert (status["runs_done"], status["epochs_done"], status["epochs"]) == (2, 4, 6)
    assert status["eta"] == pytest.approx(2 * 15.0)               # a's 2 epochs, one run left


def test_a_run_reports_its_early_stop_and_divergence_after_the_epoch_that_ends_it(tmp_path):
    small = dict(dataset=f"mnist:{FIXTURE}", model="mlp_relu", batch_size=32, subset=1000,
                 val_subset=300, epochs=3)
    events = []
    # min_delta=1: no epoch after the first can improve, so patience 0 stops the run at epoch 2.
    run_experiment(RunConfig(**small, optimizer="adam", early_stop="monitor=val_acc,min_delta=1,patience=0"),
                   tmp_path / "stops", progress=False, log_visualdl=False, report=events.append)
    assert [e["event"] for e in events] == ["start", "epoch", "epoch", "stopped", "done"]
    assert events[3] == {"event": "stopped", "run": "adam-lr0.01-seed0", "epochs": 3, "epoch": 2,
                         "monitor": "val_acc", "best_epoch": 1}
    events.clear()
    run_experiment(RunConfig(**small, optimizer="momentum", lr=1e4), tmp_path / "blows_up",
                   progress=False, log_visualdl=False, report=events.append)
    assert [e["event"] for e in events] == ["start", "epoch", "diverged", "done"]
    assert events[-1]["result"]["diverged"] and events[2]["reason"] == events[-1]["result"]["diverged_reason"]


def test_on_a_terminal_a_bar_shows_where_the_sweep_is_and_lines_print_above_it(monkeypatch):
    from course.sweep import runner

    monkeypatch.setattr(runner, "on_terminal", lambda *streams: True)
    out, err, clock = io.StringIO(), io.StringIO(), FakeClock()
    config = RunConfig(dataset=f"mnist:{FIXTURE}", epochs=2)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        console = runner.SweepConsole([(config, Path("unused"))], jobs=1, clock=clock)
        clock.now = 3.0
        console.report({"event": "epoch", "run": config.run_name(), "epochs": 2,
                        "logs": {"epoch": 1, "train_loss": 0.5, "val_acc": 0.9, "epoch_seconds": 3.0}})
        console.close()
    assert out.getvalue() == ("[sgd lr=0.01] epoch 1/2  loss 0.500  val 90.0%  3.0s\n"   # no status line:
                              "sweep: about 6.0s in all on this machine (estimated from the epochs timed so far)\n")
    assert "sweep: 0/1 runs, 1/2 epochs" in err.getvalue() and "about 3.0s left" in err.getvalue()   # the bar
