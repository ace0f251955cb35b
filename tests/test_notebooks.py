"""The chapter notebooks (course/notebooks/): generated from their sources, committed without
outputs, and each one runs top to bottom in its quick size and computes what its chapter teaches.

A notebook runs as a learner runs it: a fresh python3 kernel (this interpreter's: the kernel spec is
pinned below, so no other Python on PATH or in ~/.local/share/jupyter can stand in), started in the
notebook's own folder. Only its ``parameters`` cell is changed: ``QUICK = True``, the data pointed
at the committed MNIST subset (``tests/fixtures/mnist_small.npz``) or at a demo-digit folder under
tmp_path, and the run folders under tmp_path. A cell appended at the end prints the notebook's key
variables as JSON, and ``CHECKS`` says what they must show.
"""
import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import paddle
import pytest

from course import compat

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "course" / "notebooks"
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
NOT_CHAPTERS = {"__init__", "common", "notebook"}
CELL_TIMEOUT = 300
MARK = "NOTEBOOK-RESULT "


def generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- generated, committed clean --------------------------------------------------------------------
def test_committed_notebooks_are_what_their_sources_generate():
    stale = generator().stale()
    assert not stale, "regenerate with: python scripts/make_notebooks.py\n" + "\n".join(map(str, stale))


def test_the_check_names_a_notebook_its_source_no_longer_generates(tmp_path, capsys):
    make = generator()
    source = tmp_path / "chapter.py"
    source.write_text("# %% [markdown]\n# 标题\n\n# %%\nx = 1\n", encoding="utf-8")
    (tmp_path / "chapter.ipynb").write_text(make.render(source), encoding="utf-8")
    assert make.stale(tmp_path) == []
    assert make.render(source) == make.render(source)          # deterministic: same source, same bytes
    source.write_text(source.read_text(encoding="utf-8") + "\n# %%\ny = 2\n", encoding="utf-8")
    (tmp_path / "orphan.ipynb").write_text("{}", encoding="utf-8")
    assert make.stale(tmp_path) == [tmp_path / "chapter.ipynb", tmp_path / "orphan.ipynb"]
    notebook = json.loads(make.render(source))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert notebook["cells"][-1]["source"] == ["y = 2"]


def test_the_generator_dry_run_exits_1_naming_stale_notebooks(tmp_path, monkeypatch, capsys):
    make = generator()
    source = tmp_path / "chapter.py"
    source.write_text("# %%\nx = 1\n", encoding="utf-8")
    monkeypatch.setattr(make, "NOTEBOOKS", tmp_path / "course" / "notebooks")
    make.NOTEBOOKS.mkdir(parents=True)
    source.rename(make.NOTEBOOKS / "chapter.py")
    assert make.main(["--dry-run"]) == 1 and "chapter.ipynb" in capsys.readouterr().out
    assert not (make.NOTEBOOKS / "chapter.ipynb").exists()
    assert make.main([]) == 0 and make.main(["--dry-run"]) == 0


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(notebook.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"cells {dirty} of {path.name} hold outputs"
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and re.search(r"^QUICK = False\b", parameters[0].source, re.M)


def test_every_chapter_has_a_notebook():
    chapters = {p.stem for p in (ROOT / "course" / "chapters").glob("*.py")} - NOT_CHAPTERS
    assert chapters - {p.stem for p in NOTEBOOKS.glob("*.py")} == set()


# --- the first cell's helper -------------------------------------------------------------------------
def test_setup_installs_only_the_missing_non_paddle_requirements(tmp_path, monkeypatch):
    from course.chapters import notebook

    listed = tmp_path / "requirements.txt"
    listed.write_text("paddlepaddle==3.3.1\nnumpy==2.4.6  # arrays\n# a comment\nscikit-learn==1.9.1\n"
                      "no-such-package-xyz==1.0\npytest==9.2.0\n", encoding="utf-8")
    specs = notebook.requirements(listed)
    assert specs == ["numpy==2.4.6", "scikit-learn==1.9.1", "no-such-package-xyz==1.0"]
    assert notebook.missing(specs) == ["no-such-package-xyz==1.0"]      # sklearn is found as 'sklearn'
    calls = []

    def pip(command, **options):       # a pin has no wheel here; the bare name installs
        calls.append(command[-1])
        return SimpleNamespace(returncode=1 if "==" in command[-1] else 0)

    monkeypatch.setattr(notebook.subprocess, "run", pip)
    notebook.install(["no-such-package-xyz==1.0"])
    assert calls == ["no-such-package-xyz==1.0", "no-such-package-xyz"]


def test_mnist_splits_cuts_train_and_val_as_the_engine_does():
    from course.chapters.notebook import mnist_path, mnist_splits

    assert mnist_path("mnist") is None and mnist_path(f"mnist:{FIXTURE}") == str(FIXTURE)
    splits = mnist_splits(f"mnist:{FIXTURE}", 600, 300)
    assert (len(splits.train.labels), len(splits.val.labels), len(splits.test.labels)) == (600, 300, 1000)
    assert len(mnist_splits(f"mnist:{FIXTURE}").train.labels) == 6000


# --- each notebook, executed --------------------------------------------------------------------------
def check_ch1_data(v, tmp_path):
    assert v["first_labels"][0] != v["first_labels"][1]                 # a new order every epoch
    assert v["images_seen"] == v["checked"]["images_seen"] == 6_000 and v["batch_id"] + 1 == 60
    assert v["checked"]["first_batch"] == {"images": [100, 1, 28, 28], "labels": [100, 1]}
    assert (tmp_path / "runs" / "ch1-data" / "digits.png").is_file()
    assert len(v["seconds"]) == 2 and min(v["seconds"].values()) > 0


def check_ch2_networks(v, tmp_path):
    acc = v["final_acc"]
    assert v["hand_acc"]["relu"] > 0.5 and v["hand_acc"]["relu"] > v["hand_acc"]["sigmoid"] + 0.1
    assert len(acc) == 6 and acc["sgd+relu500-lr0.1-seed0"] > acc["sgd+sigmoid500-lr0.1-seed0"] + 0.1
    # the course's double softmax costs the sigmoid net: one softmax learns more at the same rate
    assert acc["sgd+sigmoid500-1softmax-lr0.1-seed0"] > acc["sgd+sigmoid500-lr0.1-seed0"]


def check_ch3_loss(v, tmp_path):
    assert abs(v["ce_by_hand"] - v["ce_paddle"]) < 1e-5
    assert v["hand_acc"]["ce"] > v["hand_acc"]["mse"] + 0.1
    assert v["final_acc"]["sgd+classification-ce"] > v["final_acc"]["sgd+regression-mse"] + 0.15


def check_ch4_optimizers(v, tmp_path):
    assert v["lenet_params"] == 20_350
    # SGD: too small a rate learns slowly (0.001 stays near chance, 0.1; 0.1 is far above it)
    assert v["sgd_acc"]["0.1"] > 0.35 and v["sgd_acc"]["0.1"] > v["sgd_acc"]["0.001"] + 0.15
    assert len(v["final_acc"]) == 5 and min(v["final_acc"].values()) > 0.15
    assert max(v["final_acc"].values()) > 0.45
    # the elongated bowl at lr 1: SGD bounces across the valley for ever, momentum damps it out
    assert v["outcomes"]["sgd lr=1"] != "reached" and v["outcomes"]["momentum lr=1"] == "reached"
    assert (tmp_path / "runs" / "mnist_mnist_small-lenet" / "paths_bowl.png").is_file()


def check_ch5_devices(v, tmp_path):
    assert "build" in v["device_lines"][0] and v["images_per_second"]["cpu"] > 0
    one = v["results"]["1"]
    assert one["final_val_acc"] > 0.3
    if compat.spawns_in_this_process():   # (Paddle 2.6: the notebook trains one process only)
        # data parallel: each process half of every batch, gradients averaged = one process's steps
        assert abs(one["final_val_loss"] - v["results"]["2"]["final_val_loss"]) < 1e-4


def check_ch6_debugging(v, tmp_path):
    assert v["layer_shapes"] == {"conv1": [64, 20, 28, 28], "pool1": [64, 20, 14, 14], "conv2": [64, 20, 14, 14],
                                 "pool2": [64, 20, 7, 7], "fc": [64, 10]}
    assert v["val_acc"] > 0.25 and v["losses"][-1] < v["losses"][0]
    assert list((tmp_path / "runs" / "ch6-debugging" / "by-hand" / "vdl").glob("vdlrecords.*"))
    assert (tmp_path / "runs" / "ch6-debugging" / "by-hand" / "training.png").is_file()
    gaps = v["gaps"]          # over-fitting shows on 500 images, and L2 narrows it
    assert gaps["sgd+l2=0"] > 0.05 and gaps["sgd+l2=0.005"] < gaps["sgd+l2=0"]


def check_ch7_resume(v, tmp_path):
    assert len(v["whole"]) == 2 and v["again"] == v["whole"][1:] and v["same"] is True   # bit for bit
    # PolynomialDecay 0.01 -> 0.001 over 2 epochs of 8 steps: half way after epoch 1
    assert abs(v["resumed_lr"] - 0.0055) < 1e-12


def check_ch8_deploy(v, tmp_path):
    assert v["val_acc"] > 0.4 and v["max_gap"] < 1e-4
    assert v["exported"] in (["mnist.json", "mnist.pdiparams"],                        # Paddle 3 (PIR)
                             ["mnist.pdiparams", "mnist.pdiparams.info", "mnist.pdmodel"])   # Paddle 2.6
    assert all(p["static"] == p["dygraph"] for p in v["png_predictions"]) and len(v["png_predictions"]) == 5
    assert sum(p["static"] == p["label"] for p in v["png_predictions"]) >= 3


def plateau_rates(accs, lr, factor=0.1, patience=1, min_delta=1e-4):
    """The rate of each epoch under Keras's ReduceLROnPlateau on val_acc (mode max, cooldown 0)."""
    rates, best, wait = [], float("-inf"), 0
    for acc in accs:
        rates.append(lr)
        if acc > best + min_delta:
            best, wait = acc, 0
        else:
            wait += 1
            if wait >= patience:
                lr, wait = lr * factor, 0
    return rates


def stop_epoch(accs, patience=2):
    """The epoch (from 1) after which Keras's EarlyStopping(val_acc, patience) stops, or None."""
    best, wait = float("-inf"), 0
    for epoch, acc in enumerate(accs, start=1):
        best, wait = (acc, 0) if acc > best else (best, wait + 1)
        if wait >= patience:
            return epoch
    return None


def check_article_reduce_lr(v, tmp_path):
    accs, rates = zip(*v["hand_history"])
    assert list(rates) == pytest.approx(plateau_rates(accs, 0.01)) and min(rates) < 0.01
    plateau, plain = v["runs"]["adam+es+plateau"], v["runs"]["adam+es"]
    assert plateau["lr"] == pytest.approx(plateau_rates(plateau["val_acc"], 0.01)) and min(plateau["lr"]) < 0.01
    assert set(plain["lr"]) == {0.01}
    for run in (plain, plateau):       # each ran until EarlyStopping's rule fired, or to the end
        stopped = stop_epoch(run["val_acc"])
        assert stopped == len(run["val_acc"]) or (stopped is None and len(run["val_acc"]) == v["EPOCHS"])
        assert max(run["val_acc"]) > 0.5


def check_article_filmstar_transfer(v, tmp_path):
    assert 0 < v["trainable"] < v["total"] / 100                 # only the head trains
    assert v["backbone_unchanged"] is True and v["head_changed"] is True
    assert sorted(v["final_acc"]) == ["adam-lr0.001-seed0", "sgd-lr0.01-seed0"]


def check_article_gym_optimizers(v, tmp_path):
    assert len(v["hand_losses"]) == 4 + hasattr(paddle.optimizer, "NAdam") and all(0 < loss < 10 for losses in v["hand_losses"].values() for loss in losses)
    arms = ["adagrad", "adam+plateau", "nadam(momentum_decay=0.004)", "rmsprop", "sgd"]
    assert sorted(v["train_seconds"]) == arms if hasattr(paddle.optimizer, "NAdam") else arms[:2] + arms[3:]
    assert (tmp_path / "runs" / "gym-augment.png").is_file()


def check_article_lighten_vgg16(v, tmp_path):
    hand, counted, table = v["by_hand"], v["counted"], v["table"]
    assert counted["vgg16_keras"] == hand["vgg16_keras"] and counted["vgg16_gap"] == hand["vgg16_gap"]
    assert counted["LightVGG16"] == hand["vgg16_gap"]
    assert table["vgg16_gap"]["params"] == hand["vgg16_gap"] < table["vgg16_keras"]["params"] / 2
    assert table["mobilenet_v2"]["params"] < table["vgg16_gap"]["params"] / 4


CHECKS = {  # notebook -> (the variables its last cell prints, what they must show)
    "ch1_data": (["first_labels", "images_seen", "batch_id", "checked", "seconds"], check_ch1_data),
    "ch2_networks": (["hand_acc", "final_acc"], check_ch2_networks),
    "ch3_loss": (["ce_by_hand", "ce_paddle", "hand_acc", "final_acc"], check_ch3_loss),
    "ch4_optimizers": (["lenet_params", "sgd_acc", "final_acc", "outcomes"], check_ch4_optimizers),
    "ch5_devices": (["device_lines", "images_per_second", "results"], check_ch5_devices),
    "ch6_debugging": (["layer_shapes", "val_acc", "losses", "gaps"], check_ch6_debugging),
    "ch7_resume": (["whole", "again", "same", "resumed_lr"], check_ch7_resume),
    "ch8_deploy": (["val_acc", "max_gap", "exported", "png_predictions"], check_ch8_deploy),
    "article_reduce_lr": (["hand_history", "runs", "EPOCHS"], check_article_reduce_lr),
    "article_filmstar_transfer": (["trainable", "total", "backbone_unchanged", "head_changed", "final_acc"],
                                  check_article_filmstar_transfer),
    "article_gym_optimizers": (["hand_losses", "train_seconds"], check_article_gym_optimizers),
    "article_lighten_vgg16": (["by_hand", "counted", "table"], check_article_lighten_vgg16),
}


@pytest.fixture(scope="module")
def python3_kernel(tmp_path_factory):
    """JUPYTER_PATH with a python3 kernel spec that runs this very interpreter."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                "display_name": "Python 3", "language": "python"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        yield folder


def quick(notebook, tmp_path) -> None:
    """The parameters cell at the quick size, reading the test data and writing under tmp_path."""
    values = {"QUICK": "True", "DATASET": repr(f"mnist:{FIXTURE}"), "LOGDIR": repr(str(tmp_path / "runs")),
              "DATA": repr(str(tmp_path / "digits"))}
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    for name, value in values.items():
        cell.source = re.sub(rf"^{name} = .*$", f"{name} = {value}", cell.source, flags=re.M)
    # every notebook reads data and writes runs: both must be the test's, never the learner's
    assert "QUICK = True" in cell.source and f"LOGDIR = {values['LOGDIR']}" in cell.source
    assert f"DATASET = {values['DATASET']}" in cell.source or f"DATA = {values['DATA']}" in cell.source


def result_cell(names) -> nbformat.NotebookNode:
    code = (f"import json as _json, sys as _sys\n"
            f"print({MARK!r} + _json.dumps({{'python': _sys.executable, **{{n: globals().get(n, '<missing>') "
            f"for n in {names!r}}}}}, default=lambda o: o.item() if hasattr(o, 'item') else str(o)))")
    return nbformat.v4.new_code_cell(code)


@pytest.mark.parametrize("name", sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_top_to_bottom_in_its_quick_size(name, tmp_path, python3_kernel):
    from nbclient import NotebookClient

    names, check = CHECKS[name]
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    quick(notebook, tmp_path)
    notebook.cells.append(result_cell(names))
    start = time.perf_counter()
    NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    seconds = time.perf_counter() - start
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    values = json.loads(printed.split(MARK, 1)[1])
    print(f"{name}: {seconds:.1f} s")
    assert values["python"] == sys.executable
    missing = [n for n in names if values[n] == "<missing>"]
    assert not missing, f"{name} defines no {missing}"
    check(values, tmp_path)
