"""scripts/seed_spread.py: per cell the mean and spread over seeds, the cells at the edge of
divergence marked by each of the three rules (and not below the threshold), each optimizer's best
rate seed by seed; on synthetic sweep folders written as a sweep writes them, and in a real sweep's
ending."""
import pytest

from course.cli import run_main
from course.engine.errors import ConfigError
from course.sweep.report import load_runs
from course.sweep.spread import best_rates, cell_spread, main
from tests.test_report_figures import write_run


def sweep(root, cells):
    """{(optimizer, lr): [per seed: (best, final) or 'diverged']} as run folders under ``root``."""
    for (opt, lr), seeds in cells.items():
        for seed, outcome in enumerate(seeds):
            if outcome == "diverged":
                write_run(root, opt, lr, seed, [0.1], diverged=True)
            else:
                best, final = outcome
                write_run(root, opt, lr, seed, [best, final])
    return load_runs(root)


def rows_by_cell(runs, **kwargs):
    return {(r["optimizer"], r["lr"]): r for r in cell_spread(runs, **kwargs)}


def test_mean_and_spread_over_seeds_in_points(tmp_path):
    runs = sweep(tmp_path, {("sgd", 0.1): [(0.97, 0.97), (0.972, 0.972), (0.974, 0.974)]})
    row = rows_by_cell(runs)["sgd", 0.1]
    assert row["seeds"] == [0, 1, 2] and row["diverged"] == 0
    assert row["mean"] == pytest.approx(97.2) and row["std"] == pytest.approx(0.2)
    assert (row["low"], row["high"]) == (pytest.approx(97.0), pytest.approx(97.4))
    assert row["drop"] == pytest.approx(0.0) and row["reasons"] == []


def test_each_rule_marks_the_edge_and_only_past_the_threshold(tmp_path):
    runs = sweep(tmp_path, {
        ("momentum", 0.1): [(0.97, 0.97), "diverged", (0.969, 0.969)],          # some seeds diverged
        ("rmsprop", 0.1): [(0.95, 0.95), (0.938, 0.938)],                        # 1.2 points apart
        ("rmsprop", 0.01): [(0.95, 0.95), (0.942, 0.942)],                       # 0.8: not the edge
        ("adagrad", 0.1): [(0.90, 0.885)],                                       # one seed, falls 1.5
        ("adagrad", 0.01): [(0.90, 0.895)],                                      # falls 0.5: not
        ("adam", 0.1): ["diverged", "diverged"],                                 # all diverged
    })
    rows = rows_by_cell(runs)
    assert rows["momentum", 0.1]["reasons"] == ["1/3 seeds diverged"]
    assert rows["momentum", 0.1]["mean"] == pytest.approx(96.95)                 # of the two that trained
    assert rows["rmsprop", 0.1]["reasons"] == ["seeds span 1.20 points"]
    assert rows["adagrad", 0.1]["reasons"] == ["ends 1.50 points below its best epoch"]
    assert rows["rmsprop", 0.01]["reasons"] == rows["adagrad", 0.01]["reasons"] == []
    assert rows["adam", 0.1]["reasons"] == [] and rows["adam", 0.1]["mean"] is None
    assert rows_by_cell(runs, edge=0.5)["rmsprop", 0.01]["reasons"] == ["seeds span 0.80 points"]


def test_best_rate_seed_by_seed(tmp_path):
    runs = sweep(tmp_path, {("sgd", 0.1): [(0.97, 0.97), (0.95, 0.95)],
                            ("sgd", 0.01): [(0.96, 0.96), (0.96, 0.96)],
                            ("adam", 0.1): ["diverged", "diverged"], ("adam", 0.001): [(0.5, 0.5), (0.5, 0.5)]})
    assert best_rates(runs) == {"sgd": {0: 0.1, 1: 0.01}, "adam": {0: 0.001, 1: 0.001}}


def test_the_command_prints_and_writes_the_table(tmp_path, capsys):
    sweep(tmp_path / "runs", {("sgd", 0.1): [(0.97, 0.97), (0.99, 0.99)], ("sgd", 0.01): [(0.96, 0.96)],
                              ("adam", 0.1): ["diverged"]})
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "docs" / "spread.md")]) == 0
    printed = capsys.readouterr().out
    assert printed == (tmp_path / "docs" / "spread.md").read_text(encoding="utf-8")
    lines = printed.splitlines()
    assert lines[0].startswith("| optimizer | lr | seeds | final val acc (%, mean ± std) |")
    assert lines[2] == ("| sgd | 0.1 | 2 | 98.00 ± 1.41 | 97.00 – 99.00 | 0.00 | 0/2 | "
                        "**edge**: seeds span 2.00 points |")
    assert lines[3] == "| sgd | 0.01 | 1 | 96.00 | 96.00 – 96.00 | 0.00 | 0/1 | no |"     # one seed: no ±
    assert lines[4] == "| adam | 0.1 | 1 | — | — | — | 1/1 | diverged |"
    assert "- sgd: 0.1 (seeds 0, 1) (the same in every seed)" in lines


@pytest.mark.parametrize("argv, message", [
    (["{tmp}/none"], "sweep folder {tmp}/none not found"),
    (["{tmp}"], "no finished run"),
    ([], "no sweep folder given"),
    (["--dry-run", "--edge", "-1"], "--edge: must be > 0"),
    (["--dry-run", "--metric", "loss"], None),            # argparse's own refusal, exit 2
])
def test_mistakes_are_one_line(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if message is None:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        return
    with pytest.raises(ConfigError, match=message.replace("{tmp}", str(tmp_path))):
        main(argv)
    assert run_main(main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_dry_run_marks_its_edge_cell(capsys):
    assert main(["--dry-run"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| rmsprop | 0.1 |")]
    assert len(rows) == 1 and "**edge**: 1/3 seeds diverged" in rows[0]


def test_a_sweep_with_several_seeds_reports_its_spread(tmp_path):
    """The chapters' ending: comparison.md gets the spread section, the console names the edge
    cells; with one seed neither appears."""
    from tests.test_sweep_progress import sweep_output

    out, _ = sweep_output(tmp_path / "two", "--seeds", "0,1", "--epochs", "1", "--jobs", "1")
    root, = (tmp_path / "two").iterdir()
    runs = load_runs(root)                                  # real result.json files, read back
    finals = sorted(100 * r["final_val_acc"] for r in runs if r["optimizer"] == "sgd")
    sgd = rows_by_cell(runs)["sgd", 0.01]
    assert sgd["seeds"] == [0, 1] and (sgd["low"], sgd["high"]) == tuple(map(pytest.approx, finals))
    report = (root / "comparison.md").read_text(encoding="utf-8")
    assert "## Over seeds: how far the numbers carry" in report
    assert "| sgd | 0.01 | 2 |" in report and "| adam | 0.01 | 2 |" in report
    edges = [r for r in cell_spread(runs) if r["reasons"]]
    assert ("at the edge of divergence" in out) == bool(edges)
    assert all(f"{r['optimizer']} lr=0.01 ({'; '.join(r['reasons'])})" in out for r in edges)
    out, _ = sweep_output(tmp_path / "one", "--epochs", "1", "--jobs", "1")
    root, = (tmp_path / "one").iterdir()
    assert "Over seeds" not in (root / "comparison.md").read_text(encoding="utf-8")
    assert "at the edge of divergence" not in out
