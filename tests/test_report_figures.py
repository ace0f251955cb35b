"""The sweep's figures and its confirmation: a diverged run does not stretch the sensitivity axis,
the heat map writes every cell, several seeds give shaded bands, Welch's test gives the known
answers, comparison.md embeds it all, and --confirm-best 2 trains exactly 2 more seeds per optimizer.

Mostly on synthetic runs written as a sweep writes them (result.json + metrics.json), so each test
takes a second; one tiny real sweep checks the protocol end to end.
"""
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from course.sweep.confirm import (confirmation_markdown, confirmation_sweep, verdict,
                                  welch_t_test)
from course.sweep.plots import accuracy_limits
from course.sweep.report import write_report

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"
ORDER = ["sgd", "momentum", "adam"]


def write_run(root, opt, lr, seed, val_accs, diverged=False):
    """A finished run as a sweep leaves it: its folder with result.json and metrics.json."""
    run = root / f"{opt}-lr{lr:g}-seed{seed}"
    run.mkdir(parents=True)
    history = [{"epoch": e + 1, "train_loss": 2.3 if diverged else 1.0 / (e + 1 + seed), "train_acc": acc,
                "val_loss": 2.3 if diverged else 0.5 / (e + 1), "val_acc": acc, "lr": lr, "epoch_seconds": 1.0}
               for e, acc in enumerate(val_accs)]
    result = {"run": run.name, "variant": opt, "optimizer": opt, "lr": lr, "seed": seed, "diverged": diverged,
              "best_val_acc": max(val_accs), "final_val_acc": val_accs[-1], "test_acc": val_accs[-1],
              "test_loss": 0.2, "epochs_run": len(val_accs), "stopped_early": False, "target_acc": 0.97,
              "epochs_to_target": None, "seconds_to_target": None, "total_seconds": 3.0}
    (run / "metrics.json").write_text(json.dumps(history))
    (run / "result.json").write_text(json.dumps(result))


# The default sweep's shape, measured: everything between 89% and 98%, and one run at chance.
FINAL = {("sgd", 0.1): 0.95, ("sgd", 0.01): 0.92, ("sgd", 0.001): 0.89,
         ("momentum", 0.1): 0.97, ("momentum", 0.01): 0.98, ("momentum", 0.001): 0.94,
         ("adam", 0.01): 0.975, ("adam", 0.001): 0.98}


def grid(root, seeds=(0,), diverged=True):
    for (opt, lr), acc in FINAL.items():
        for seed in seeds:
            write_run(root, opt, lr, seed, [acc - 0.05, acc - 0.002 * seed])
    if diverged:
        write_run(root, "adam", 0.1, 0, [0.1], diverged=True)


def test_sensitivity_axis_fits_the_real_spread_not_the_diverged_run(tmp_path):
    grid(tmp_path)
    drawn = write_report(tmp_path, ORDER)["drawn"]["lr_sensitivity"]
    bottom, top = drawn["ylim"]
    assert drawn["diverged"] == [("adam", 0.1, 10.0)]                 # percent points, as drawn
    assert 85 < drawn["floor"] < 89 and 98 < top <= 100              # the good runs fill the axis
    assert bottom > 80       # the run at 10% sits in a strip below the break, not at 10 on the axis
    # The strip is all the diverged run costs: without it the axis is the same above the floor.
    finals = [100 * acc for acc in FINAL.values()]
    assert accuracy_limits(finals) == (drawn["floor"], drawn["floor"], top)
    assert accuracy_limits(finals, diverged=True) == (bottom, drawn["floor"], top)


def test_accuracy_limits_stay_within_0_and_100_and_never_collapse():
    assert accuracy_limits([99.5, 99.9])[2] == 100.0
    low, floor, top = accuracy_limits([90.0, 90.0])
    assert low == floor and top - floor == pytest.approx(2.0)           # one value: a 2-point window
    assert accuracy_limits([]) == (0.0, 0.0, 100.0)
    assert accuracy_limits([50.0, math.nan, None, 60.0]) == accuracy_limits([50.0, 60.0])


def test_heat_map_and_sensitivity_pngs_are_written_with_every_cell(tmp_path):
    grid(tmp_path)
    paths = write_report(tmp_path, ORDER)
    heat = paths["drawn"]["heatmap"]
    assert heat["diverged"] == [("adam", 0.1)]
    assert heat["values"] == {cell: pytest.approx(acc) for cell, acc in FINAL.items()}   # best = last epoch here
    for key in ("heatmap", "lr_sensitivity", "curves"):
        with Image.open(paths[key]) as im:
            assert im.format == "PNG" and im.width > 500 and im.height > 300
            colours = len(im.convert("RGB").resize((100, 60)).getcolors(6000))
            assert colours > 50, f"{key} looks blank"


def test_several_seeds_are_drawn_as_mean_with_a_band(tmp_path):
    one, three = tmp_path / "one", tmp_path / "three"
    grid(one, diverged=False)
    grid(three, seeds=(0, 1, 2), diverged=False)
    assert write_report(one, ORDER)["drawn"]["curves"]["bands"] == 0
    assert write_report(three, ORDER)["drawn"]["curves"]["bands"] == 4 * 3    # 4 panels x 3 optimizers
    table = (three / "comparison.md").read_text()
    assert "| momentum | 0.01 | 3 | 97.80% ± 0.20 |" in table


def test_welch_t_test_known_answers():
    clear = welch_t_test([0.981, 0.983, 0.982], [0.975, 0.976, 0.974])
    assert clear["t"] == pytest.approx(8.5732, abs=1e-3) and clear["df"] == pytest.approx(4.0)
    assert clear["p"] == pytest.approx(0.00102, abs=2e-5)
    overlap = welch_t_test([0.981, 0.975, 0.985], [0.978, 0.983, 0.974])
    assert overlap["p"] > 0.5
    assert welch_t_test([0.9, 0.9], [0.8, 0.8])["p"] == 0.0          # no spread, different means
    with pytest.raises(ValueError, match="at least 2"):
        welch_t_test([0.9], [0.8, 0.7])
    assert welch_t_test([0.9, 0.9], [0.9, 0.9]) == {"t": 0.0, "df": 2, "p": 1.0}

    arms = [{"optimizer": "adam", "mean": 0.982}, {"optimizer": "rmsprop", "mean": 0.975}]
    assert verdict(*arms, clear).startswith("**adam beats rmsprop by 0.70 points, more than the seed noise**")
    assert "within the seed noise" in verdict(*arms, overlap)


def test_welch_t_test_weighs_unequal_spreads_and_sizes():
    # a = 1, 2, 3: mean 2, variance 1, n 3 -> 1/3.  b = 2, 6, 10, 14, 18: mean 10, variance 40,
    # n 5 -> 8.  t = (2 - 10) / sqrt(1/3 + 8) = -8 / sqrt(25/3) = -2.7713;
    # Welch-Satterthwaite df = (25/3)^2 / ((1/3)^2 / 2 + 8^2 / 4) = 69.444 / 16.0556 = 4.3253.
    # (Student's pooled test would say t = -2.108 with df 6, and p = 0.080 instead of 0.046.)
    from scipy.stats import t as student_t

    answer = welch_t_test([1, 2, 3], [2, 6, 10, 14, 18])
    assert answer["t"] == pytest.approx(-2.77128, abs=1e-5)
    assert answer["df"] == pytest.approx(4.32526, abs=1e-5)
    assert answer["p"] == pytest.approx(2 * student_t.sf(2.77128, 4.32526), abs=1e-5)
    assert answer["p"] == pytest.approx(0.0461, abs=1e-3)
    swapped = welch_t_test([2, 6, 10, 14, 18], [1, 2, 3])
    assert swapped["t"] == pytest.approx(2.77128, abs=1e-5) and swapped["p"] == pytest.approx(answer["p"])


def test_comparison_md_embeds_the_figures_and_the_confirmation(tmp_path):
    grid(tmp_path)
    arms = [{"optimizer": "adam", "lr": 0.001, "values": [0.981, 0.983, 0.982], "mean": 0.982, "std": 0.001},
            {"optimizer": "momentum", "lr": 0.01, "values": [0.975, 0.976, 0.974], "mean": 0.975, "std": 0.001}]
    section = confirmation_markdown(arms, welch_t_test(arms[0]["values"], arms[1]["values"]), 1, 2)
    write_report(tmp_path, ORDER, sections=section)
    md = (tmp_path / "comparison.md").read_text()
    for name in ("lr_sensitivity.png", "heatmap.png", "curves.png"):
        assert f"]({name})" in md and (tmp_path / name).is_file()
    assert "## Confirmation" in md and "| adam | 0.001 | 3 | 98.20% ± 0.10 | 98.10, 98.30, 98.20 |" in md
    assert "adam beats momentum by 0.70 points, more than the seed noise" in md
    assert md.index("| optimizer |") < md.index("## Confirmation") < md.index("## Figures")


def test_confirmation_seeds_never_collide_and_diverged_optimizers_are_left_out(tmp_path):
    from course.engine.config import RunConfig
    from course.sweep.grid import Sweep

    sweep = Sweep(RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu"), ["sgd", "adam"], [0.1, 0.01],
                  seeds=[0, 5], logdir=str(tmp_path), confirm_best=2)
    rows = [{"optimizer": "sgd", "lr": 0.1, "seeds": 2, "diverged": 0, "best_val_acc": 0.95},
            {"optimizer": "sgd", "lr": 0.01, "seeds": 2, "diverged": 0, "best_val_acc": 0.97},
            {"optimizer": "adam", "lr": 0.1, "seeds": 2, "diverged": 2, "best_val_acc": 0.10},
            {"optimizer": "adam", "lr": 0.01, "seeds": 2, "diverged": 2, "best_val_acc": 0.11}]
    extra, dead = confirmation_sweep(sweep, rows)
    assert [d.name for _, d in extra.runs()] == ["sgd-lr0.01-seed6", "sgd-lr0.01-seed7"]
    assert extra.root == sweep.root and dead == ["adam"]
    with pytest.raises(Exception, match="--confirm-best: must be >= 0"):
        Sweep(RunConfig(), confirm_best=-1)


@pytest.mark.slow   # tens of seconds: the slow tier runs it
def test_confirm_best_2_trains_two_more_seeds_of_each_best_rate(tmp_path, capsys):
    from course.chapters import ch4_optimizers
    from course.cli import run_main

    code = run_main(ch4_optimizers.main, [
        "--dataset", f"mnist:{FIXTURE}", "--model", "mlp_relu", "--optimizers", "sgd,adam",
        "--lrs", "0.1,0.001", "--epochs", "1", "--subset", "256", "--val-subset", "200", "--batch-size", "32",
        "--confirm-best", "2", "--jobs", "1", "--no-progress", "--logdir", str(tmp_path)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    root = tmp_path / "mnist_mnist_small-mlp_relu"
    runs = sorted(p.name for p in root.iterdir() if (p / "result.json").is_file())
    extra = [name for name in runs if not name.endswith("seed0")]
    assert len(runs) == 4 + 4 and len(extra) == 4                       # 2 optimizers x 2 new seeds
    best = {name.rsplit("-seed", 1)[0] for name in extra}
    grid_best = {}
    for name in runs:
        if name.endswith("seed0"):
            result = json.loads((root / name / "result.json").read_text())
            key = (not result["diverged"], result["best_val_acc"])
            if key > grid_best.get(result["optimizer"], ((False, -1), ""))[0]:
                grid_best[result["optimizer"]] = (key, name.rsplit("-seed", 1)[0])
    assert best == {cell for _, cell in grid_best.values()}             # each optimizer's best rate
    assert sorted(name[-1] for name in extra) == ["1", "1", "2", "2"]
    md = (root / "comparison.md").read_text()
    for cell in best:
        opt, lr = cell.split("-lr")
        assert f"| {opt} | {lr} | 3 |" in md                           # the table: 1 + 2 seeds
    assert "## Confirmation: each optimizer's best rate with 2 more seed(s)" in md
    assert "Welch's t=" in md and ("more than the seed noise" in md or "within the seed noise" in md)
    assert "## Confirmation" in printed.out
    saved = json.loads((root / "sweep.json").read_text())
    assert saved["seeds"] == [0] and saved["confirmation"]["seeds"] == [1, 2]   # the grid's record kept
