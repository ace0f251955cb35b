"""models.layers.Conv2D: the same numbers as paddle.nn.Conv2D, bit for bit, only faster."""
import numpy as np
import paddle
import pytest

from models.layers import Conv2D


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=1, out_channels=20, kernel_size=5, padding=2),            # LeNet's conv1
    dict(in_channels=3, out_channels=8, kernel_size=3, stride=2, padding="same"),
    dict(in_channels=4, out_channels=8, kernel_size=3, dilation=2, groups=2),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding=1, padding_mode="reflect"),
    dict(in_channels=3, out_channels=4, kernel_size=3, data_format="NHWC"),
    dict(in_channels=3, out_channels=4, kernel_size=3, bias_attr=False),
])
def test_outputs_and_gradients_equal_paddles_conv_bit_for_bit(kwargs):
    paddle.seed(0)
    ours = Conv2D(**kwargs)
    theirs = paddle.nn.Conv2D(**kwargs)
    theirs.set_state_dict(ours.state_dict())          # same parameter names, so this loads
    shape = [5, 9, 9, kwargs["in_channels"]] if kwargs.get("data_format") == "NHWC" else \
        [5, kwargs["in_channels"], 9, 9]
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal(shape).astype("float32"))
    results = []
    for layer in (ours, theirs):
        x_in = x.clone()
        x_in.stop_gradient = False
        out = layer(x_in)
        (out * out).sum().backward()
        results.append([out.numpy(), x_in.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
