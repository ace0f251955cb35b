"""An optimizer's own settings in the grid: 'momentum(momentum=0.5)' is its own arm, run, row and
heat-map cell, and a wrong setting is a one-line error naming the optimizer and its settings.
"""
import json

import numpy as np
import paddle
import pytest

from course.cli import csv_list
from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.engine.optimizers import available_optimizers, build_optimizer, parse_optimizer
from course.sweep.grid import Sweep
from course.sweep.report import write_report
from course.sweep.runner import run_sweep
from tests.test_visualdl_records import records

MOMENTA = "momentum(momentum=0.5),momentum(momentum=0.9),momentum(momentum=0.99)"


def test_a_comma_inside_brackets_does_not_split_the_list():
    assert csv_list(str)("adam(beta1=0.8, beta2=0.99),sgd") == ["adam(beta1=0.8, beta2=0.99)", "sgd"]
    assert parse_optimizer("Adam(beta1=0.8, beta2=0.99)") == ("adam", {"beta1": 0.8, "beta2": 0.99})
    assert parse_optimizer("rmsprop(centered=true)") == ("rmsprop", {"centered": True})


def test_settings_are_part_of_the_run_and_its_names():
    config = RunConfig(optimizer="adam(beta2=0.99,beta1=0.8)", label="plateau")
    assert (config.optimizer, config.optimizer_args) == ("adam", {"beta1": 0.8, "beta2": 0.99})
    assert config.optimizer_variant() == "adam(beta1=0.8,beta2=0.99)+plateau"
    assert config.run_name() == "adam_beta1=0.8_beta2=0.99+plateau-lr0.01-seed0"
    assert config.display_name() == "adam(beta1=0.8,beta2=0.99)+plateau lr=0.01"
    assert not set('<>:"/\\|?*()[] ,') & set(config.run_name())     # a folder name on Windows, a word in a shell
    saved = config.to_dict()
    assert RunConfig.from_dict(saved) == config
    assert config.replace(optimizer_args={"beta1": 0.8}).changes_from(saved) == \
        ["optimizer_args {'beta1': 0.8, 'beta2': 0.99} -> {'beta1': 0.8}"]


def test_a_config_json_without_the_new_keys_means_paddles_defaults_and_no_settings():
    old = {k: v for k, v in RunConfig().to_dict().items() if k not in ("defaults", "optimizer_args")}
    assert RunConfig().changes_from(old) == []
    assert RunConfig(defaults="keras").changes_from(old) == ["defaults 'paddle' -> 'keras'"]


@pytest.mark.parametrize("spec, message", [
    ("momentum(beta=0.5)", "--optimizers: momentum: unknown setting 'beta'; valid settings: momentum"),
    ("adam(epsilon=small)", "--optimizers: adam: epsilon must be a number, got 'small'; valid settings: "
                            "beta1, beta2, epsilon"),
    ("rmsprop(centered=1)", "--optimizers: rmsprop: centered must be true or false, got 1.0"),
    ("adam(beta2=1)", "--optimizers: adam: beta2 must be in [0, 1), got 1"),
    ("adam(beta2)", "--optimizers: adam: expected setting=value in 'adam(beta2)', got 'beta2'"),
    ("adam(beta2=0.9", "--optimizers: expected an optimizer name, optionally with settings"),
    ("adamm(beta2=0.9)", "--optimizers: unknown optimizer 'adamm'; choose from: sgd, momentum"),
])
def test_a_wrong_setting_is_one_line_naming_the_optimizer_and_its_settings(spec, message):
    with pytest.raises(ConfigError) as err:
        Sweep(RunConfig(), csv_list(str)(spec), [0.01])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_setting_reaches_paddles_optimizer():
    w = paddle.create_parameter([1], "float32")
    assert build_optimizer("momentum(momentum=0.5)", 0.1, [w])._momentum == 0.5
    assert build_optimizer("adam", 0.1, [w], settings={"beta2": 0.99}, defaults="keras")._epsilon == 1e-7
    assert build_optimizer("adam", 0.1, [w], defaults="torch")._epsilon == 1e-8


def test_the_registry_survives_a_paddle_without_a_class(monkeypatch):
    # Paddle 2.6 has no NAdam: every other optimizer still builds, NAdam says what is missing
    monkeypatch.delattr(paddle.optimizer, "NAdam", raising=False)
    w = paddle.create_parameter([1], "float32")
    assert "nadam" not in available_optimizers() and "sgd" in available_optimizers()
    assert [n for n in available_optimizers() if build_optimizer(n, 0.1, [w]) is None] == []
    with pytest.raises(ConfigError, match="^nadam: paddle.optimizer.NAdam needs Paddle 3.0 or newer"):
        build_optimizer("nadam", 0.1, [w])


def test_a_momentum_sweep_shows_each_momentum_in_runs_table_heatmap_and_visualdl(tmp_path, mnist_small_path):
    base = RunConfig(dataset=f"mnist:{mnist_small_path}", model="linear", epochs=1, batch_size=32,
                     subset=256, val_subset=64)
    sweep = Sweep(base, csv_list(str)(MOMENTA), [0.01], logdir=str(tmp_path))
    run_sweep(sweep, jobs=1, progress=False, quiet=True)
    names = ["momentum(momentum=0.5)", "momentum(momentum=0.9)", "momentum(momentum=0.99)"]
    folders = [d.name for _, d in sweep.runs()]
    assert folders == [f"momentum_momentum={m}-lr0.01-seed0" for m in ("0.5", "0.9", "0.99")]
    assert [records(d)["name"] for _, d in sweep.runs()] == [f"{n} lr=0.01" for n in names]
    assert [json.loads((d / "config.json").read_text())["optimizer_args"] for _, d in sweep.runs()] == \
        [{"momentum": 0.5}, {"momentum": 0.9}, {"momentum": 0.99}]
    paths = write_report(sweep.root, sweep.optimizers)
    table = paths["table_md"].read_text()
    assert all(f"| {n} | 0.01 | 1 |" in table for n in names), table
    assert sorted(paths["drawn"]["heatmap"]["values"]) == sorted((n, 0.01) for n in names)
    finals = [json.loads((d / "result.json").read_text())["final_val_loss"] for _, d in sweep.runs()]
    assert len(set(np.round(finals, 6))) == 3        # three momenta, three different runs
