"""The learning-rate range test on real MNIST digits: its sweep, its stop, its suggestions, and
that it leaves the model, the optimizer and the data order exactly as it found them."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from course.cli import run_main
from course.engine.config import RunConfig
from course.engine.data import load_dataset
from course.engine.errors import ConfigError
from course.engine.experiment import build_training
from course.tools.lr_finder import find_lr, lr_schedule, steep, valley

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"


def make(**changes):
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", optimizer="sgd", lr=0.01,
                       batch_size=64, val_subset=500, seed=0).replace(**changes)
    data = load_dataset(config, progress=False)
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train), progress=False)
    return trainer, data


def params(trainer):
    return {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}


def opt_state(trainer):
    return {k: v.numpy().copy() for k, v in trainer.optimizer.state_dict().items() if hasattr(v, "numpy")}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} changed"


def train_steps(trainer, data, steps):
    """``steps`` optimizer steps through the trainer's own loop; returns the mean validation loss."""
    batches = [b for _, b in zip(range(steps), data.train)]
    trainer.train_epoch(batches)
    return trainer.evaluate(data.val)[0]


def test_rates_grow_exponentially_from_start_to_end_and_reach_the_optimizer():
    rates = lr_schedule(1e-6, 1.0, 13)
    assert rates[0] == pytest.approx(1e-6) and rates[-1] == pytest.approx(1.0)
    assert np.allclose(rates[1:] / rates[:-1], 10 ** 0.5)     # 6 decades in 12 equal log steps

    trainer, data = make(subset=320)                          # 5 batches: 13 steps cycle the data
    seen, step = [], trainer.train_epoch

    def spy(batches, epoch=0):
        seen.append(trainer.optimizer.get_lr())
        return step(batches, epoch)

    trainer.train_epoch = spy
    result = find_lr(trainer, data.train, start_lr=1e-6, end_lr=1.0, num_steps=13, diverge_factor=1e9)
    assert len(result.lrs) == 13 and not result.stopped_early
    assert np.allclose(seen, rates) and np.allclose(result.lrs, rates)


def test_smoothed_loss_is_the_bias_corrected_moving_average():
    trainer, data = make(subset=640)
    result = find_lr(trainer, data.train, num_steps=8, end_lr=1e-3, smooth=0.9)
    avg, expected = 0.0, []
    for i, loss in enumerate(result.raw_losses):
        avg = 0.9 * avg + 0.1 * loss
        expected.append(avg / (1 - 0.9 ** (i + 1)))
    assert np.allclose(result.losses, expected)
    assert result.losses[0] == pytest.approx(result.raw_losses[0])    # no pull toward 0 at the start


def test_stops_once_the_smoothed_loss_passes_four_times_its_best():
    trainer, data = make(subset=3200)
    result = find_lr(trainer, data.train, start_lr=1e-7, end_lr=100, num_steps=100)
    losses = np.array(result.losses)
    assert result.stopped_early and len(result.lrs) < 100
    # The last step is the first whose smoothed loss exceeds 4x the best before it (or is NaN).
    assert not np.isfinite(losses[-1]) or losses[-1] > 4 * losses[:-1].min()
    assert all(losses[i] <= 4 * losses[:i + 1].min() for i in range(len(losses) - 1))


@pytest.mark.parametrize("optimizer, state, end_lr", [("adam", "moment1", 10), ("sgd", None, 1000)])
def test_model_optimizer_lr_and_data_order_are_restored_bitwise(optimizer, state, end_lr):
    trainer, data = make(optimizer=optimizer, lr=0.002, subset=640)
    train_steps(trainer, data, 3)                       # Adam: moments and beta powers non-zero now
    before_params, before_opt = params(trainer), opt_state(trainer)
    before_data, before_step = data.train.state_dict(), trainer.global_step
    assert any(state in k for k in before_opt) if state else not before_opt   # SGD keeps no state

    result = find_lr(trainer, data.train, end_lr=end_lr, num_steps=60)
    assert result.stopped_early                         # it really went through a blow-up
    assert_same(params(trainer), before_params)
    assert_same(opt_state(trainer), before_opt)
    assert trainer.get_lr() == 0.002 and trainer.global_step == before_step and not trainer.diverged
    assert data.train.state_dict() == before_data


@pytest.mark.parametrize("optimizer, lr", [("adam", 0.001), ("momentum", 0.01)])
def test_training_after_lr_find_is_bit_identical_to_training_without_it(optimizer, lr):
    # Fresh optimizers (they create their state, named, at the first step) and a model with
    # dropout (the RNG must be put back too): lr_find, then 5 steps == the same 5 steps alone,
    # down to the names the optimizer's state is saved under.
    runs = {}
    for probe in (True, False):
        trainer, data = make(model="mlp_keras", optimizer=optimizer, lr=lr, subset=640)
        paddle.seed(7)                   # both trainings start from the same dropout RNG state
        if probe:
            find_lr(trainer, data.train, num_steps=30)
        loss = trainer.train_epoch([b for _, b in zip(range(5), data.train)])
        runs[probe] = (trainer, loss)
    (probed, probed_loss), (plain, plain_loss) = runs[True], runs[False]
    assert probed_loss == plain_loss
    assert_same(params(probed), params(plain))
    assert_same(opt_state(probed), opt_state(plain))
    assert any("moment1" in k or "velocity" in k for k in opt_state(probed))


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_a_checkpoint_saved_after_lr_find_loads_into_a_new_run(optimizer):
    trainer, data = make(optimizer=optimizer, subset=640)
    find_lr(trainer, data.train, num_steps=10)
    train_steps(trainer, data, 2)
    resumed, _ = make(optimizer=optimizer, subset=640)
    resumed.set_state_dict(trainer.state_dict())
    # Paddle hands the loaded state to the new optimizer at its first step, by name.
    batch = [next(iter(data.train))]
    resumed.train_epoch(batch)
    trainer.train_epoch(batch)
    assert_same(opt_state(resumed), opt_state(trainer))
    assert_same(params(resumed), params(trainer))


@pytest.mark.parametrize("optimizer, low, high", [("sgd", 1e-3, 1.0), ("adam", 1e-5, 1e-1)])
def test_suggestions_are_sensible_and_train_faster_than_the_start_rate(optimizer, low, high):
    # Measured on this fixture (mlp_relu, batch 64, 100 steps): SGD valley ~0.05, steep ~0.2;
    # Adam valley ~1e-3, steep ~3e-3 -- the rates the course's grid finds best for each.
    trainer, data = make(optimizer=optimizer)
    result = find_lr(trainer, data.train, num_steps=100)
    assert low <= result.suggestion_valley <= high
    assert low <= result.suggestion_steep <= high

    losses = {}
    for name, lr in (("valley", result.suggestion_valley), ("start", 1e-7)):
        trainer, data = make(optimizer=optimizer, lr=lr)
        losses[name] = train_steps(trainer, data, 30)
    assert losses["valley"] < losses["start"] - 0.5, losses


def test_valley_and_steep_on_a_known_curve():
    lrs = np.logspace(-5, 0, 11)
    losses = np.array([2.3, 2.3, 2.2, 2.0, 1.5, 0.9, 0.6, 0.5, 0.55, 1.5, 4.0])
    assert steep(lrs, losses) == lrs[4]         # slope (0.9 - 2.0) / 1 decade is the steepest
    # Longest decline: indices 0/1 .. 7 (7 points down); fastai picks start + L/3 + L/6 -> 3.
    assert valley(lrs, losses) == lrs[3]
    # A spike that decays afterwards (it did not trigger the stop): the steeper fall after the
    # minimum is the decay at far too large rates, not a suggestion.
    spiked = np.array([2.3, 2.3, 2.2, 2.0, 1.5, 0.9, 0.6, 0.5, 6.0, 3.0, 1.0])
    assert steep(lrs, spiked) == lrs[4]


def test_a_schedule_driven_rate_is_refused():
    trainer, data = make(subset=128, schedule="cosine")
    with pytest.raises(ConfigError, match="constant"):
        find_lr(trainer, data.train, num_steps=5)
    # Built by hand: the schedule is known to the optimizer only.
    schedule = paddle.optimizer.lr.StepDecay(0.1, step_size=2)
    optimizer = paddle.optimizer.Adam(schedule, parameters=trainer.model.parameters())
    with pytest.raises(ConfigError, match="driven by an LRScheduler"):
        find_lr((trainer.model, optimizer, "ce"), data.train, num_steps=5)


def test_cli_dry_run_writes_plot_csv_and_json(tmp_path, capsys):
    from scripts.lr_find import main

    out = tmp_path / "lrf"
    code = run_main(main, ["--dataset", f"mnist:{FIXTURE}", "--model", "mlp_relu", "--dry-run",
                           "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "valley" in printed and str(out / "lr_find.png") in printed
    assert (out / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((out / "lr_find.csv").open()))
    saved = json.loads((out / "lr_find.json").read_text())
    assert 2 <= len(rows) <= 20 and len(saved["lrs"]) == len(rows)
    assert saved["suggestion_valley"] > 0 and saved["settings"]["num_steps"] == 20


def test_cli_bad_flag_value_is_one_line_and_exit_code_2():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "lr_find.py"), "--start-lr", "1",
                           "--end-lr", "0.5"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: end_lr must be greater than start_lr (1), got 0.5"
