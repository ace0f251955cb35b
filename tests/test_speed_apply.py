"""course.speed.apply: a built model made faster, its parameters, keys and numbers kept.

FastConv2D on Paddle's kernels (oneDNN turned off, or not usable) equals paddle.nn.Conv2D bit for
bit; on oneDNN within float32 rounding (tests/test_fast_conv.py compares every case).
"""
import numpy as np
import paddle
import pytest

from course import speed
from course.engine.config import RunConfig
from course.speed import layers
from course.speed import onednn as fast_conv
from course.speed.layers import FastConv2D as Conv2D
from models import build_model
from models.mnist_nets import LeNet


@pytest.fixture
def paddle_kernels():
    was = fast_conv.enabled()
    fast_conv.set_enabled(False)
    yield
    fast_conv.set_enabled(was)


def outputs_and_grads(layer, x):
    x_in = x.clone()
    x_in.stop_gradient = False
    out = layer(x_in)
    (out * out).sum().backward()
    return [out.numpy(), x_in.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]


def twins(kwargs):
    paddle.seed(0)
    ours = Conv2D(**kwargs)
    theirs = paddle.nn.Conv2D(**kwargs)
    theirs.set_state_dict(ours.state_dict())          # same parameter names, so this loads
    shape = [5, 9, 9, kwargs["in_channels"]] if kwargs.get("data_format") == "NHWC" else \
        [5, kwargs["in_channels"], 9, 9]
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal(shape).astype("float32"))
    return ours, theirs, x


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=1, out_channels=20, kernel_size=5, padding=2),            # LeNet's conv1
    dict(in_channels=3, out_channels=8, kernel_size=3, stride=2, padding="same"),
    dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2, groups=2),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding=1, padding_mode="reflect"),
    dict(in_channels=3, out_channels=4, kernel_size=3, data_format="NHWC"),
    dict(in_channels=3, out_channels=4, kernel_size=3, bias_attr=False),
])
def test_on_paddles_kernels_outputs_and_gradients_equal_paddles_conv_bit_for_bit(kwargs, paddle_kernels):
    ours, theirs, x = twins(kwargs)
    for a, b in zip(outputs_and_grads(ours, x), outputs_and_grads(theirs, x)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not fast_conv.enabled(), reason="oneDNN is not usable here")
def test_on_onednn_lenets_conv_equals_paddles_within_float32_rounding(monkeypatch):
    ours, theirs, x = twins(dict(in_channels=1, out_channels=20, kernel_size=5, padding=2))
    calls = []
    monkeypatch.setattr(layers, "onednn_conv2d", lambda *a: calls.append(fast_conv.conv2d(*a)) or calls[-1])
    mine = outputs_and_grads(ours, x)
    # The oneDNN path really ran: called once, and it answered (None would mean Paddle's fallback).
    assert len(calls) == 1 and calls[0] is not None
    for a, b in zip(mine, outputs_and_grads(theirs, x)):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * np.abs(b).max())


def test_apply_swaps_every_paddle_conv_and_linear_and_keeps_the_weights():
    model = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.ReLU(),
                                 paddle.nn.Sequential(paddle.nn.Conv2D(4, 4, 1)), Conv2D(4, 2, 1),
                                 paddle.nn.Flatten(), paddle.nn.Linear(98, 3))
    keys = {k: v.numpy() for k, v in model.state_dict().items()}
    assert speed.apply(model) == 3
    assert all(type(layer) not in (paddle.nn.Conv2D, paddle.nn.Linear) for layer in model.sublayers())
    assert model.state_dict().keys() == keys.keys()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), keys[k])
    assert speed.apply(model) == 0


@pytest.mark.parametrize("name,size", [("mobilenet_v2", 32), ("densenet121", 32), ("vgg16", 32),
                                       ("vision:resnet18", 32)])
def test_every_models_convolutions_can_run_on_onednn(name, size):
    """build_model gives plain paddle.nn.Conv2D layers; apply hands every one to FastConv2D."""
    model = build_model(name, num_classes=3, image_size=size)
    convs = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.Conv2D)]
    assert convs and all(type(layer) is paddle.nn.Conv2D for layer in convs)
    speed.apply(model)
    assert all(type(layer) is Conv2D for layer in convs)


def test_the_models_a_learner_reads_are_plain_paddle():
    """No model module uses the speed package: what models/ shows is what Paddle runs."""
    for name in ("lenet", "mlp_relu", "mlp500_relu", "vgg16", "mobilenet_v2"):
        model = build_model(name, num_classes=10, **({} if name in ("lenet", "mlp_relu", "mlp500_relu")
                                                     else {"image_size": 32}))
        assert not speed.is_applied(model) and "forward" not in vars(model)
        assert all(type(layer).__module__.startswith(("paddle.", "models."))
                   for layer in model.sublayers(include_self=True))


@pytest.mark.parametrize("bias", [True, False])
def test_fast_linear_gives_paddles_outputs_and_gradients_bit_for_bit(bias, monkeypatch):
    calls = []
    if layers.FastLinear.direct:   # Paddle 3.3+: the direct call must be what runs, with a bias
        direct = layers._C_ops.linear_v2
        monkeypatch.setattr(layers._C_ops, "linear_v2", lambda *a: calls.append(1) or direct(*a))
    paddle.seed(0)
    theirs = paddle.nn.Linear(784, 512, bias_attr=None if bias else False)
    ours = layers.FastLinear(784, 512, bias_attr=None if bias else False)
    ours.set_state_dict(theirs.state_dict())
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal([64, 784]).astype("float32"))
    for a, b in zip(outputs_and_grads(ours, x), outputs_and_grads(theirs, x)):
        np.testing.assert_array_equal(a, b)
    assert len(calls) == (1 if layers.FastLinear.direct and bias else 0)


def test_the_setting_is_part_of_a_runs_identity():
    # the numbers of a run depend on the kernels it trained on (course/speed says why)
    assert RunConfig(fast_kernels=False).changes_from(RunConfig().to_dict()) == [
        "fast_kernels True -> False"]


def test_lenets_fused_forward_gives_the_plain_forwards_numbers():
    paddle.seed(0)
    plain = LeNet()
    fast = LeNet()
    fast.set_state_dict(plain.state_dict())
    speed.apply(fast)
    x = paddle.rand([8, 1, 28, 28])
    np.testing.assert_allclose(fast(x).numpy(), plain(x).numpy(), rtol=0, atol=2e-5)
