"""course.speed: convolutions on oneDNN give Paddle's outputs and gradients within float32 rounding.

Each case runs the same convolution twice, on oneDNN and on Paddle's own kernel, and compares the
output and every gradient. The tolerance is float32 rounding of long sums: 2e-5 of the largest
value (a weight gradient of LeNet's first conv sums 64 x 28 x 28 = 50,176 products; oneDNN and
Paddle add them in another order). Each case also checks that oneDNN really ran.
"""
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from course import speed
from course.speed.threads import set_num_threads
from course.speed import conv as fast_conv_impl
from course.speed import onednn as fast_conv
from course.speed.layers import FastConv2D as Conv2D
from course.speed.layers import conv_relu_pool
from models.mnist_nets import LeNet


def fast_lenet():
    """LeNet as the engine trains it (course.speed.apply)."""
    net = LeNet()
    speed.apply(net)
    return net

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
pytestmark = pytest.mark.skipif(not fast_conv.enabled(), reason="oneDNN is not usable here")


def assert_close(actual, desired, scale=2e-5):
    np.testing.assert_allclose(actual, desired, rtol=0, atol=scale * max(np.abs(desired).max(), 1e-6))


def run(layer, x, grad_out, input_grad=True):
    """Output and gradients (input first if it has one, then the parameters) of one backward."""
    x = x.clone()
    x.stop_gradient = not input_grad
    out = layer(x)
    (out * grad_out).sum().backward()
    grads = ([] if x.grad is None else [x.grad.numpy()]) + [p.grad.numpy() for p in layer.parameters()]
    for p in layer.parameters():
        p.clear_gradient()
    return [out.numpy()] + grads


CASES = [
    dict(in_channels=1, out_channels=20, kernel_size=5, padding=2),     # LeNet's conv1
    dict(in_channels=20, out_channels=20, kernel_size=5, padding=2),    # LeNet's conv2
    dict(in_channels=3, out_channels=16, kernel_size=3, padding=1),     # VGG16's first
    dict(in_channels=3, out_channels=8, kernel_size=3, stride=2, padding="same"),
    dict(in_channels=4, out_channels=6, kernel_size=3, padding="valid", bias_attr=False),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), padding=[1, 2, 0, 1]),   # asymmetric
    dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2, groups=2),
    dict(in_channels=16, out_channels=16, kernel_size=3, padding=1, groups=16),      # depthwise
    dict(in_channels=8, out_channels=12, kernel_size=1),                             # pointwise
]


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
@pytest.mark.parametrize("input_grad", [True, False], ids=["input-grad", "no-input-grad"])
def test_outputs_and_gradients_equal_paddles_within_float32_rounding(kwargs, input_grad):
    paddle.seed(1)
    layer = Conv2D(**kwargs)
    channels, side = kwargs["in_channels"], 28 if kwargs["in_channels"] == 1 else 11
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.standard_normal([6, channels, side, side]).astype("float32"))
    with paddle.no_grad():
        out_shape = F.conv2d(x, layer.weight, None, layer._stride, layer._padding,
                             layer._dilation, layer._groups).shape
    grad_out = paddle.to_tensor(rng.standard_normal(out_shape).astype("float32"))
    assert fast_conv.conv2d(x, layer.weight, layer.bias, layer._stride, layer._updated_padding,
                            layer._padding_algorithm, layer._dilation, layer._groups) is not None
    ours = run(layer, x, grad_out, input_grad)
    fast_conv.set_enabled(False)
    try:
        paddles = run(layer, x, grad_out, input_grad)
    finally:
        fast_conv.set_enabled(True)
    assert len(ours) == len(paddles) == 1 + input_grad + len(layer.parameters())
    for a, b in zip(ours, paddles):
        assert a.shape == b.shape
        assert_close(a, b)


@pytest.mark.parametrize("shape,channels,kernel,padding,input_grad", [
    ([16, 1, 28, 28], 20, 5, 2, False),     # LeNet's first block
    ([16, 20, 14, 14], 20, 5, 2, True),     # LeNet's second block
    ([3, 4, 9, 9], 6, 3, 0, True),          # odd sizes: floor mode drops the last row/column
])
def test_the_fused_block_equals_conv_relu_pool_one_after_the_other(shape, channels, kernel, padding,
                                                                    input_grad):
    paddle.seed(2)
    conv, pool = Conv2D(shape[1], channels, kernel, padding=padding), paddle.nn.MaxPool2D(2, 2)
    x = paddle.to_tensor(np.random.default_rng(2).standard_normal(shape).astype("float32"))
    results = []
    for fused, fast in ((True, True), (False, True), (False, False)):
        fast_conv.set_enabled(fast)
        x_in = paddle.to_tensor(x.numpy(), stop_gradient=not input_grad)
        out = conv_relu_pool(conv, pool, x_in) if fused else pool(F.relu(conv(x_in)))
        grad_out = paddle.to_tensor(np.random.default_rng(3).standard_normal(out.shape).astype("float32"))
        (out * grad_out).sum().backward()
        results.append([out.numpy()] + [p.grad.numpy() for p in conv.parameters()]
                       + ([x_in.grad.numpy()] if input_grad else []))
        conv.clear_gradients()
    fast_conv.set_enabled(True)
    # This case's own fused plan was made (a fallback would leave none for its input shape).
    assert any(isinstance(k, tuple) and k[0] == "block" and tuple(k[1][0]) == tuple(shape)
               for k in fast_conv_impl._PLANS)
    for fused, unfused, paddles in zip(*results):
        assert fused.shape == paddles.shape
        # ReLU after the pooling (block.py) changes no number: the same kernels one after the
        # other, ReLU and pooling in Paddle's order, give the same bits
        np.testing.assert_array_equal(fused, unfused)
        assert_close(fused, paddles)


@pytest.mark.parametrize("pool", [paddle.nn.MaxPool2D(2, 2, ceil_mode=True),
                                  paddle.nn.MaxPool2D(3, 2, padding=1)], ids=["ceil", "padded"])
def test_a_pool_the_block_does_not_cover_runs_as_three_layers(pool):
    conv = Conv2D(2, 3, 3)
    x = paddle.rand([2, 2, 9, 9])
    before = {k for k in fast_conv_impl._PLANS if k[0] == "block"}
    out = conv_relu_pool(conv, pool, x)
    assert {k for k in fast_conv_impl._PLANS if k[0] == "block"} == before
    np.testing.assert_array_equal(out.numpy(), pool(F.relu(conv(x))).numpy())


def test_lenet_runs_its_blocks_fused_and_a_hooked_layer_unfused():
    net = fast_lenet()
    x = paddle.rand([4, 1, 28, 28])
    blocks = lambda: {k for k in fast_conv_impl._PLANS if k[0] == "block" and k[1][0] == (4, 1, 28, 28)}
    fast_conv_impl._PLANS.clear()
    fused = net(x).numpy()
    assert blocks()                                   # LeNet.forward went through conv_relu_pool
    seen = []
    hook = net.conv1.register_forward_post_hook(lambda layer, inputs, out: seen.append(out.shape))
    try:
        fast_conv_impl._PLANS.clear()
        hooked = net(x).numpy()
    finally:
        hook.remove()
    assert seen == [[4, 20, 28, 28]] and not blocks()   # the hook saw conv1 run by itself
    assert_close(hooked, fused)


def test_lenet_trains_the_same_on_onednn_and_on_paddles_kernels():
    data = np.load(FIXTURE)
    images = data["train_x"][:640].reshape(-1, 1, 28, 28).astype("float32")
    labels = data["train_y"][:640].reshape(-1, 1).astype("int64")
    losses = {}
    for fast in (True, False):
        fast_conv.set_enabled(fast)
        paddle.seed(0)
        net = fast_lenet()
        optimizer = paddle.optimizer.SGD(0.1, parameters=net.parameters())
        losses[fast] = []
        for i in range(0, len(images), 64):
            loss = F.cross_entropy(net(paddle.to_tensor(images[i:i + 64])),
                                   paddle.to_tensor(labels[i:i + 64]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            losses[fast].append(float(loss))
    fast_conv.set_enabled(True)
    assert losses[True][-1] < losses[True][0] - 0.5        # it learns
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


def test_a_layer_called_twice_before_backward_gets_both_gradients():
    paddle.seed(0)
    layer = Conv2D(3, 4, 3, padding=1)
    rng = np.random.default_rng(1)
    a, b = (paddle.to_tensor(rng.standard_normal([2, 3, 8, 8]).astype("float32")) for _ in range(2))
    results = []
    for fast in (True, False):
        fast_conv.set_enabled(fast)
        (layer(a).square().sum() + (2 * layer(b)).sum()).backward()
        results.append([p.grad.numpy() for p in layer.parameters()])
        layer.clear_gradients()
    fast_conv.set_enabled(True)
    for ours, paddles in zip(*results):
        assert_close(ours, paddles)


def test_without_gradients_the_output_is_the_same_and_records_nothing():
    layer = Conv2D(2, 3, 3, padding=1)
    x = paddle.rand([2, 2, 6, 6])
    with paddle.no_grad():
        out = layer(x)
    assert out.stop_gradient
    fast_conv.set_enabled(False)
    expected = layer(x).numpy()
    fast_conv.set_enabled(True)
    assert_close(out.numpy(), expected)


def test_a_non_contiguous_input_is_read_correctly():
    layer = Conv2D(3, 4, 3)
    x = paddle.rand([2, 8, 8, 3]).transpose([0, 3, 1, 2])   # a strided view in Paddle 3
    expected = F.conv2d(x.contiguous(), layer.weight, layer.bias).numpy()
    assert_close(layer(x).numpy(), expected)


def test_each_thread_count_gets_its_own_kernels_and_the_same_numbers():
    layer = Conv2D(20, 20, 5, padding=2)
    x = paddle.rand([16, 20, 14, 14])
    threads = fast_conv.threads()
    one = layer(x).numpy()
    before = len(fast_conv_impl._PLANS)
    set_num_threads(threads + 1)
    try:
        assert fast_conv.threads() == threads + 1
        two = layer(x).numpy()
    finally:
        set_num_threads(threads)
    assert fast_conv.threads() == threads
    assert len(fast_conv_impl._PLANS) >= before + 1
    assert_close(two, one)


def test_what_onednn_does_not_cover_goes_to_paddles_kernel_silently(capsys):
    layer = Conv2D(2, 3, 3)
    assert fast_conv.conv2d(paddle.rand([1, 2, 5, 5], dtype="float64"), layer.weight, layer.bias,
                            [1, 1], [0, 0], "EXPLICIT", [1, 1], 1) is None
    assert fast_conv.conv2d(paddle.rand([1, 2, 2, 2]), layer.weight, layer.bias,   # too small
                            [1, 1], [0, 0], "EXPLICIT", [1, 1], 1) is None
    nhwc = Conv2D(2, 3, 3, data_format="NHWC")
    assert nhwc(paddle.rand([1, 5, 5, 2])).shape == [1, 3, 3, 3]
    assert capsys.readouterr().out == ""


def test_an_unusable_library_prints_one_line_and_paddle_takes_over(monkeypatch, capsys):
    monkeypatch.setitem(fast_conv._state, "disabled", False)
    monkeypatch.setitem(fast_conv._state, "warned", False)

    def broken():
        raise fast_conv.DnnlError("libdnnl.so.3 not found")
    monkeypatch.setattr(fast_conv, "library", broken)
    layer = Conv2D(2, 3, 3, padding=1)
    x = paddle.rand([2, 2, 6, 6])
    outs = [layer(x) for _ in range(3)]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "libdnnl.so.3 not found" in lines[0] and "Paddle's own" in lines[0]
    expected = F.conv2d(x, layer.weight, layer.bias, padding=1).numpy()
    np.testing.assert_array_equal(outs[-1].numpy(), expected)   # Paddle's kernel: exactly


def test_training_on_onednn_is_repeatable_bit_for_bit():
    """What resuming a run relies on: the same steps from the same state give the same weights."""
    data = np.load(FIXTURE)
    images = paddle.to_tensor(data["train_x"][:256].reshape(-1, 1, 28, 28).astype("float32"))
    labels = paddle.to_tensor(data["train_y"][:256].reshape(-1, 1).astype("int64"))
    weights = []
    for _ in range(2):
        paddle.seed(3)
        net = fast_lenet()
        optimizer = paddle.optimizer.Momentum(0.05, parameters=net.parameters())
        for i in range(0, 256, 64):
            F.cross_entropy(net(images[i:i + 64]), labels[i:i + 64]).backward()
            optimizer.step()
            optimizer.clear_grad()
        weights.append([p.numpy() for p in net.parameters()])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("frozen", ["weight", "bias"])
@pytest.mark.parametrize("fused", [False, True], ids=["conv", "fused-block"])
def test_a_frozen_parameter_gets_no_gradient_and_the_others_paddles(frozen, fused):
    paddle.seed(4)
    conv, pool = Conv2D(3, 4, 3, padding=1), paddle.nn.MaxPool2D(2, 2)
    getattr(conv, frozen).stop_gradient = True
    x = paddle.to_tensor(np.random.default_rng(4).standard_normal([2, 3, 8, 8]).astype("float32"))
    results = []
    for fast in (True, False):
        fast_conv.set_enabled(fast)
        x_in = paddle.to_tensor(x.numpy(), stop_gradient=False)
        out = conv_relu_pool(conv, pool, x_in) if fused else conv(x_in)
        (out * out).sum().backward()
        assert getattr(conv, frozen).grad is None
        trained = conv.bias if frozen == "weight" else conv.weight
        results.append([out.numpy(), x_in.grad.numpy(), trained.grad.numpy()])
        conv.clear_gradients()
    fast_conv.set_enabled(True)
    for ours, paddles in zip(*results):
        assert_close(ours, paddles)
