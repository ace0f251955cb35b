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
    return {"optimizer": opt, "variant": opt, "lr": lr, "seed": seed, "best_val_acc": best, "final_val_acc": best,
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


def test_a_table_row_says_how_many_seeds_reached_the_target_stopped_early_or_diverged():
    # Found by mutation testing: the row's words were only checked by the slower sweep tests.
    # adam 0.01, three seeds, target 90%, epochs of 10 s, the rate halved to 0.005 in each:
    #   seed 0: val acc 0.5, 0.95 -> reaches 90% in epoch 2 at 20 s; stopped early
    #   seed 1: val acc 0.92, 0.93 -> epoch 1 at 10 s
    #   seed 2: val acc 0.5, 0.6 -> never; diverged
    # best val acc 0.95, 0.93, 0.6: mean 0.82667, sample std sqrt(0.077267 / 2) = 0.19656;
    # to target: epochs (2 + 1) / 2 = 1.5 and time (20 + 10) / 2 = 15 s, over 2 of the 3 seeds.
    def seed(n, accs, early=False, diverged=False):
        history = [{"epoch": e + 1, "val_acc": a, "epoch_seconds": 10.0, "lr": 0.005}
                   for e, a in enumerate(accs)]
        return {**run("adam", 0.01, n, accs[-1], diverged), "best_val_acc": max(accs),
                "stopped_early": early, "history": history}

    runs = [seed(0, [0.5, 0.95], early=True), seed(1, [0.92, 0.93]), seed(2, [0.5, 0.6], diverged=True)]
    lines = markdown_table(summarize_groups(runs, target_acc=0.9)).splitlines()
    assert lines[0] == ("| optimizer | lr | seeds | best val acc (mean ± std) | final val acc | final lr | "
                        "test acc | test loss | epochs run | epochs to 90% | time to 90% | total time | "
                        "diverged |")
    assert lines[2] == ("| adam | 0.01 | 3 | 82.67% ± 19.66 | 82.67% | 0.005 | 82.67% | 0.1000 | "
                        "2 (1/3 early stop) | 1.5 (2/3) | 15.0s (2/3) | 4.0s | yes (1/3) |")
