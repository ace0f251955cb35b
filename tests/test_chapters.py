"""The chapter scripts: each article's --dry-run end to end on a tiny exported digits tree.

The trees are made once per module from scikit-learn's bundled digits (no download): 10 classes
x 8 images in one folder, and 10 classes x 4 images in each of train/ val/ test/. Scripts run in
this process through ``run_main`` (what their ``__main__`` calls), so Paddle is imported once;
``--help`` runs them as files, the way a learner does.
"""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course.chapters import article_filmstar_transfer as filmstar_transfer
from course.chapters import article_gym_optimizers as gym_optimizers
from course.chapters import article_lighten_vgg16 as lighten_vgg16
from course.chapters import article_reduce_lr as reduce_lr_article
from course.sweep.grid import Sweep  # noqa: E402
from course.chapters.common import pick_arms, resolve_pretrained
from data.folders import sample_tree
from course.cli import run_main
from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.engine.optimizers import available_optimizers
from models.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
QUIET = ["--no-progress"]
HAS_NADAM = "nadam" in available_optimizers()   # not in Paddle 2.6 (course/compat.py)


def run_dir_configs(root: Path) -> dict:
    return {d.name: json.loads((d / "config.json").read_text()) for d in root.iterdir()
            if (d / "result.json").is_file()}


def table_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_chapter_shows_help_with_defaults_when_run_as_a_file():
    scripts = ["filmstar_transfer", "gym_optimizers", "reduce_lr_article", "lighten_vgg16"]
    procs = {s: subprocess.Popen([sys.executable, str(ROOT / "scripts" / f"{s}.py"), "--help"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
             for s in scripts}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{name}: {err}"
        assert "--dry-run" in out and "(default: " in out and "article 00" in out, name


def test_filmstar_dry_run_trains_adam_and_sgd_at_the_articles_rates(digits, tmp_path, capsys):
    code = run_main(filmstar_transfer.main, ["--data", str(digits["single"]), "--dry-run",
                                             "--pretrained", "none", "--jobs", "1",
                                             "--logdir", str(tmp_path), *QUIET])
    out = capsys.readouterr().out
    assert code == 0
    root = tmp_path / "dry-run" / "digits-vgg16_transfer"
    rows = table_rows(root / "comparison.csv")
    assert [(r["optimizer"], float(r["lr"])) for r in rows] == [("adam", 1e-3), ("sgd", 1e-2)]
    config = run_dir_configs(root)["adam-lr0.001-seed0"]
    assert (config["model"], config["freeze_backbone"], config["pretrained"]) == ("vgg16_transfer", True, "")
    assert (config["image_size"], config["epochs"], config["batch_size"]) == (32, 1, 16)
    assert (config["validation_split"], config["split_seed"], config["schedule"]) == (0.2, 12, "constant")
    assert config["defaults"] == "keras"                          # Keras's Adam(), epsilon 1e-7
    assert f"table:  {root / 'comparison.md'}" in out and f"visualdl --logdir {root}" in out


def test_filmstar_adam_decay_is_the_articles_exponential_schedule():
    base = RunConfig(dataset="folder:photos", model="vgg16_transfer")
    sweep = Sweep(base, [filmstar_transfer.ADAM_DECAY, filmstar_transfer.ARMS[1]])
    (adam, _), (sgd, _) = sweep.runs()
    assert (adam.run_name(), adam.schedule) == ("adam+decay-lr0.0001-seed0", "exponential")
    assert adam.schedule_args == {"decay_steps": 60, "decay_rate": 0.96, "staircase": True}
    assert (sgd.run_name(), sgd.schedule) == ("sgd-lr0.01-seed0", "constant")


@pytest.mark.slow   # ~25 s: five DenseNet121 arms
def test_gym_dry_run_trains_the_five_arms_with_the_articles_controls(digits, tmp_path, capsys):
    code = run_main(gym_optimizers.main, ["--data", str(digits["split"]), "--dry-run",
                                          "--pretrained", "none", "--jobs", "1",
                                          "--logdir", str(tmp_path), *QUIET])
    out = capsys.readouterr().out
    assert code == 0
    root = tmp_path / "dry-run" / "digits-densenet121"
    rows = table_rows(root / "comparison.csv")
    arms = [("adam+plateau", 1e-4), ("adagrad", 0.01), ("rmsprop", 0.001), ("nadam(momentum_decay=0.004)", 0.002),
            ("sgd", 0.01)]
    if not HAS_NADAM:   # Paddle 2.6: the arm is left out, with a line saying so
        arms.remove(("nadam(momentum_decay=0.004)", 0.002))
        assert "left out: nadam: paddle.optimizer.NAdam needs Paddle 3.0 or newer" in out
    assert [(r["optimizer"], float(r["lr"])) for r in rows] == arms
    assert all(r["test_acc"] != "" for r in rows)              # the test/ folder was evaluated
    configs = run_dir_configs(root)
    for name, config in configs.items():
        assert config["early_stop"] == "monitor=val_loss,patience=5,mode=min", name
        assert config["augment"] == "keras_gym" and config["image_size"] == 32, name
        assert (root / name / "best.pdckpt").is_file(), name      # ModelCheckpoint kept epoch 1
    assert configs["adam+plateau-lr0.0001-seed0"]["reduce_lr_on_plateau"].startswith("monitor=val_loss,factor=0.5")
    assert configs["sgd-lr0.01-seed0"]["reduce_lr_on_plateau"] == ""
    assert {config["defaults"] for config in configs.values()} == {"keras"}    # the article's Keras optimizers
    if HAS_NADAM:
        assert configs["nadam_momentum_decay=0.004-lr0.002-seed0"]["optimizer_args"] == {"momentum_decay": 0.004}
    assert "adam+plateau: 一共花费了0小时" in out


def test_reduce_lr_dry_run_puts_both_arms_in_the_table(tmp_path, capsys):
    code = run_main(reduce_lr_article.main, ["--dataset", f"mnist:{FIXTURE}", "--dry-run", "--jobs", "1",
                                             "--logdir", str(tmp_path), *QUIET])
    assert code == 0
    root = tmp_path / "dry-run" / "mnist_mnist_small-mlp_keras"
    rows = table_rows(root / "comparison.csv")
    assert [(r["optimizer"], float(r["lr"])) for r in rows] == [("adam+es", 0.01), ("adam+es+plateau", 0.01)]
    assert "adam+es+plateau-lr0.01-seed7: ran all 1 of 1" in capsys.readouterr().out


def test_reduce_lr_lowers_the_rate_on_a_plateau_and_plain_es_does_not(tmp_path, capsys):
    # A one-image validation set scores 0 or 1, so after epoch 1 its accuracy can improve at
    # most once: epoch 2 or epoch 3 is a plateau whatever the float rounding, and with
    # patience 1 the rate of epoch 3 or 4 is 0.001. EarlyStopping (patience 2) cannot stop
    # the run before that epoch is recorded.
    code = run_main(reduce_lr_article.main, ["--dataset", f"mnist:{FIXTURE}", "--subset", "200",
                                             "--val-subset", "1", "--epochs", "4", "--jobs", "1",
                                             "--logdir", str(tmp_path), *QUIET])
    out = capsys.readouterr().out
    assert code == 0
    root = tmp_path / "mnist_mnist_small-mlp_keras"
    plain = json.loads((root / "adam+es-lr0.01-seed7" / "metrics.json").read_text())
    plateau = json.loads((root / "adam+es+plateau-lr0.01-seed7" / "metrics.json").read_text())
    assert {h["lr"] for h in plain} == {0.01}
    rates = [h["lr"] for h in plateau]
    assert rates[0] == 0.01 and rates[-1] == pytest.approx(0.001)
    assert "lr 0.01 -> 0.001 (epoch " in out


@pytest.mark.slow   # ~11 s: three image models built and trained
def test_lighten_lists_the_three_models_with_their_summary_parameter_counts(digits, tmp_path, capsys):
    from models import build_model, summarize

    code = run_main(lighten_vgg16.main, ["--data", str(digits["single"]), "--dry-run",
                                         "--timing-batches", "1,4", "--logdir", str(tmp_path), *QUIET])
    out = capsys.readouterr().out
    assert code == 0
    table = tmp_path / "dry-run" / "digits-lighten"
    rows = table_rows(table / "lighten.csv")
    assert [r["model"] for r in rows] == ["vgg16_keras", "vgg16_gap", "mobilenet_v2"]
    for row in rows:
        expected = summarize(build_model(row["model"], num_classes=10, image_size=32), (3, 32, 32))
        assert int(row["params"]) == expected["total"], row["model"]
        assert float(row["ms_per_image_b1"]) > 0 and float(row["ms_per_image_b4"]) > 0
        assert (Path(row["run_dir"]) / "result.json").is_file()
    assert float(rows[1]["params_vs_base"]) < 1 and float(rows[2]["params_vs_base"]) < 0.1
    md = (table / "lighten.md").read_text()
    assert "| vgg16_gap | 14,719,818 |" in md and "CPU ms/image (batch 4)" in md
    assert f"table:  {table / 'lighten.md'}" in out


def test_pretrained_imagenet_without_the_file_stops_a_real_run_and_not_a_dry_run(tmp_path, monkeypatch,
                                                                                  capsys):
    monkeypatch.setenv("HOME", str(tmp_path))      # an empty weights cache
    with pytest.raises(ModelError, match="pass --pretrained none"):
        resolve_pretrained("vgg16_transfer", "imagenet", allow_download=False)
    assert resolve_pretrained("vgg16_transfer", "imagenet", dry_run=True, allow_download=False) == ""
    assert "no ImageNet weights for vgg16" in capsys.readouterr().out
    assert resolve_pretrained("vgg16_transfer", "none") == ""
    with pytest.raises(ModelError, match="does not exist"):
        resolve_pretrained("vgg16_transfer", str(tmp_path / "missing.pdparams"))


def test_a_missing_data_folder_is_one_line_and_exit_2(tmp_path, capsys):
    code = run_main(filmstar_transfer.main, ["--data", str(tmp_path / "nowhere"), "--logdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --data:") and err.count("\n") == 1


def test_arm_sweep_gives_each_arm_its_own_rate_or_the_grid():
    base = RunConfig()
    sweep = Sweep(base, [{"optimizer": "adam", "lr": 1e-4}, "sgd"], lrs=[0.1, 0.01])
    assert [c.run_name() for c, _ in sweep.runs()] == ["adam-lr0.0001-seed0", "sgd-lr0.1-seed0",
                                                       "sgd-lr0.01-seed0"]
    only_own = Sweep(base, gym_optimizers.ARMS)
    assert only_own.lrs == ([0.01, 0.002, 0.001, 0.0001] if HAS_NADAM else [0.01, 0.001, 0.0001])
    assert len(only_own.runs()) == 4 + HAS_NADAM
    assert pick_arms(gym_optimizers.ARMS, ["sgd", "adam+plateau"], base) == [gym_optimizers.ARMS[0],
                                                                             gym_optimizers.ARMS[-1]]
    with pytest.raises(ConfigError, match="adam\\+plateau, adagrad"):
        pick_arms(gym_optimizers.ARMS, ["adam"], base)


def test_sample_tree_keeps_the_layout_and_a_few_images_per_class(digits, tmp_path):
    small = sample_tree(digits["split"], tmp_path / "digits", per_class=2)
    for part in ("train", "val", "test"):
        counts = [len(list((small / part / str(c)).iterdir())) for c in range(10)]
        assert counts == [2] * 10, part
