"""The report's order and its choices: the table lists optimizers in the sweep's order with their
rates from the largest down, each cell's numbers are the mean and spread over its seeds, and the
confirmation keeps an optimizer whose best rate lost some seeds but not all of them.

Synthetic rows and runs, each number worked out by hand.
"""
import pytest

from course.engine.config import RunConfig
from course.sweep.confirm import confirmation_sweep
from course.sweep.grid import Sweep
from course.sweep.report import markdown_table, summarize_groups
from tests.conftest import MNIST_SMALL_PATH


def run(opt, lr, seed, best, diverged=False):
    return {"optimizer": opt, "lr": lr, "seed": seed, "best_val_acc": best, "final_val_acc": best,
            "test_acc": best, "test_loss": 0.1, "epochs_run": 2, "stopped_early": False,
            "diverged": diverged, "target_acc": 0.97, "epochs_to_target": None,
            "seconds_to_target": None, "total_seconds": 4.0, "history": [{"lr": lr}]}


def test_the_table_follows_the_sweeps_optimizer_order_then_the_rates_from_the_largest():
    # Given in a shuffled order; the sweep's order is sgd, adam; rmsprop and nadam are not in it,
    # so they come after, by name.
    runs = [run("adam", 0.001, 0, 0.97), run("sgd", 0.01, 0, 0.95), run("rmsprop", 0.01, 0, 0.9),
            run("adam", 0.1, 0, 0.5), run("sgd", 0.1, 0, 0.96), run("nadam", 0.01, 0, 0.9),
            run("sgd", 0.001, 0, 0.9), run("adam", 0.01, 0, 0.98)]
    rows = summarize_groups(runs, ["sgd", "adam"])
    assert [(r["optimizer"], r["lr"]) for r in rows] == [
        ("sgd", 0.1), ("sgd", 0.01), ("sgd", 0.001), ("adam", 0.1), ("adam", 0.01), ("adam", 0.001),
        ("nadam", 0.01), ("rmsprop", 0.01)]
    lines = markdown_table(rows).splitlines()[2:]
    assert [line.split(" | ")[:2] for line in lines] == [
        ["| sgd", "0.1"], ["| sgd", "0.01"], ["| sgd", "0.001"], ["| adam", "0.1"], ["| adam", "0.01"],
        ["| adam", "0.001"], ["| nadam", "0.01"], ["| rmsprop", "0.01"]]


def test_a_cell_is_the_mean_and_spread_over_its_seeds():
    # best val acc 0.96, 0.98, 0.97 -> mean 0.97, sample std sqrt((1e-4 + 1e-4 + 0) / 2) = 0.01;
    # one of the three diverged.
    runs = [run("sgd", 0.1, 0, 0.96), run("sgd", 0.1, 1, 0.98), run("sgd", 0.1, 2, 0.97, diverged=True)]
    (row,) = summarize_groups(runs)
    assert (row["seeds"], row["diverged"]) == (3, 1)
    assert row["best_val_acc"] == pytest.approx(0.97) and row["best_val_acc_std"] == pytest.approx(0.01)
    assert "| sgd | 0.1 | 3 | 97.00% ± 1.00 |" in markdown_table([row])
    assert "| yes (1/3) |" in markdown_table([row])


def test_the_confirmation_keeps_a_best_rate_that_lost_some_seeds_but_not_all():
    # sgd: 0.1 lost 1 of 2 seeds but still has the best mean (0.96 > 0.95): confirmed at 0.1.
    # adam: 0.1 lost both seeds (its 0.6 is from before it diverged), so its best rate is 0.01.
    # momentum: every seed of every rate diverged: nothing to confirm.
    sweep = Sweep(RunConfig(dataset=f"mnist:{MNIST_SMALL_PATH}", model="mlp_relu"),
                  ["sgd", "adam", "momentum"], [0.1, 0.01], seeds=[0, 1], logdir="unused", confirm_best=1)
    rows = [{"optimizer": "sgd", "lr": 0.1, "seeds": 2, "diverged": 1, "best_val_acc": 0.96},
            {"optimizer": "sgd", "lr": 0.01, "seeds": 2, "diverged": 0, "best_val_acc": 0.95},
            {"optimizer": "adam", "lr": 0.1, "seeds": 2, "diverged": 2, "best_val_acc": 0.6},
            {"optimizer": "adam", "lr": 0.01, "seeds": 2, "diverged": 0, "best_val_acc": 0.5},
            {"optimizer": "momentum", "lr": 0.1, "seeds": 2, "diverged": 2, "best_val_acc": 0.2},
            {"optimizer": "momentum", "lr": 0.01, "seeds": 2, "diverged": 2, "best_val_acc": 0.1}]
    extra, dead = confirmation_sweep(sweep, rows)
    assert [(c.optimizer, c.lr, c.seed) for c, _ in extra.runs()] == [("sgd", 0.1, 2), ("adam", 0.01, 2)]
    assert dead == ["momentum"]


def test_nothing_to_confirm_when_every_optimizer_diverged():
    # Found by mutation testing: the 'every rate of every optimizer diverged' path had no test.
    sweep = Sweep(RunConfig(dataset=f"mnist:{MNIST_SMALL_PATH}", model="mlp_relu"), ["sgd", "adam"],
                  [0.1], seeds=[0], logdir="unused", confirm_best=1)
    rows = [{"optimizer": o, "lr": 0.1, "seeds": 1, "diverged": 1, "best_val_acc": 0.1} for o in ("sgd", "adam")]
    assert confirmation_sweep(sweep, rows) == (None, ["adam", "sgd"])


def test_the_confirmation_runs_are_not_confirmed_again_and_the_verdict_shows_its_numbers():
    from course.sweep.confirm import verdict, welch_t_test

    sweep = Sweep(RunConfig(dataset=f"mnist:{MNIST_SMALL_PATH}", model="mlp_relu"), ["sgd"], [0.1],
                  seeds=[0], logdir="unused", confirm_best=2)
    extra, _ = confirmation_sweep(sweep, [{"optimizer": "sgd", "lr": 0.1, "seeds": 1, "diverged": 0,
                                           "best_val_acc": 0.9}])
    assert extra.confirm_best == 0 and extra.seeds == [1, 2]
    # No spread at all: the sign of t says which side is ahead.
    assert welch_t_test([0.9, 0.9], [0.8, 0.8])["t"] == float("inf")
    assert welch_t_test([0.8, 0.8], [0.9, 0.9])["t"] == float("-inf")
    first, second = {"optimizer": "adam", "mean": 0.982}, {"optimizer": "sgd", "mean": 0.975}
    assert verdict(first, second, {"t": 8.5732, "df": 4.0, "p": 0.00102}) == (
        "**adam beats sgd by 0.70 points, more than the seed noise** "
        "(Welch's t=8.57, df=4.0, p=0.00102 < 0.05).")
