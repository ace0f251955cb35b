"""What the trainer's numbers mean: the mode a model is validated in, how a short last batch
counts, how a regressed value becomes a digit, and that an infinite loss stops a run as a NaN does.

Each case is a one-input model whose outputs are set by hand, so every expected number is worked
out in a comment.
"""
import numpy as np
import paddle
import pytest

from course.engine.trainer import Trainer


class Recorder(paddle.nn.Layer):
    """y = w * x + b on one input, recording the mode (training or not) of every forward pass."""

    def __init__(self, w=0.0, b=0.0):
        super().__init__()
        self.fc = paddle.nn.Linear(1, 1)
        self.fc.weight.set_value(np.array([[w]], dtype="float32"))
        self.fc.bias.set_value(np.array([b], dtype="float32"))
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.fc(x)


def batch(xs, labels):
    return np.array(xs, dtype="float32").reshape(-1, 1), np.array(labels, dtype="int64")


def trainer_for(model, lr=0.0, **options):
    optimizer = paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    return Trainer(model, optimizer, loss_kind="mse", progress=False, **options)


def test_validation_and_test_run_in_eval_mode_and_training_in_train_mode():
    model = Recorder()
    trainer = trainer_for(model, check_divergence=False)
    train, val = [batch([1.0], [1]), batch([1.0], [1])], [batch([1.0], [1])]
    trainer.fit(train, val, epochs=2)
    # per epoch: two training steps, then one validation batch
    assert model.modes == [True, True, False, True, True, False]
    model.modes.clear()
    trainer.evaluate(val)                              # the run's test pass
    assert model.modes == [False] and model.training  # back in train mode afterwards


def test_a_short_last_batch_counts_by_its_size_not_as_a_whole_batch():
    # The output is 0 for every image. Batch 1: labels 0, 0, 1 -> squared errors 0, 0, 1, mean 1/3,
    # 2 right (round(0) = 0). Batch 2 (the short last one): label 3 -> error 9, none right.
    # Over the 4 images: loss (3 x 1/3 + 1 x 9) / 4 = 2.5, accuracy 2/4 = 0.5. (Averaging the two
    # batch means instead would give 4.667 and 0.333.)
    batches = [batch([1.0, 1.0, 1.0], [0, 0, 1]), batch([1.0], [3])]
    trainer = trainer_for(Recorder(), check_divergence=False)
    assert trainer.evaluate(batches) == pytest.approx((2.5, 0.5))
    # Training at rate 0 sees the same numbers, counted the same way.
    assert trainer.train_epoch(batches) == pytest.approx((2.5, 0.5))


def test_a_regressed_value_is_the_nearest_digit():
    # The output is the input itself. 2.4 -> 2, 2.6 -> 3, -0.4 -> 0, 9.4 -> 9: all four right.
    # (Truncating would call 2.6 a 2: 3/4; flooring also -0.4 a -1: 2/4; ceiling 2.4 a 3.)
    trainer = trainer_for(Recorder(w=1.0), check_divergence=False)
    loss, acc = trainer.evaluate([batch([2.4, 2.6, -0.4, 9.4], [2, 3, 0, 9])])
    assert acc == 1.0
    assert loss == pytest.approx((0.4 ** 2 + 0.4 ** 2 + 0.4 ** 2 + 0.4 ** 2) / 4, rel=1e-5)


def test_an_infinite_loss_stops_the_run_at_that_step():
    # w = 1e20: the output 1e20, its squared error 1e40 overflows float32 to inf (not NaN).
    trainer = trainer_for(Recorder(w=1e20), lr=0.1)
    trainer.fit([batch([1.0], [1]), batch([1.0], [1]), batch([1.0], [1])], None, epochs=2)
    assert trainer.diverged == "loss became inf in epoch 1"
    assert trainer.global_step == 1 and len(trainer.history) == 1
    assert trainer.history[0]["steps"] == [(1, float("inf"), pytest.approx(0.1))]
