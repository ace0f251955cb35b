"""Every optimizer in the registry trains, weight decay is applied, bad names and rates are refused."""
import numpy as np
import paddle
import pytest

from course.engine.errors import ConfigError
from course.engine.config import RunConfig
from course.engine.optimizers import available_optimizers, build_optimizer, canonical_optimizer

# A rate at which each optimizer is expected to make progress on a small, well-scaled problem.
SENSIBLE_LR = {"sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.3, "rmsprop": 0.01,
               "adam": 0.03, "adamw": 0.03, "adadelta": 10.0, "adamax": 0.05, "nadam": 0.03,
               "radam": 0.03, "lamb": 0.05}


def blobs(seed=0, n=256, dim=16, classes=4):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, (classes, dim))
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.normal(0, 1.0, (n, dim))
    return paddle.to_tensor(x.astype("float32")), paddle.to_tensor(y.astype("int64"))


@pytest.mark.parametrize("name", sorted(available_optimizers()))
def test_every_optimizer_takes_the_rate_or_schedule_and_only_trainable_parameters(name):
    layer = paddle.nn.Linear(3, 2)
    layer.bias.stop_gradient = True                 # frozen: no optimizer state for it
    opt = build_optimizer(name, 0.037, layer.parameters())
    assert opt.get_lr() == pytest.approx(0.037)
    assert [p.name for p in opt._parameter_list] == [layer.weight.name]
    schedule = paddle.optimizer.lr.StepDecay(0.1, step_size=1, gamma=0.5)
    opt = build_optimizer(name, schedule, layer.parameters())
    schedule.step()
    assert opt.get_lr() == pytest.approx(0.05)      # the optimizer reads the schedule's rate


@pytest.mark.parametrize("name", sorted(available_optimizers()))
def test_optimizer_lowers_the_loss(name):
    paddle.seed(0)
    x, y = blobs()
    model = paddle.nn.Sequential(paddle.nn.Linear(16, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 4))
    opt = build_optimizer(name, SENSIBLE_LR[name], model.parameters())
    losses = []
    for _ in range(60):
        loss = paddle.nn.functional.cross_entropy(model(x), y.reshape([-1, 1]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_weight_decay_is_l2_on_the_gradient():
    # With a zero loss gradient, SGD with L2 coefficient wd moves w to w * (1 - lr * wd).
    layer = paddle.nn.Linear(3, 1)
    w0 = layer.weight.numpy().copy()
    opt = build_optimizer("sgd", 0.1, layer.parameters(), weight_decay=0.5)
    (layer.weight.sum() * 0.0).backward()
    opt.step()
    np.testing.assert_allclose(layer.weight.numpy(), w0 * (1 - 0.1 * 0.5), rtol=1e-6)


def test_unknown_optimizer_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown optimizer 'adamm'.*sgd, momentum"):
        canonical_optimizer("adamm")


@pytest.mark.parametrize("lr, message", [(0, "--lr: must be > 0, got 0"), (-0.1, "--lr: must be > 0"),
                                         (float("nan"), "--lr: expected a finite number, got nan"),
                                         (float("inf"), "--lr: expected a finite number, got inf"),
                                         ("fast", "--lr: expected float, got 'fast'")])
def test_bad_learning_rate_is_refused_when_the_config_is_built(lr, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(lr=lr)


def test_names_are_case_insensitive_and_keras_spellings_work():
    assert canonical_optimizer("RMSProp") == "rmsprop"
    assert canonical_optimizer("NAG") == "nesterov"
