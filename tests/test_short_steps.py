"""The trainer's shorter paths into Paddle's kernels compute what Paddle's own wrappers compute.

``course.engine.losses`` skips ``F.cross_entropy``'s argument handling, and Adam takes Paddle's
multi-tensor path on the CPU: each must give Paddle's numbers (bit for bit where the same kernels
run) and hand back to Paddle's own code wherever the short path does not apply. (SGD is Paddle's
own class: the short SGD step moves to course/speed/.)
"""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from course.engine.losses import cross_entropy
from course.engine.optimizers import build_optimizer
from models.mnist_nets import MLPRelu

STEPS = 6


def batches(seed=0, n=STEPS, size=16):
    rng = np.random.default_rng(seed)
    return [(paddle.to_tensor(rng.random((size, 1, 28, 28), dtype="float32")),
             paddle.to_tensor(rng.integers(0, 10, (size, 1)))) for _ in range(n)]


def train(make_optimizer, loss_fn=F.cross_entropy, lr=0.05, every_step=None):
    """The MLP's weights after STEPS steps from the same start, and the losses on the way."""
    paddle.seed(0)
    model = MLPRelu()
    optimizer = make_optimizer(lr, model.parameters())
    losses = []
    for i, (x, y) in enumerate(batches()):
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
        if every_step:
            every_step(optimizer, i)
    return [p.numpy() for p in model.parameters()], losses


def ours(name, **kw):
    return lambda lr, params: build_optimizer(name, lr, params, **kw)


def assert_bit_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def float64_parameter():
    return paddle.create_parameter([2], "float64", default_initializer=paddle.nn.initializer.Constant(1.0))


def test_adam_takes_the_multi_tensor_path_on_the_cpu_with_adams_numbers():
    optimizer = build_optimizer("adam", 0.01, MLPRelu().parameters())
    assert optimizer._use_multi_tensor
    assert not build_optimizer("adam", 0.01, [float64_parameter()])._use_multi_tensor
    default, _ = train(lambda lr, ps: paddle.optimizer.Adam(lr, parameters=ps), lr=0.01)
    merged, _ = train(ours("adam"), lr=0.01)
    start, _ = train(ours("adam"), lr=0.0)
    for a, b, w0 in zip(merged, default, start):
        assert np.abs(a - w0).max() > 1e-3          # the steps moved the weights
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)   # and moved them where Adam does


def test_the_short_cross_entropy_gives_paddles_loss_and_gradients_bit_for_bit():
    paddle.seed(0)
    logits = paddle.randn([32, 10])
    labels = paddle.randint(0, 10, [32, 1])
    results = []
    for loss_fn in (F.cross_entropy, cross_entropy):
        x = logits.clone()
        x.stop_gradient = False
        loss = loss_fn(x, labels)
        loss.backward()
        results.append((loss.numpy(), x.grad.numpy()))
    (loss_a, grad_a), (loss_b, grad_b) = results
    assert loss_a.shape == loss_b.shape == ()
    np.testing.assert_array_equal(loss_b, loss_a)
    np.testing.assert_array_equal(grad_b, grad_a)
    z, k = logits.numpy().astype("float64"), labels.numpy()[:, 0]
    by_hand = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(k)), k])
    np.testing.assert_allclose(float(loss_b), by_hand, rtol=1e-6)


def test_a_label_out_of_range_is_still_refused():
    with pytest.raises(Exception, match="label|Label"):
        cross_entropy(paddle.randn([4, 10]), paddle.to_tensor([[0], [3], [10], [1]]))
