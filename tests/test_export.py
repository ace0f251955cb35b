"""Chapter 9: export a trained run, load it without the model code, predict on image files."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest
from PIL import Image

from course.cli import run_main
from course.engine.config import RunConfig
from course.engine.experiment import run_experiment
from course.tools.export import load_exported, model_from_run
from course.tools.predict import read_image
from course.speed import onednn as fast_conv_module

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
DIGITS = 5   # eval digits written as PNG files


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_script, predict_script = load_script("export_model"), load_script("predict")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A LeNet trained for one epoch on 2,000 fixture digits, exported by the script (~5 s)."""
    root = tmp_path_factory.mktemp("export")
    run_dir = root / "run"
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="lenet", optimizer="adam", lr=0.003,
                       epochs=1, batch_size=32, subset=2000, val_subset=200, device="cpu")
    run_experiment(config, run_dir, progress=False, log_visualdl=False)
    assert (run_dir / "model.pdparams").is_file()
    assert export_script.main([str(run_dir)]) == 0
    with np.load(FIXTURE) as npz:
        pixels, labels = npz["eval_x"][:DIGITS].reshape(-1, 28, 28), npz["eval_y"][:DIGITS]
    images = root / "images"
    images.mkdir()
    for i, digit in enumerate(pixels):   # as in MNIST (white on black) and as on paper (inverted)
        Image.fromarray(digit).save(images / f"{i}.png")
        Image.fromarray(255 - digit).save(images / f"{i}_paper.png")
    return {"dir": run_dir, "prefix": run_dir / "export" / "model", "images": images,
            "pixels": pixels, "labels": labels}


def dygraph_logits(run, x, fast_conv=True):
    """The trained model's logits in dygraph; ``fast_conv=False``: on Paddle's own conv kernels."""
    model, _, _ = model_from_run(run["dir"])
    was = fast_conv_module.enabled()
    fast_conv_module.set_enabled(fast_conv and was)
    try:
        with paddle.no_grad():
            return model(paddle.to_tensor(x)).numpy()
    finally:
        fast_conv_module.set_enabled(was)


def test_export_writes_paddles_files_and_our_sidecar(run):
    # Paddle 3 writes its program as model.json (PIR), Paddle 2.6 as model.pdmodel (+ .pdiparams.info)
    names = {p.name for p in run["prefix"].parent.iterdir()} - {"model.pdiparams.info"}
    assert names in ({"model.json", "model.pdiparams", "model_meta.json"},
                     {"model.pdmodel", "model.pdiparams", "model_meta.json"})
    _, meta = load_exported(run["prefix"])
    assert meta["input_shape"] == [1, 28, 28] and meta["preprocess"] == "mnist"
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["model_name"] == "lenet"


def test_exported_model_gives_the_trained_models_logits(run):
    x = np.load(FIXTURE)["eval_x"][:64].reshape(-1, 1, 28, 28).astype("float32") / 256
    layer = paddle.jit.load(str(run["prefix"]))   # plain Paddle, no course code
    layer.eval()
    exported = layer(paddle.to_tensor(x)).numpy()
    # The exported program runs Paddle's conv kernels (im2col + GEMM), dygraph on a CPU runs
    # oneDNN's (course/speed): two implementations, equal within float32 rounding only. The
    # export itself must be exact, so it is compared with the model on the same kernels; the
    # fast path's own distance from Paddle's is tests/test_fast_conv.py's business, and here it
    # only has to give the same logits to well within what could change an answer.
    expected = dygraph_logits(run, x, fast_conv=False)
    np.testing.assert_allclose(exported, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dygraph_logits(run, x), expected, rtol=1e-4, atol=1e-4)
    assert (expected.argmax(1) == np.load(FIXTURE)["eval_y"][:64]).mean() > 0.8  # it was trained


def test_png_digits_read_back_as_the_training_data(run):
    _, meta = load_exported(run["prefix"])
    for i, digit in enumerate(run["pixels"]):
        expected = digit.astype("float32")[None] / 256   # the course's k/256 scaling
        np.testing.assert_array_equal(read_image(run["images"] / f"{i}.png", meta), expected)
        # Black on white (mean > 0.5) is inverted back to MNIST's white on black.
        np.testing.assert_array_equal(read_image(run["images"] / f"{i}_paper.png", meta), expected)


def test_predict_script_prints_class_and_probability_per_image(run):
    files = [str(run["images"] / f"{i}{s}.png") for i in range(DIGITS) for s in ("", "_paper")]
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "predict.py"), *files,
                           "--export", str(run["prefix"])], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""   # no Paddle INFO noise
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 * DIGITS
    probs = np.exp(dygraph_logits(run, run["pixels"][:, None].astype("float32") / 256))
    probs /= probs.sum(1, keepdims=True)
    answers = []
    for line, path in zip(lines, files):
        head, _, rest = line.rpartition(" (p=")
        assert head.startswith(f"{path}: ") and rest.endswith(")"), line
        answers.append((int(head.rsplit(" ", 1)[1]), float(rest[:-1])))
    plain, paper = answers[0::2], answers[1::2]
    assert plain == paper   # same class and probability, inverted or not
    assert sum(c == label for (c, _), label in zip(plain, run["labels"])) >= 4, plain
    for (c, p), row in zip(plain, probs):
        assert c == row.argmax() and p == pytest.approx(row.max(), abs=5e-4)


def test_top_k_lists_the_k_most_likely_classes(run, capsys):
    path = str(run["images"] / "0.png")
    assert run_main(predict_script.main, [path, "--export", str(run["prefix"]), "--top-k", "3"]) == 0
    guesses = capsys.readouterr().out.strip().split(": ", 1)[1].split(", ")
    ps = [float(g.split("(p=")[1].rstrip(")")) for g in guesses]
    assert len(guesses) == 3 and ps == sorted(ps, reverse=True) and sum(ps) <= 1.0005


def copy_export(run, dest):
    dest.mkdir()
    for p in run["prefix"].parent.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return dest / "model"


@pytest.mark.parametrize("damage", ["no model", "garbage weights", "garbage program",
                                    "no weights", "no image", "garbage image", "garbage sidecar"])
def test_bad_files_are_one_line_errors_naming_the_file(run, tmp_path, capsys, damage):
    prefix, image = copy_export(run, tmp_path / "export"), str(run["images"] / "0.png")
    named = str(prefix)
    if damage == "no model":
        prefix, named = tmp_path / "nowhere" / "model", str(tmp_path / "nowhere" / "model")
    elif damage == "garbage weights":
        Path(f"{prefix}.pdiparams").write_bytes(os.urandom(600))
    elif damage == "garbage program":
        program = next(Path(f"{prefix}{suffix}") for suffix in (".json", ".pdmodel")
                       if Path(f"{prefix}{suffix}").exists())
        program.write_bytes(os.urandom(600))
    elif damage == "no weights":
        Path(f"{prefix}.pdiparams").unlink()
        named = f"{prefix}.pdiparams"
    elif damage == "no image":
        image = named = str(tmp_path / "missing.png")
    elif damage == "garbage image":
        image = named = str(tmp_path / "broken.png")
        Path(image).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    elif damage == "garbage sidecar":
        Path(f"{prefix}_meta.json").write_text("{not json")
        named = f"{prefix}_meta.json"
    assert run_main(predict_script.main, [image, "--export", str(prefix)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and named in err, err


def test_export_script_rejects_weights_of_another_model(run, tmp_path, capsys):
    from models import build_model

    other = tmp_path / "mlp.pdparams"
    paddle.save(build_model("mlp_relu").state_dict(), str(other))
    assert run_main(export_script.main, [str(run["dir"]), "--weights", str(other), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(other) in err and "lenet" in err, err


def test_predict_reads_a_digit_file_as_training_read_that_digit(run):
    # Not a scaling constant written here: the arrays the run's data loader gave the model.
    from course.engine.data import load_dataset

    _, meta = load_exported(run["prefix"])
    trained_on = load_dataset(RunConfig(dataset=f"mnist:{FIXTURE}"), progress=False).test.images
    for i in range(DIGITS):
        np.testing.assert_array_equal(read_image(run["images"] / f"{i}.png", meta),
                                      trained_on[i].reshape(1, 28, 28))


def test_an_image_folder_export_reads_files_at_the_runs_size_and_scale(digits, tmp_path):
    # A run on 8x8 digit PNGs at --image-size 32 (not the default 64): the export must expect
    # 32x32, and predict must resize and scale a file exactly as the run's loader did (bilinear,
    # 1/255), or the model sees other numbers than it was trained on.
    from course.engine.data import load_dataset
    from course.engine.experiment import build_run_model
    from course.tools.export import export_run

    config = RunConfig(dataset=f"folder:{digits['split']}", model="mobilenet_v2", image_size=32)
    data = load_dataset(config, progress=False)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
    model = build_run_model(config, data.num_classes, data.input_shape, pretrained=False)
    paddle.save(model.state_dict(), str(run_dir / "model.pdparams"))
    meta, _, _ = export_run(run_dir)
    assert (meta["preprocess"], meta["image_size"], meta["input_shape"]) == ("image", 32, [3, 32, 32])
    test = data.test.dataset
    for i in range(0, len(test), 7):
        path, _ = test.samples[i]
        np.testing.assert_array_equal(read_image(path, meta), test[i][0])
