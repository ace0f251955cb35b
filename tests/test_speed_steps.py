"""course.speed's short SGD step and cross-entropy compute what Paddle's own code computes, bit
for bit, and hand back to Paddle's code wherever the short path does not apply."""
import numpy as np
import paddle
import paddle.nn.functional as F

from course import speed
from course.engine.optimizers import build_optimizer
from course.speed.steps import ShortStepSGD, cross_entropy, shorten_sgd_step
from models.mnist_nets import MLPRelu

STEPS = 6


def batches(seed=0, n=STEPS, size=16):
    rng = np.random.default_rng(seed)
    return [(paddle.to_tensor(rng.random((size, 1, 28, 28), dtype="float32")),
             paddle.to_tensor(rng.integers(0, 10, (size, 1)))) for _ in range(n)]


def train(make_optimizer, short=False, loss_fn=F.cross_entropy, lr=0.05, every_step=None):
    """The MLP's weights after STEPS steps from the same start (``short``: SGD's short step)."""
    paddle.seed(0)
    model = MLPRelu()
    optimizer = make_optimizer(lr, model.parameters())
    if short:
        assert shorten_sgd_step(optimizer)
    for i, (x, y) in enumerate(batches()):
        loss_fn(model(x), y).backward()
        optimizer.step()
        optimizer.clear_grad()
        if every_step:
            every_step(optimizer, i)
    return [p.numpy() for p in model.parameters()]


def sgd(lr, params, **kw):
    return paddle.optimizer.SGD(learning_rate=lr, parameters=params, **kw)


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
    expected = train(sgd)
    calls = count_paddles_steps(monkeypatch)
    got = train(sgd, short=True)
    assert len(calls) == 1      # the first step is Paddle's (it sets up), the rest are short
    assert_bit_identical(got, expected)
    assert not all((a == b).all() for a, b in zip(got, train(sgd, short=True, lr=0.04)))


def test_the_short_sgd_step_follows_a_schedule_and_set_lr(monkeypatch):
    def scheduled(lr, params):
        return sgd(paddle.optimizer.lr.StepDecay(lr, step_size=2, gamma=0.5), params)

    def step_schedule(optimizer, i):
        optimizer._learning_rate.step()

    def set_lr(optimizer, i):
        optimizer.set_lr(0.05 / (i + 2))

    expected, expected_set = train(scheduled, every_step=step_schedule), train(sgd, every_step=set_lr)
    calls = count_paddles_steps(monkeypatch)
    got = train(scheduled, short=True, every_step=step_schedule)
    got_set = train(sgd, short=True, every_step=set_lr)
    assert len(calls) == 2
    assert_bit_identical(got, expected)
    assert_bit_identical(got_set, expected_set)


def test_sgd_with_weight_decay_or_clipping_takes_paddles_own_step(monkeypatch):
    clip = paddle.nn.ClipGradByGlobalNorm(0.1)
    expected_decay = train(lambda lr, ps: sgd(lr, ps, weight_decay=0.1))
    expected_clip = train(lambda lr, ps: sgd(lr, ps, grad_clip=clip))
    calls = count_paddles_steps(monkeypatch)
    got_decay = train(lambda lr, ps: sgd(lr, ps, weight_decay=0.1), short=True)
    got_clip = train(lambda lr, ps: sgd(lr, ps, grad_clip=clip), short=True)
    assert len(calls) == 2 * STEPS
    assert_bit_identical(got_decay, expected_decay)
    assert_bit_identical(got_clip, expected_clip)


def test_float64_weights_take_paddles_own_sgd_step(monkeypatch):
    # (course.tools.optimizer_paths trains float64 points: the short step is for fp32 only)
    calls = count_paddles_steps(monkeypatch)
    w = paddle.create_parameter([2], "float64", default_initializer=paddle.nn.initializer.Constant(1.0))
    optimizer = build_optimizer("sgd", 0.5, [w])
    assert shorten_sgd_step(optimizer)
    for _ in range(3):
        (w * w).sum().backward()
        optimizer.step()
        optimizer.clear_grad()
    assert len(calls) == 3
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])   # w - 0.5 * 2w = 0 at every step


def test_only_a_plain_sgd_gets_the_short_step_and_its_state_is_kept():
    model = MLPRelu()
    momentum = build_optimizer("momentum", 0.1, model.parameters())
    assert not shorten_sgd_step(momentum) and type(momentum) is paddle.optimizer.Momentum
    plain = build_optimizer("sgd", 0.1, model.parameters())
    state = plain.state_dict()
    speed.apply(model, plain)
    assert type(plain) is ShortStepSGD and plain.state_dict().keys() == state.keys()


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


def test_a_trainer_on_fast_kernels_trains_to_paddles_numbers_bit_for_bit():
    """The MLP through the engine with and without course.speed: SGD, cross-entropy and linear
    layers are all bit-identical (no convolution: those round differently)."""
    from course.engine.config import RunConfig
    from course.engine.experiment import build_training

    results = []
    for fast in (True, False):
        config = RunConfig(model="mlp_relu", optimizer="sgd", lr=0.05, seed=0, fast_kernels=fast)
        trainer = build_training(config, 10, (1, 28, 28), STEPS, progress=False)
        assert (trainer.cross_entropy is cross_entropy) == fast
        assert (type(trainer.optimizer) is ShortStepSGD) == fast
        results.append((trainer.train_epoch(batches()), [p.numpy() for p in trainer.model.parameters()]))
    (fast_loss_acc, fast_weights), (plain_loss_acc, plain_weights) = results
    assert fast_loss_acc == plain_loss_acc
    assert_bit_identical(fast_weights, plain_weights)
