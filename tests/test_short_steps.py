"""The trainer's shorter paths into Paddle's kernels compute what Paddle's own wrappers compute.

``course.engine.optimizers.SGD`` skips ``Optimizer.step``'s machinery, ``course.engine.losses``
skips ``F.cross_entropy``'s argument handling, and Adam takes Paddle's multi-tensor path on the
CPU: each must give Paddle's numbers (bit for bit where the same kernels run) and hand back to
Paddle's own code wherever the short path does not apply.
"""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from course.engine import optimizers
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


def paddles_sgd(lr, params, **kw):
    return paddle.optimizer.SGD(learning_rate=lr, parameters=params, **kw)


def ours(name, **kw):
    return lambda lr, params: build_optimizer(name, lr, params, **kw)


def assert_bit_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def count_paddles_steps(monkeypatch):
    """A list that grows by one each time Paddle's own SGD.step runs."""
    calls = []
    original = paddle.optimizer.SGD.step
    monkeypatch.setattr(paddle.optimizer.SGD, "step", lambda self: calls.append(1) or original(self))
    return calls


def test_the_short_sgd_step_gives_paddles_weights_bit_for_bit(monkeypatch):
    expected, _ = train(paddles_sgd)
    calls = count_paddles_steps(monkeypatch)
    got, _ = train(ours("sgd"))
    assert len(calls) == 1      # the first step is Paddle's (it sets up), the rest are short
    assert_bit_identical(got, expected)
    assert not all((a == b).all() for a, b in zip(got, train(ours("sgd"), lr=0.04)[0]))


def test_the_short_sgd_step_follows_a_schedule_and_set_lr(monkeypatch):
    def schedule(lr, params, make):
        return make(paddle.optimizer.lr.StepDecay(lr, step_size=2, gamma=0.5), params)

    def step_schedule(optimizer, i):
        optimizer._learning_rate.step()

    expected, _ = train(lambda lr, ps: schedule(lr, ps, paddles_sgd), every_step=step_schedule)
    expected_set, _ = train(paddles_sgd, every_step=lambda o, i: o.set_lr(0.05 / (i + 2)))
    calls = count_paddles_steps(monkeypatch)
    got, _ = train(lambda lr, ps: schedule(lr, ps, ours("sgd")), every_step=step_schedule)
    got_set, _ = train(ours("sgd"), every_step=lambda o, i: o.set_lr(0.05 / (i + 2)))
    assert len(calls) == 2
    assert_bit_identical(got, expected)
    assert_bit_identical(got_set, expected_set)


def test_sgd_with_weight_decay_or_clipping_takes_paddles_own_step(monkeypatch):
    clip = paddle.nn.ClipGradByGlobalNorm(0.1)
    expected_decay, _ = train(lambda lr, ps: paddles_sgd(lr, ps, weight_decay=0.1))
    expected_clip, _ = train(lambda lr, ps: paddles_sgd(lr, ps, grad_clip=clip))
    calls = count_paddles_steps(monkeypatch)
    got_decay, _ = train(ours("sgd", weight_decay=0.1))
    got_clip, _ = train(lambda lr, ps: optimizers.SGD(learning_rate=lr, parameters=ps, grad_clip=clip))
    assert len(calls) == 2 * STEPS
    assert_bit_identical(got_decay, expected_decay)
    assert_bit_identical(got_clip, expected_clip)


def float64_parameter():
    return paddle.create_parameter([2], "float64", default_initializer=paddle.nn.initializer.Constant(1.0))


def test_float64_weights_take_paddles_own_sgd_step(monkeypatch):
    # (tools/optimizer_paths trains float64 points: the short step is for fp32 only)
    calls = count_paddles_steps(monkeypatch)
    w = float64_parameter()
    optimizer = build_optimizer("sgd", 0.5, [w])
    for _ in range(3):
        (w * w).sum().backward()
        optimizer.step()
        optimizer.clear_grad()
    assert len(calls) == 3
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])   # w - 0.5 * 2w = 0 at every step


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
