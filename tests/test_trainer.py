"""The training loop on real MNIST digits: it learns, it is reproducible, it catches divergence."""
from pathlib import Path

import numpy as np
import paddle
import pytest

from course.engine.config import RunConfig
from course.engine.data import load_dataset
from course.engine.device import resolve_device
from course.engine.errors import ConfigError
from course.engine.experiment import build_training
from course.engine.schedules import build_schedule
from course.engine.trainer import Trainer, evaluate

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_small.npz"


def make(config: RunConfig):
    data = load_dataset(config)
    trainer = build_training(config, data.num_classes, data.input_shape, len(data.train), progress=False)
    return trainer, data


def test_lenet_reaches_95_percent_on_held_out_digits():
    # 6,000 real training digits, 3 epochs of Adam; judged on the 1,000 held-out eval digits.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="lenet", optimizer="adam", lr=0.001,
                       epochs=3, batch_size=32, seed=0)
    trainer, data = make(config)
    history = trainer.fit(data.train, data.val, config.epochs)
    _, test_acc = trainer.evaluate(data.test)
    assert len(history) == 3 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert test_acc >= 0.95, f"LeNet reached only {test_acc:.3f} on held-out digits"


def test_evaluate_measures_in_eval_mode_and_puts_the_model_back():
    # mlp_keras has dropout: two passes in train mode would give two different numbers.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_keras", optimizer="adam", lr=0.01,
                       epochs=1, subset=640, val_subset=200, seed=1)
    trainer, data = make(config)
    trainer.fit(data.train, data.val, 1)
    model = trainer.model
    model.train()
    first = evaluate(model, data.val)
    assert model.training                                     # back in the mode it was in
    assert evaluate(model, data.val) == first == trainer.evaluate(data.val)
    assert first == (trainer.history[-1]["val_loss"], trainer.history[-1]["val_acc"])
    model.eval()
    assert evaluate(model, data.val) == first and not model.training


def test_evaluate_uses_the_loss_it_is_given():
    # y = x: outputs 0.4, 1.6, 2.0 for labels 0, 2, 1 -> rounded 0, 2, 2: two of three right.
    model = paddle.nn.Linear(1, 1)
    model.weight.set_value(np.ones((1, 1), "float32"))
    model.bias.set_value(np.zeros(1, "float32"))
    batches = [(np.array([[0.4], [1.6]], "float32"), np.array([0, 2])), (np.array([[2.0]], "float32"), np.array([1]))]
    loss, acc = evaluate(model, batches, loss_kind="mse")
    assert loss == pytest.approx((0.16 + 0.16 + 1.0) / 3) and acc == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="loss_kind must be one of"):
        evaluate(model, batches, loss_kind="hinge")


def test_same_seed_gives_the_same_loss_curve():
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_keras", optimizer="momentum", lr=0.01,
                       epochs=2, subset=800, val_subset=200, seed=3)
    curves = []
    for _ in range(2):
        trainer, data = make(config)
        curves.append([(h["train_loss"], h["val_loss"]) for h in trainer.fit(data.train, data.val, 2)])
    assert curves[0] == curves[1]          # bit for bit, dropout included
    trainer, data = make(config.replace(seed=4))
    other = [(h["train_loss"], h["val_loss"]) for h in trainer.fit(data.train, data.val, 2)]
    assert other != curves[0]


def test_nan_loss_is_marked_diverged_and_stops():
    # Linear regression by SGD at rate 50: every step multiplies the error by ~1,000s, so the
    # loss overflows to Inf/NaN within the first epoch (no ReLU can die and keep it finite).
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="linear", optimizer="sgd", lr=50.0,
                       epochs=3, subset=2000, val_subset=200)
    trainer, data = make(config)
    history = trainer.fit(data.train, data.val, config.epochs)
    assert "loss became" in trainer.diverged or " is nan" in trainer.diverged or " is inf" in trainer.diverged
    assert len(history) == 1               # stopped in the first epoch instead of running all 3


def test_validation_at_chance_after_first_epoch_is_marked_diverged():
    # A learning rate so small that nothing is learned: still at chance after 100 steps.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="lenet", optimizer="sgd", lr=1e-7,
                       epochs=3, batch_size=32, subset=3200, val_subset=500)
    trainer, data = make(config)
    trainer.fit(data.train, data.val, config.epochs)
    assert "chance" in trainer.diverged and len(trainer.history) == 1


def test_a_dead_network_stuck_on_one_class_is_marked_diverged():
    # Adam at 10,000 kills every ReLU: the loss stays finite, the network answers one class.
    # On 300 validation digits the most common class is 13%: that, not 10%, is "chance" here.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", optimizer="adam", lr=1e4,
                       epochs=2, batch_size=32, subset=3200, val_subset=300)
    trainer, data = make(config)
    trainer.fit(data.train, data.val, config.epochs)
    assert "chance level (0.13)" in trainer.diverged and len(trainer.history) == 1


def test_small_data_is_not_judged_at_chance_before_100_steps():
    # 256 images are 4 steps an epoch: 3 epochs at chance are not yet a verdict.
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="lenet", optimizer="sgd", lr=1e-7,
                       epochs=3, batch_size=64, subset=256, val_subset=500)
    trainer, data = make(config)
    trainer.fit(data.train, data.val, config.epochs)
    assert not trainer.diverged and len(trainer.history) == 3
    assert trainer.history[-1]["val_acc"] <= 0.12   # it is at chance, and still ran on


def test_linear_regression_model_trains_with_mse():
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="linear", optimizer="sgd", lr=0.01,
                       epochs=2, subset=2000, val_subset=500)
    trainer, data = make(config)
    assert trainer.loss_kind == "mse"
    history = trainer.fit(data.train, data.val, 2)
    # Predicting the mean digit (4.5) gives an MSE of about 8.3; the regression must beat that.
    assert history[-1]["val_loss"] < 6.0


def test_resume_from_state_equals_the_uninterrupted_run():
    config = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_keras", optimizer="adam", lr=0.001,
                       epochs=3, subset=600, val_subset=200, seed=1)
    full, data = make(config)
    full.fit(data.train, data.val, 3)

    first, data = make(config)
    first.fit(data.train, data.val, 1)
    saved = {"trainer": first.state_dict(), "data": data.train.state_dict()}
    second, data2 = make(config)               # a fresh process would start like this
    second.set_state_dict(saved["trainer"])
    data2.train.set_state_dict(saved["data"])
    second.fit(data2.train, data2.val, 3)
    assert [h["val_loss"] for h in second.history] == [h["val_loss"] for h in full.history]
    for name, value in full.model.state_dict().items():
        np.testing.assert_array_equal(second.model.state_dict()[name].numpy(), value.numpy())


class RecordingSGD(paddle.optimizer.SGD):
    """SGD that records the rate each of its steps uses."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rates = []

    def step(self):
        self.rates.append(self.get_lr())
        super().step()


@pytest.mark.parametrize("schedule, args, rate_at", [
    # per batch: Keras ExponentialDecay, step k (from 0) trains at 0.1 * 0.5 ** (k / 2)
    ("exponential", {"decay_steps": 2, "decay_rate": 0.5}, lambda k: 0.1 * 0.5 ** (k / 2)),
    # per epoch: StepDecay, halved after every epoch of 3 steps
    ("step", {"step_size": 1, "gamma": 0.5}, lambda k: 0.1 * 0.5 ** (k // 3)),
], ids=["per-batch", "per-epoch"])
def test_fit_steps_the_schedule_by_its_unit(schedule, args, rate_at):
    scheduler = build_schedule(schedule, 0.1, steps_per_epoch=3, epochs=3, **args)
    model = paddle.nn.Linear(4, 2)
    optimizer = RecordingSGD(learning_rate=scheduler, parameters=model.parameters())
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, size=(8,)).astype("int64"))
               for _ in range(3)]
    trainer = Trainer(model, optimizer, scheduler=scheduler, check_divergence=False, progress=False)
    history = trainer.fit(batches, batches, epochs=3)
    expected = [rate_at(k) for k in range(9)]
    assert optimizer.rates == pytest.approx(expected, rel=1e-6)          # the rate each step used
    assert [h["lr"] for h in history] == pytest.approx(expected[::3], rel=1e-6)   # each epoch's log


def test_gpu_on_a_cpu_build_is_a_clear_error():
    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this Paddle has CUDA")
    with pytest.raises(ConfigError, match="CPU-only build; install paddlepaddle-gpu"):
        resolve_device("gpu")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")
