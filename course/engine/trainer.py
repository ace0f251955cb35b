"""The one training loop every chapter, sweep and test uses (dygraph: forward, loss, backward, step).

A ``Trainer`` owns the model, optimizer, optional LR schedule and callbacks. ``fit`` runs whole
epochs, logs per-epoch train/validation loss and accuracy (the keys below are what callbacks,
metrics files and VisualDL see), stops a diverging run, and can hand its full state to a
checkpoint so an interrupted run continues exactly where it stopped.

Epoch log keys: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, ``epoch_seconds``,
and ``steps``: the epoch's per-step points ``(global step, loss, lr)``, one every
``log_every_n_steps`` steps (and the step a NaN/Inf loss stopped the run), which VisualDL
draws at step resolution. Kept in the history, so a resumed run rewrites its records exactly.
"""
from __future__ import annotations

import math
import time
from collections import Counter

import paddle
import paddle.nn.functional as F
from paddle.utils import unique_name

from course.engine.errors import ConfigError
from course.engine.names import new_names
from course.engine.precision import MixedPrecision
from course.engine.progress import progress_bar


LOSS_KINDS = ("ce", "mse", "double_softmax")
CHANCE_CHECK_STEPS = 100  # MNIST's default first epoch (20,000 images / 64) has 313 steps


def _tensor(batch):
    """A batch as a paddle Tensor (a DataLoader's already is; copying it again only warns)."""
    return batch if isinstance(batch, paddle.Tensor) else paddle.to_tensor(batch)


def loss_and_correct(out, labels, loss_kind: str = "ce", cross_entropy=F.cross_entropy):
    """The batch's mean loss (a Tensor, for backward) and its number of correct answers.

    ``loss_kind`` is one of ``LOSS_KINDS``: 'ce' (cross-entropy on logits), 'mse' (the single output
    regresses the digit's value; an answer is correct when the rounded output is the label) or
    'double_softmax' (the course's nets end in a softmax, and cross_entropy applies its own on top).
    """
    if loss_kind == "mse":
        target = labels.astype("float32").reshape([-1, 1])
        loss = F.mse_loss(out, target)
        correct = (paddle.round(out).astype("int64").reshape([-1]) == labels.reshape([-1]))
    else:
        if loss_kind == "double_softmax":
            out = F.softmax(out)
        loss = cross_entropy(out, labels.reshape([-1, 1]))
        correct = out.argmax(axis=1) == labels.reshape([-1])
    return loss, correct.astype("int64").sum()


def evaluate(model, batches, loss_kind: str = "ce", precision=None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``batches`` of (images, labels), in eval mode.

    Eval mode switches dropout off and freezes batch norm's statistics; the model is put back in
    the mode it was in. The loss is the one ``loss_kind`` names (see ``loss_and_correct``), so a
    notebook that trains by hand measures its model exactly as a run measures its own.

    Example:
        >>> val_loss, val_acc = evaluate(model, val_loader())   # doctest: +SKIP
    """
    return _evaluate(model, batches, loss_kind, precision)[:2]


@paddle.no_grad()
def _evaluate(model, batches, loss_kind, precision) -> tuple[float, float, float]:
    """``evaluate``'s (loss, accuracy), and the share of the most common label: what always
    answering that class scores, as a network that stopped learning does (the divergence check's
    "chance", ``Trainer.majority_acc``)."""
    if loss_kind not in LOSS_KINDS:
        raise ConfigError(f"loss_kind must be one of {', '.join(LOSS_KINDS)}, got {loss_kind!r}")
    precision = precision if precision is not None else MixedPrecision("off")
    was_training = model.training
    model.eval()
    loss_sum, correct_sum, seen = 0.0, 0, 0
    label_counts: Counter = Counter()
    try:
        for images, labels in batches:
            images, labels = _tensor(images), _tensor(labels)
            with precision.autocast():
                loss, correct = loss_and_correct(model(images), labels, loss_kind)
            n = images.shape[0]
            loss_sum += float(loss) * n
            correct_sum += int(correct)
            seen += n
            label_counts.update(labels.numpy().ravel().tolist())
    finally:
        if was_training:   # (Layer.train takes no mode argument before Paddle 3)
            model.train()
    majority = max(label_counts.values(), default=0) / max(seen, 1)
    return loss_sum / max(seen, 1), correct_sum / max(seen, 1), majority


class Trainer:
    """Train ``model`` with ``optimizer`` on batches of (images, labels).

    Args:
        model: a ``paddle.nn.Layer`` returning logits (or one value for ``loss_kind='mse'``).
        optimizer: a ``paddle.optimizer.Optimizer`` over the model's trainable parameters.
        loss_kind: 'ce' (cross-entropy on logits), 'mse' (the course's linear regression:
            the single output regresses the digit's value, accuracy = rounded output == label) or
            'double_softmax' (the course's way: softmax on the logits, then cross_entropy's own).
        scheduler: optional ``LRScheduler`` with ``step_unit`` 'batch' or 'epoch'.
        callbacks: objects with the hooks of ``course.engine.callbacks.base.Callback``, called
            in their order: how a run writes its files, reports its events and draws its curves
            (``course.engine.experiment`` adds those).
        num_classes: for the divergence check's chance level.
        check_divergence: stop (and mark ``diverged``) on a NaN/Inf loss, or when validation
            accuracy is still at chance level after the first epoch -- on a small data set,
            after the first epoch that ends with ``CHANCE_CHECK_STEPS`` steps done, so a run
            is not judged on the 4 steps an epoch of 256 images gives.
        stop_at_chance: whether the chance-level rule applies (NaN/Inf always stops a run).
        progress: show a per-epoch progress bar.
        run_dir: the run's directory (callbacks write checkpoints there), or None.
        seed: reseeds Paddle at each epoch start, for exact resume (None = leave the RNG alone).
        names: the ``paddle.utils.unique_name`` generator the model was built under. Optimizer
            steps run under it too, so the optimizer's state (named at its first step, e.g.
            ``linear_0.w_0_moment1_0``) gets the same names in every process and a saved state
            loads back.
        log_every_n_steps: keep the loss and rate of every N-th step in the epoch's ``steps``
            (0 = none); callbacks see ``kept=True`` in those steps' logs.
        precision: a ``course.engine.precision.MixedPrecision`` (None: float32). Its loss
            scale is part of the state a resume restores.
    """

    def __init__(self, model, optimizer, loss_kind="ce", scheduler=None, callbacks=(),
                 num_classes=10, check_divergence=True, progress=True, run_dir=None, seed=None,
                 names=None, stop_at_chance=True, log_every_n_steps=0, precision=None):
        if loss_kind not in LOSS_KINDS:
            raise ConfigError(f"loss_kind must be one of {', '.join(LOSS_KINDS)}, got {loss_kind!r}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.loss_kind, self.num_classes = loss_kind, num_classes
        self.callbacks = list(callbacks)
        self.check_divergence, self.progress, self.run_dir = check_divergence, progress, run_dir
        self.history: list[dict] = []
        self.stop_training = False
        self.diverged = ""            # why the run was stopped as diverged ('' = it was not)
        self.global_step = 0
        self._epoch_steps = 0
        self.majority_acc = 0.0   # set by evaluate(): the most common class's share of the labels
        self.stop_at_chance = stop_at_chance
        self.seed = seed
        self.names = names if names is not None else new_names()
        self.log_every_n_steps = log_every_n_steps
        self._epoch_points: list[tuple] = []
        self.precision = precision if precision is not None else MixedPrecision("off")
        # What training steps call for 'ce' and 'double_softmax' (course.speed swaps in a
        # bit-identical shorter call).
        self.cross_entropy = F.cross_entropy

    # --- learning rate, for callbacks ------------------------------------------------------------
    def get_lr(self) -> float:
        """The optimizer's current learning rate."""
        return float(self.optimizer.get_lr())

    def set_lr(self, value: float) -> None:
        """Set the learning rate (for callbacks); an error while a schedule drives the rate."""
        if self.scheduler is not None:
            raise ConfigError("cannot set the learning rate by hand while a schedule drives it "
                              f"({type(self.scheduler).__name__}); use schedule 'constant'")
        self.optimizer.set_lr(float(value))

    # --- one step, one epoch, evaluation ---------------------------------------------------------
    def train_epoch(self, batches, epoch: int = 0) -> tuple[float, float]:
        """One pass over ``batches``; returns (mean loss, accuracy) over the samples seen."""
        self.model.train()
        loss_sum, correct_sum, seen = 0.0, 0, 0
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch + 1}", enabled=self.progress)
        every, self._epoch_points = self.log_every_n_steps, []
        for images, labels in batches:
            images, labels = _tensor(images), _tensor(labels)
            with self.precision.autocast():
                out = self.model(images)
                loss, correct = loss_and_correct(out, labels, self.loss_kind, self.cross_entropy)
            self.precision.backward(loss)
            # The rate this step uses, read before a per-batch schedule moves on to the next one.
            lr = self.get_lr()
            with unique_name.guard(self.names):
                self.precision.step(self.optimizer)
            self.optimizer.clear_grad()
            self.global_step += 1
            if self.scheduler is not None and self.scheduler.step_unit == "batch":
                self.scheduler.step()
            n = images.shape[0]
            value = float(loss)  # one host sync per step: cheap on CPU, needed to catch NaN early
            loss_sum += value * n
            correct_sum += int(correct)
            seen += n
            stop = not math.isfinite(value) and self.check_divergence
            kept = stop or (every > 0 and self.global_step % every == 0)
            if kept:   # (handed to the callbacks as it happens: the VisualDL curve grows live)
                self._epoch_points.append((self.global_step, value, lr))
            for cb in self.callbacks:
                cb.on_batch_end(self, self.global_step, {"loss": value, "lr": lr, "kept": kept})
            bar.update(1, loss=value)
            if stop:
                self.diverged = f"loss became {value} in epoch {epoch + 1}"
                break
        bar.close()
        return loss_sum / max(seen, 1), correct_sum / max(seen, 1)

    def evaluate(self, batches) -> tuple[float, float]:
        """Mean loss and accuracy of the model on ``batches`` (``evaluate``), noting ``majority_acc``."""
        loss, acc, self.majority_acc = _evaluate(self.model, batches, self.loss_kind, self.precision)
        return loss, acc

    # --- the loop ---------------------------------------------------------------------------------
    def fit(self, train_batches, val_batches, epochs: int) -> list[dict]:
        """Train until ``epochs`` epochs are in ``history`` (a resumed trainer starts where it was).

        After each epoch the epoch-unit schedule steps, then every callback's ``on_epoch_end``
        runs in order (a run's last ones save its files and report the epoch).
        """
        if epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {epochs}")
        for cb in self.callbacks:
            cb.on_train_begin(self)
        logs: dict = self.history[-1] if self.history else {}
        for epoch in range(len(self.history), epochs):
            if self.stop_training or self.diverged:
                break
            if self.seed is not None:
                # Reseed per epoch so dropout masks depend only on (seed, epoch): a run resumed
                # at epoch k draws exactly what the uninterrupted run drew.
                paddle.seed(self.seed * 100_003 + epoch + 1)
            for cb in self.callbacks:
                cb.on_epoch_begin(self, epoch)
            lr = self.get_lr()   # the rate this epoch trained with (schedules move it afterwards)
            start, first_step = time.perf_counter(), self.global_step
            train_loss, train_acc = self.train_epoch(train_batches, epoch)
            self._epoch_steps = self.global_step - first_step
            val_loss, val_acc = self.evaluate(val_batches) if val_batches is not None else (None, None)
            logs = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                    "val_loss": val_loss, "val_acc": val_acc, "lr": lr,
                    "epoch_seconds": time.perf_counter() - start, "steps": self._epoch_points}
            self._check_divergence(epoch, logs)
            self.history.append(logs)
            if self.scheduler is not None and self.scheduler.step_unit == "epoch":
                self.scheduler.step()
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, logs)
        for cb in self.callbacks:
            cb.on_train_end(self, logs)
        return self.history

    def _check_divergence(self, epoch: int, logs: dict) -> None:
        if not self.check_divergence or self.diverged:
            return
        bad = [k for k in ("train_loss", "val_loss") if logs[k] is not None and not math.isfinite(logs[k])]
        if bad:
            self.diverged = f"{bad[0]} is {logs[bad[0]]} after epoch {epoch + 1}"
        elif (self.stop_at_chance and self._first_judged_epoch(epoch) and logs["val_acc"] is not None
              and self.loss_kind != "mse"):
            # "At chance" = no better than always answering the most common validation class
            # (1/classes on balanced data), with a little slack for sampling noise.
            chance = max(self.majority_acc, 1.0 / self.num_classes)
            if logs["val_acc"] <= chance + 0.02:
                self.diverged = (f"validation accuracy {logs['val_acc']:.3f} is at chance level "
                                 f"({chance:.2f}) after {self.global_step} steps (epoch {epoch + 1})")

    def _first_judged_epoch(self, epoch: int) -> bool:
        """Is this the first epoch that ends with at least CHANCE_CHECK_STEPS steps done?"""
        steps_before = self.global_step - self._epoch_steps
        return self.global_step >= CHANCE_CHECK_STEPS and (epoch == 0 or steps_before < CHANCE_CHECK_STEPS)

    # --- state for resume --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Model, optimizer, rate, schedule and training progress: what a resume needs."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "history": list(self.history), "global_step": self.global_step,
                 "stop_training": self.stop_training, "diverged": self.diverged,
                 # Paddle's optimizer state leaves out a plain-float rate, which
                 # ReduceLROnPlateau may have lowered.
                 "lr": self.get_lr(), "loss_scale": self.precision.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def set_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``: the run continues exactly where it was saved."""
        self.model.set_state_dict(state["model"])
        self.optimizer.set_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.set_state_dict(state["scheduler"])
        elif self.scheduler is None and "lr" in state:
            self.set_lr(state["lr"])
        self.history = list(state["history"])
        self.global_step = int(state["global_step"])
        self.stop_training = bool(state["stop_training"])
        self.diverged = str(state["diverged"])
        self.precision.set_state_dict(state.get("loss_scale", {}))
