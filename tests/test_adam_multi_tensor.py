"""Adam takes Paddle's multi-tensor path (``use_multi_tensor``) for fp32 weights on the CPU, and
computes Adam's numbers there; float64 weights (tools/optimizer_paths) take the default path.
"""
import numpy as np
import paddle
import paddle.nn.functional as F

from course.engine.optimizers import build_optimizer
from models.mnist_nets import MLPRelu

STEPS = 6


def batches(seed=0, n=STEPS, size=16):
    rng = np.random.default_rng(seed)
    return [(paddle.to_tensor(rng.random((size, 1, 28, 28), dtype="float32")),
             paddle.to_tensor(rng.integers(0, 10, (size, 1)))) for _ in range(n)]


def train(make_optimizer, lr):
    """The MLP's weights after STEPS steps from the same start."""
    paddle.seed(0)
    model = MLPRelu()
    optimizer = make_optimizer(lr, model.parameters())
    for x, y in batches():
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        optimizer.clear_grad()
    return [p.numpy() for p in model.parameters()]


def ours(name):
    return lambda lr, params: build_optimizer(name, lr, params)


def float64_parameter():
    return paddle.create_parameter([2], "float64", default_initializer=paddle.nn.initializer.Constant(1.0))


def test_adam_takes_the_multi_tensor_path_on_the_cpu_with_adams_numbers():
    optimizer = build_optimizer("adam", 0.01, MLPRelu().parameters())
    assert optimizer._use_multi_tensor
    assert not build_optimizer("adam", 0.01, [float64_parameter()])._use_multi_tensor
    default = train(lambda lr, ps: paddle.optimizer.Adam(lr, parameters=ps), lr=0.01)
    merged = train(ours("adam"), lr=0.01)
    start = train(ours("adam"), lr=0.0)
    for a, b, w0 in zip(merged, default, start):
        assert np.abs(a - w0).max() > 1e-3          # the steps moved the weights
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)   # and moved them where Adam does
