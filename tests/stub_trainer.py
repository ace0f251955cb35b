"""A tiny stand-in for ``course.engine.trainer.Trainer`` to drive callbacks epoch by epoch in tests.

It has what the callback protocol promises (model, optimizer, stop_training, run_dir, get_lr,
set_lr, history) and a real Paddle model and optimizer, so weights really change each epoch.
``run_epochs`` plays the trainer's loop with a scripted sequence of monitored values.
"""
from __future__ import annotations

import numpy as np
import paddle


def make_model_and_optimizer(lr=0.1, optimizer="sgd"):
    """A Linear(4, 2) and its optimizer, with the same parameter names every call.

    Paddle keys optimizer state by generated names (``linear_0.w_0_moment1_0``: the parameter's
    name, then a process-wide counter when the accumulator is created at the first step), so a
    checkpoint loads into a second model in the same process only if both the model and its
    first step see the same names: build and take the first step inside
    ``paddle.utils.unique_name.guard()`` (a new process starts from the same names anyway).
    """
    with paddle.utils.unique_name.guard():
        model = paddle.nn.Linear(4, 2)
        if optimizer == "adam":
            opt = paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters())
        else:
            opt = paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    return model, opt


def train_step(model, optimizer, seed, fresh_names=False):
    """One real optimizer step on a fixed random batch (the same ``seed`` gives the same batch).

    ``fresh_names``: inside ``unique_name.guard()``, so accumulators created by this first step
    get the names a new process would give them.
    """
    if fresh_names:
        with paddle.utils.unique_name.guard():
            return train_step(model, optimizer, seed)
    rng = np.random.default_rng(seed)
    x = paddle.to_tensor(rng.normal(size=(8, 4)).astype("float32"))
    y = paddle.to_tensor(rng.integers(0, 2, size=(8,)).astype("int64"))
    loss = paddle.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()


class StubTrainer:
    def __init__(self, lr=0.1, run_dir=None, optimizer="sgd"):
        self.model, self.optimizer = make_model_and_optimizer(lr, optimizer)
        self.stop_training = False
        self.run_dir = run_dir
        self.history: list[dict] = []

    def get_lr(self) -> float:
        return float(self.optimizer.get_lr())

    def set_lr(self, value: float) -> None:
        self.optimizer.set_lr(float(value))

    def weights(self) -> dict:
        return weights_of(self.model)


def weights_of(model) -> dict:
    """A copy of ``model``'s parameters as numpy arrays."""
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def epoch_logs(epoch, lr, **values):
    """Epoch logs as the trainer writes them, with ``values`` (e.g. val_loss=0.3) overriding."""
    logs = {"epoch": epoch + 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0,
            "val_acc": 0.5, "lr": lr, "epoch_seconds": 0.01}
    logs.update(values)
    return logs


def run_epochs(trainer, callbacks, values, monitor="val_loss", train=False, first=0):
    """Play the trainer's loop over ``values`` (one monitored value per epoch), numbering the
    epochs from ``first`` (a resumed run's).

    Returns a dict: ``lrs`` (the rate after each epoch's callbacks), ``epochs_run``, and
    ``weights`` (a snapshot after each epoch's training, before callbacks) when ``train``.
    """
    lrs, weights = [], []
    for cb in callbacks:
        cb.on_train_begin(trainer)
    logs = {}
    epochs_run = 0
    for epoch, value in enumerate(values, start=first):
        if trainer.stop_training:
            break
        for cb in callbacks:
            cb.on_epoch_begin(trainer, epoch)
        if train:
            train_step(trainer.model, trainer.optimizer, seed=epoch)
            weights.append(weights_of(trainer.model))
        logs = epoch_logs(epoch, trainer.get_lr(), **{monitor: value})
        trainer.history.append(logs)
        for cb in callbacks:
            cb.on_epoch_end(trainer, epoch, logs)
        lrs.append(trainer.get_lr())
        epochs_run += 1
    for cb in callbacks:
        cb.on_train_end(trainer, logs)
    return {"lrs": lrs, "epochs_run": epochs_run, "weights": weights}
