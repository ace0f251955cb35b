"""Leslie Smith's learning-rate range test, run the way fastai's ``Learner.lr_find`` runs it.

Train for a few dozen batches while the rate grows exponentially from tiny to huge, record the
(smoothed) loss at each rate, and read a good starting rate off the curve: where the loss falls
fastest, before it blows up (L. Smith, "Cyclical Learning Rates for Training Neural Networks",
2017; fastai ``callback/schedule.py``). The test is a probe, not training: the model, optimizer,
learning rate, the training data's shuffling state and Paddle's RNG are put back exactly as they
were (a never-stepped optimizer is not stepped at all: the test steps a copy), so a run that
follows behaves bit for bit as if the test had never happened.

What is implemented (and where it differs from fastai v2):
- rate ``lr_i = start * (end/start) ** (i / (num_steps - 1))``, i = 0..num_steps-1, so the last
  step uses ``end_lr`` exactly (fastai's ``SchedExp`` uses ``i / num_it`` and stops short of it);
- smoothed loss = fastai's ``AvgSmoothLoss``: ``avg = beta*avg + (1-beta)*loss``, reported as
  ``avg / (1 - beta**(i+1))`` (bias correction, so the first points are not pulled toward 0);
- stop after the step whose smoothed loss exceeds ``diverge_factor`` x the best smoothed loss so
  far, or is NaN/Inf (that step is still recorded, as fastai's recorder does);
- suggestions are computed on the curve trimmed as fastai trims it: drop the first
  ``num_steps // 10`` and the last 5 points, and everything from the first non-finite loss on;
- ``valley``: fastai v2's algorithm, line for line: the longest strictly *decreasing subsequence*
  of the losses (O(n^2) dynamic programming; points need not be adjacent), spanning indices
  ``start = end - length`` .. ``end``; the suggestion is index ``start + int(L/3) + int(L/6)``
  with ``L = end - start``, i.e. about *half* way down the valley (fastai's docs say "2/3", the
  code it ships lands near 1/2; we follow the code). One guard added: the index is clamped to the
  curve (fastai's ``start`` can be -1 when the whole curve decreases);
- ``steep``: the rate at the most negative ``np.gradient(losses, log10(lrs))`` (central
  differences, as fastai v1's ``plot(suggestion=True)``; fastai v2 uses forward differences and
  takes the left point of the steepest segment -- the two differ by at most one grid point),
  searched only up to the curve's minimum: fastai searches the whole trimmed curve, and then
  picks the decay after a spike that did not trigger the stop (see ``steep``).
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import paddle

from course.engine.errors import ConfigError
from course.engine.names import new_names
from course.engine.schedules import schedule_drives
from course.engine.trainer import Trainer

SKIP_END = 5                 # fastai: the last 5 points are left out of the suggestions and the plot
CSV_COLUMNS = ["step", "lr", "loss", "raw_loss"]


@dataclass
class LRFindResult:
    lrs: list                 # the rate used at each step taken
    losses: list              # bias-corrected exponential moving average of the batch loss
    raw_losses: list          # the batch loss itself
    suggestion_valley: float | None   # fastai's default suggestion (None: too few points)
    suggestion_steep: float | None    # rate of the steepest descent of the smoothed loss
    stopped_early: bool       # stopped before num_steps because the loss diverged
    stop_reason: str = ""     # why it stopped early ('' = it ran all steps)
    settings: dict = field(default_factory=dict)   # start_lr, end_lr, num_steps, smooth, diverge_factor

    def to_dict(self) -> dict:
        """The result as plain JSON-able data."""
        return asdict(self)


def lr_schedule(start_lr: float, end_lr: float, num_steps: int) -> np.ndarray:
    """The exponential sweep: ``start * (end/start) ** (i / (num_steps-1))`` for i in 0..num_steps-1."""
    i = np.arange(num_steps, dtype="float64")
    return start_lr * (end_lr / start_lr) ** (i / max(num_steps - 1, 1))


def find_lr(trainer, train_batches, start_lr=1e-7, end_lr=10.0, num_steps=100, smooth=0.98,
            diverge_factor=4.0) -> LRFindResult:
    """Run the learning-rate range test on ``trainer`` and restore everything afterwards.

    Example:
        trainer = build_training(config, data.num_classes, data.input_shape, len(data.train))
        result = find_lr(trainer, data.train)
        print(result.suggestion_valley, result.suggestion_steep)

    Args:
        trainer: a ``course.engine.trainer.Trainer`` (constant learning rate: no schedule), or a tuple
            ``(model, optimizer, loss_kind)`` that is wrapped in one ('ce' or 'mse').
        train_batches: re-iterable (images, labels) batches; cycled when ``num_steps`` is more than
            one pass. If it has ``state_dict``/``set_state_dict`` (``ArrayLoader``), its shuffling
            state is restored too.
        start_lr, end_lr: the rates of the first and last step, 0 < start_lr < end_lr.
        num_steps: optimizer steps at most (>= 2).
        smooth: the moving average's beta, in [0, 1); fastai's 0.98.
        diverge_factor: stop once the smoothed loss exceeds this times its best (> 1); fastai's 4.
    """
    trainer = _as_trainer(trainer)
    check_args(start_lr, end_lr, num_steps, smooth, diverge_factor)
    if trainer.scheduler is not None or schedule_drives(trainer.optimizer):
        driver = type(trainer.scheduler).__name__ if trainer.scheduler else "an LRScheduler"
        raise ConfigError("lr_find sets the learning rate itself: use schedule 'constant' "
                          f"(this trainer's rate is driven by {driver})")
    saved = _snapshot(trainer, train_batches)
    try:
        return _sweep(trainer, train_batches, lr_schedule(start_lr, end_lr, num_steps), smooth,
                      diverge_factor, {"start_lr": start_lr, "end_lr": end_lr, "num_steps": num_steps,
                                       "smooth": smooth, "diverge_factor": diverge_factor})
    finally:
        _restore(trainer, train_batches, saved)


def _as_trainer(obj) -> Trainer:
    if isinstance(obj, Trainer):
        return obj
    if isinstance(obj, (tuple, list)) and len(obj) == 3:
        model, optimizer, loss_kind = obj
        return Trainer(model, optimizer, loss_kind=loss_kind, progress=False, check_divergence=False)
    raise ConfigError(f"find_lr needs a Trainer or (model, optimizer, loss_kind), got {type(obj).__name__}")


def check_args(start_lr, end_lr, num_steps, smooth=0.98, diverge_factor=4.0) -> None:
    """Raise ConfigError naming the first bad range-test setting."""
    if not (math.isfinite(start_lr) and start_lr > 0):
        raise ConfigError(f"start_lr must be a number > 0, got {start_lr!r}")
    if not math.isfinite(end_lr):
        raise ConfigError(f"end_lr must be a finite number, got {end_lr!r}")
    if not end_lr > start_lr:
        raise ConfigError(f"end_lr must be greater than start_lr ({start_lr:g}), got {end_lr!r}")
    if int(num_steps) != num_steps or num_steps < 2:
        raise ConfigError(f"num_steps must be an integer >= 2, got {num_steps!r}")
    if not 0 <= smooth < 1:
        raise ConfigError(f"smooth must be in [0, 1), got {smooth!r}")
    if not diverge_factor > 1:
        raise ConfigError(f"diverge_factor must be > 1, got {diverge_factor!r}")


def _sweep(trainer, train_batches, rates, beta, diverge_factor, settings) -> LRFindResult:
    lrs, losses, raw = [], [], []
    avg, best, reason = 0.0, math.inf, ""
    for i, (lr, batch) in enumerate(zip(rates, _cycle(train_batches))):
        trainer.set_lr(float(lr))
        # The trainer's own step (same forward, loss, backward, optimizer naming) on one batch.
        loss, _ = trainer.train_epoch([batch], epoch=0)
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (i + 1))
        lrs.append(float(lr))
        raw.append(float(loss))
        losses.append(float(smoothed))
        if not math.isfinite(smoothed):
            reason = f"the loss became {smoothed} at lr {lr:.3g}"
            break
        best = min(best, smoothed)
        if smoothed > diverge_factor * best:
            reason = (f"the smoothed loss {smoothed:.4g} passed {diverge_factor:g} x its best "
                      f"({best:.4g}) at lr {lr:.3g}")
            break
    valley, steep = suggest(lrs, losses, len(rates))
    return LRFindResult(lrs, losses, raw, valley, steep, stopped_early=bool(reason),
                        stop_reason=reason, settings=settings)


def _cycle(batches):
    """Batches for as many passes as needed (each pass reshuffles, as a new epoch would)."""
    for epoch in itertools.count():
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            if epoch == 0:
                raise ConfigError("lr_find got no training batches (is the training set empty?)")
            return   # a one-shot iterator: no second pass


# --- suggestions ------------------------------------------------------------------------------------
def suggest(lrs, losses, num_steps: int) -> tuple[float | None, float | None]:
    """(valley, steep) suggestions from a recorded curve, trimmed as fastai trims it."""
    lrs, losses = np.asarray(lrs, dtype="float64"), np.asarray(losses, dtype="float64")
    lo, hi = num_steps // 10, len(losses) - SKIP_END
    if hi - lo < 3:            # a test stopped very early: use what there is rather than nothing
        lo, hi = 0, len(losses)
    lrs, losses = lrs[lo:hi], losses[lo:hi]
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        lrs, losses = lrs[:bad[0]], losses[:bad[0]]
    if len(losses) < 2:
        return None, None
    return valley(lrs, losses), steep(lrs, losses)


def valley(lrs, losses) -> float:
    """fastai v2's ``valley``: about half way down the longest decreasing run of the loss.

    ``lds[i]`` is the length of the longest strictly decreasing subsequence ending at point i; the
    valley ends at the first point with the largest ``lds`` and starts ``lds`` points before it.
    """
    n = len(losses)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end, max_start = i, i - lds[i]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[min(max(idx, 0), n - 1)])


def steep(lrs, losses) -> float:
    """The rate where the loss falls fastest per decade of learning rate, on the way down.

    Only points up to the lowest loss are candidates: after a spike that did not reach the stop
    threshold, the smoothed loss decays back down at rates that are far too large (LeNet + SGD on
    MNIST: a spike at lr 2.3, then 'steepest' at lr 3.3 without this rule).
    """
    losses = np.asarray(losses, dtype="float64")
    slope = np.gradient(losses, np.log10(np.asarray(lrs, dtype="float64")))
    downhill = slope[:int(np.argmin(losses)) + 1]
    return float(lrs[int(np.argmin(downhill))])


# --- leaving no trace -------------------------------------------------------------------------------
def _numpy(value):
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    return np.array(value.numpy(), copy=True) if isinstance(value, paddle.Tensor) else value


def _load_into(live: dict, saved: dict) -> None:
    """Write the saved arrays into the live tensors in place (the optimizer keeps its references)."""
    for name, tensor in live.items():
        if isinstance(tensor, dict):
            _load_into(tensor, saved[name])
        elif isinstance(tensor, paddle.Tensor):
            tensor.set_value(saved[name])


def _probe_optimizer(optimizer, model):
    """The optimizer the test steps: a copy of a fresh ``optimizer``, or ``optimizer`` itself.

    Paddle creates an optimizer's state (Adam's moments and beta powers, Momentum's velocity) at
    its first step, and it cannot be deleted again. So a never-stepped optimizer is left alone:
    the test steps a deep copy that shares the model's parameters and nothing else. Once stepped,
    the state exists and only its values change, which ``_restore`` writes back (nor can a stepped
    optimizer be copied: Paddle keys its rate by a Program, which refuses). SGD has no state,
    stepped or not, so SGD is always stepped itself.
    """
    if optimizer.state_dict() or isinstance(optimizer, paddle.optimizer.SGD):
        return optimizer
    return copy.deepcopy(optimizer, memo={id(p): p for p in model.parameters()})


def _snapshot(trainer, train_batches) -> dict:
    own = trainer.optimizer
    probe = _probe_optimizer(own, trainer.model)
    state = {"model": _numpy(trainer.model.state_dict()),
             "optimizer": (own, trainer.names, _numpy(own.state_dict()) if probe is own else None),
             "lr": trainer.get_lr(), "training": trainer.model.training,
             "rng": paddle.get_rng_state(),
             "trainer": (trainer.global_step, trainer.diverged, trainer.stop_training,
                         trainer.callbacks, trainer.progress)}
    if hasattr(train_batches, "state_dict"):
        state["data"] = _numpy(train_batches.state_dict())
    # Callbacks (early stopping, checkpoints) must not see the probe's steps; nor a progress bar.
    trainer.callbacks, trainer.progress = [], False
    if probe is not own:
        # The copy names the state it creates from a generator of its own: the names the
        # trainer's optimizer gives its state at its first step (a checkpoint's keys) stay free.
        trainer.optimizer, trainer.names = probe, new_names()
    return state


def _restore(trainer, train_batches, state) -> None:
    trainer.optimizer, trainer.names, optimizer_state = state["optimizer"]
    _load_into(trainer.model.state_dict(), state["model"])
    if optimizer_state is not None:
        _load_into(trainer.optimizer.state_dict(), optimizer_state)
    trainer.optimizer.clear_grad()
    trainer.set_lr(state["lr"])
    if state["training"]:
        trainer.model.train()
    else:
        trainer.model.eval()
    paddle.set_rng_state(state["rng"])
    (trainer.global_step, trainer.diverged, trainer.stop_training, trainer.callbacks,
     trainer.progress) = state["trainer"]
    if "data" in state:
        train_batches.set_state_dict(state["data"])
