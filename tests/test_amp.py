"""--amp: what 'auto' stands for on each device and model, what config.json and the run identity
hold, the one-line refusals, and a resume that restores the loss scale and ends bit for bit as
the run that was never stopped.

Paddle 3.3.1 has no mixed precision on a CPU (``auto_cast`` has no effect there, a GradScaler
cannot be enabled), so a bf16 run here goes through the GPU's code path in float32, and the fp16
loss scale is a real ``paddle.amp.GradScaler`` built as if on a GPU (its constructor is the only
part that asks for the device).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import paddle
import pytest

from course.engine.checkpoint import load_resume, save_resume
from course.engine.config import RunConfig
from course.engine.errors import ConfigError
from course.engine.experiment import build_training, run_experiment
from course.engine.precision import MixedPrecision, check_amp, resolve_amp
from tests.test_resume import interrupt_after_epochs, metrics

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_small.npz"
IMAGE_MODEL = "vision:mobilenet_v3_small"


def with_gpus(monkeypatch, count):
    monkeypatch.setattr("course.engine.device.gpu_count", lambda: count)


@pytest.mark.parametrize("device, gpus, model, expected", [
    ("auto", 0, IMAGE_MODEL, "off"),         # a CPU: float32
    ("auto", 1, IMAGE_MODEL, "fp16"),        # an image model on the GPU 'auto' finds
    ("auto", 1, "lenet", "off"),             # the MNIST nets gain nothing from float16
    ("gpu:1", 0, "densenet121", "fp16"),     # named GPU: whether it is there is asked at run start
    ("cpu", 2, IMAGE_MODEL, "off"),
])
def test_auto_resolves_from_the_device_and_the_model(device, gpus, model, expected, monkeypatch):
    with_gpus(monkeypatch, gpus)
    assert resolve_amp("auto", device, model) == expected
    assert resolve_amp("bf16", device, model) == "bf16"          # an explicit choice stays


def test_a_device_spelled_in_capitals_resolves_as_written_in_lower_case(monkeypatch, digits):
    with_gpus(monkeypatch, 1)
    config = RunConfig(dataset=f"folder:{digits['single']}", model=IMAGE_MODEL, device="GPU")
    assert (config.device, config.amp) == ("gpu", "fp16")


def test_config_json_holds_the_resolved_precision(monkeypatch, digits):
    folder = f"folder:{digits['single']}"
    assert RunConfig(dataset=folder, model=IMAGE_MODEL).to_dict()["amp"] == "off"
    with_gpus(monkeypatch, 1)
    assert RunConfig(dataset=folder, model=IMAGE_MODEL).to_dict()["amp"] == "fp16"
    with pytest.raises(ConfigError, match=r"^--amp: unknown precision 'fp8'; choose one of auto, off"):
        RunConfig(amp="fp8")


def test_the_precision_is_part_of_the_run_identity():
    saved = RunConfig().to_dict()
    assert RunConfig(amp="bf16").changes_from(saved) == ["amp 'off' -> 'bf16'"]
    before_amp = {k: v for k, v in saved.items() if k != "amp"}    # a config.json from before --amp
    assert RunConfig().changes_from(before_amp) == []               # ... was float32: off
    assert RunConfig(amp="bf16").changes_from(before_amp) == ["amp 'off' -> 'bf16'"]


def test_fp16_on_a_cpu_is_refused_and_bf16_says_it_computes_in_float32():
    with pytest.raises(ConfigError, match=r"^--amp fp16: float16 needs a GPU"):
        check_amp("fp16", "cpu")
    with pytest.warns(UserWarning, match="this run computes in float32"):
        check_amp("bf16", "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_amp("off", "cpu")


def bf16_config(**settings):
    return RunConfig(**{"dataset": f"mnist:{FIXTURE}", "model": "mlp_keras", "optimizer": "adam",
                        "lr": 0.01, "epochs": 3, "subset": 640, "val_subset": 200, "seed": 3,
                        "amp": "bf16", **settings})


@pytest.mark.filterwarnings("ignore:--amp bf16 on a CPU")
def test_a_bf16_run_resumed_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    config = bf16_config()
    whole = run_experiment(config, tmp_path / "whole", progress=False, log_visualdl=False)
    with monkeypatch.context() as m:
        interrupt_after_epochs(m, 1)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "cut", progress=False, log_visualdl=False)
    resumed = run_experiment(config, tmp_path / "cut", progress=False, log_visualdl=False)
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "whole")
    assert resumed["test_loss"] == whole["test_loss"]
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["amp"] == "bf16"


def gpu_like_scaler(monkeypatch) -> MixedPrecision:
    """fp16 precision whose GradScaler is enabled, as on a GPU (only its constructor asks)."""
    class Place:
        def is_gpu_place(self):
            return True

    class Tracer:
        _expected_place = Place()

    with monkeypatch.context() as m:
        m.setattr(paddle.amp.grad_scaler, "_dygraph_tracer", lambda: Tracer())
        precision = MixedPrecision("fp16")
    assert precision.scaler.is_enable()
    return precision


def test_the_loss_scale_goes_into_the_resume_file_and_comes_back(tmp_path, monkeypatch):
    config = bf16_config(amp="off", model="lenet")
    trainer = build_training(config, 10, (1, 28, 28), 10, progress=False)
    trainer.precision = gpu_like_scaler(monkeypatch)
    # Where a run might be after some skipped and some good steps: scale halved twice, 7 good steps.
    state = {**trainer.precision.state_dict(), "scale": np.array([8192.0], dtype="float32"),
             "incr_count": 7, "decr_count": 0}
    trainer.precision.set_state_dict(state)
    save_resume(tmp_path / "last.pdckpt", trainer, train_data=None)

    fresh = build_training(config, 10, (1, 28, 28), 10, progress=False)
    fresh.precision = gpu_like_scaler(monkeypatch)
    assert float(fresh.precision.state_dict()["scale"][0]) == 2.0 ** 16       # GradScaler's initial scale
    load_resume(tmp_path / "last.pdckpt", fresh, train_data=None)
    restored = fresh.precision.state_dict()
    assert float(restored["scale"][0]) == 8192.0 and restored["incr_count"] == 7
    assert {k: v for k, v in restored.items() if k != "scale"} == {k: v for k, v in state.items() if k != "scale"}


def test_the_trainers_steps_go_through_the_loss_scale_and_learn_what_float32_learns(monkeypatch):
    # Scaling the loss by 2**16 and the gradients back is exact in float32, so a scaled epoch
    # ends on the unscaled epoch's weights; the scaler counts every good step it took.
    config = bf16_config(amp="off", model="lenet", optimizer="sgd", lr=0.1)
    rng = np.random.default_rng(0)
    batches = [(rng.random((4, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, (4, 1)))
               for _ in range(3)]
    plain = build_training(config, 10, (1, 28, 28), 3, progress=False)
    scaled = build_training(config, 10, (1, 28, 28), 3, progress=False)
    scaled.precision = gpu_like_scaler(monkeypatch)
    for trainer in (plain, scaled):
        trainer.train_epoch(batches)
    state = scaled.precision.state_dict()
    assert float(state["scale"][0]) == 2.0 ** 16 and state["incr_count"] == len(batches)
    for (name, a), b in zip(plain.model.state_dict().items(), scaled.model.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    before = build_training(config, 10, (1, 28, 28), 3, progress=False).model.state_dict()
    assert any(not np.array_equal(before[k].numpy(), v.numpy())        # and it did learn
               for k, v in scaled.model.state_dict().items())


def test_without_a_loss_scale_the_resume_file_holds_none_and_loads_anyway(tmp_path):
    config = bf16_config(amp="off", model="lenet")
    trainer = build_training(config, 10, (1, 28, 28), 10, progress=False)
    assert trainer.state_dict()["loss_scale"] == {}
    save_resume(tmp_path / "last.pdckpt", trainer, train_data=None)
    load_resume(tmp_path / "last.pdckpt", build_training(config, 10, (1, 28, 28), 10, progress=False),
                train_data=None)
