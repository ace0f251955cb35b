"""Does this machine's GPU train, and how fast? What a learner runs first on AI Studio.

It prints Paddle's build, the CUDA and cuDNN versions and the visible cards; then it trains the
course's LeNet (28 px digits) and VGG16 at 64 px for a few steps on the card, in float32 and
with mixed precision (``--amp``'s fp16, and bf16 where the card has it), through the same loop
and the same ``MixedPrecision`` the runs use. One step is compared with the CPU's float32 step
from the same weights on the same batch (the loss before and after the step, within
``TOLERANCE``), and each is timed in images per second. Last comes a one-line verdict. Without
a GPU it says so and exits 0; ``--device cpu`` rehearses the whole check on the CPU (what the
project's own tests run: there is no GPU here, so no GPU figure was ever measured by them).

The images are seeded random pixels, so nothing is downloaded: the speed of a step does not
depend on what the pixels show, and the comparison needs only the same numbers on both sides.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import paddle
import paddle.nn.functional as F

from course.engine.device import check_device_name, gpu_count, resolve_device
from course.engine.errors import ConfigError
from course.engine.precision import MixedPrecision
from course.engine.trainer import Trainer
from models import build_model

# (name as printed, model, input shape, batch): the course's smallest and largest networks.
MODELS = [("lenet", "lenet", (1, 28, 28), 64), ("vgg16@64px", "vgg16_keras", (3, 64, 64), 32)]
# Relative difference of a loss from the CPU's float32 loss that still counts as the same step.
# float32 on a GPU is not bit-equal to the CPU (other kernels; TF32 convolutions on Ampere
# cards round to 10-bit mantissas); float16 and bfloat16 keep 10 and 7 mantissa bits.
TOLERANCE = {"fp32": 5e-3, "fp16": 3e-2, "bf16": 6e-2}
NO_GPU = ("no GPU: {why}. Install paddlepaddle-gpu on a GPU machine (docs/gpu_and_aistudio.md), or "
          "train on the CPU with --device cpu")


@dataclass
class Measurement:
    """One model in one precision: its speed and its one step beside the CPU's."""
    model: str
    precision: str
    images_per_second: float
    losses: tuple        # (before, after) the compared step, on the device
    reference: tuple     # the same on the CPU in float32

    @property
    def difference(self) -> float:
        """The larger relative difference of the two losses from the CPU's."""
        return max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(self.losses, self.reference))

    @property
    def ok(self) -> bool:
        """Is the step the CPU's, within the precision's tolerance?"""
        return bool(np.isfinite(self.losses).all()) and self.difference <= TOLERANCE[self.precision]

    def line(self) -> str:
        """'lenet       fp32     12,345.6 img/s   loss 2.3026 -> 2.2810, CPU 2.3026 -> 2.2810  ok'."""
        before, after = self.losses
        ref_before, ref_after = self.reference
        verdict = "ok" if self.ok else f"DIFFERS ({self.difference:.1e} > {TOLERANCE[self.precision]:g})"
        return (f"{self.model:<11} {self.precision:<5} {self.images_per_second:>11,.1f} img/s   "
                f"loss {before:.4f} -> {after:.4f}, CPU {ref_before:.4f} -> {ref_after:.4f}  {verdict}")


def describe_build() -> list[str]:
    """Paddle's version and build, CUDA, cuDNN and every visible card, one line each."""
    cuda = paddle.device.is_compiled_with_cuda()
    lines = [f"paddle:  {paddle.__version__} (commit {paddle.version.commit[:10]}), "
             f"{'CUDA build' if cuda else 'CPU-only build'}",
             f"CUDA:    {paddle.version.cuda() if cuda else '-'}",
             f"cuDNN:   {paddle.version.cudnn() if cuda else '-'}"]
    cards = [_card_line(i) for i in range(gpu_count())]
    lines.append("cards:   " + ("; ".join(cards) if cards else "none visible"))
    return lines


def _card_line(index: int) -> str:
    props = paddle.device.cuda.get_device_properties(index)
    return (f"gpu:{index} {props.name} ({props.total_memory / 2 ** 30:.1f} GB, compute capability "
            f"{props.major}.{props.minor})")


def precisions(device: str) -> list[str]:
    """float32 and the mixed precisions ``device`` computes in (bf16 only on a CPU: its rehearsal)."""
    if device == "cpu":
        return ["fp32", "bf16"]
    return ["fp32"] + [amp for amp, supported in (("fp16", paddle.amp.is_float16_supported),
                                                  ("bf16", paddle.amp.is_bfloat16_supported))
                       if supported(device)]


def batch_of(shape, batch: int, seed: int = 0):
    """Seeded random pixels in [0, 1) and labels, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    return rng.random((batch, *shape), dtype="float32"), rng.integers(0, 10, batch).astype("int64")


def initial_weights(model_name: str, shape) -> dict:
    """The model's seeded initial weights, built on the CPU, as NumPy arrays."""
    paddle.set_device("cpu")
    paddle.seed(0)
    return {k: v.numpy() for k, v in _build(model_name, shape).state_dict().items()}


def _build(model_name: str, shape):
    options = {"image_size": shape[-1]} if shape[0] == 3 else {}
    return build_model(model_name, num_classes=10, **options)


def one_step(model_name, shape, weights, images, labels, device: str, amp: str) -> tuple[float, float]:
    """The loss before and after one SGD step from ``weights`` on one batch, on ``device``.

    In eval mode, so that no dropout mask (drawn by each device's own generator) tells the two
    sides apart; the step itself is the trainer's (``MixedPrecision``'s backward and step).
    """
    paddle.set_device(device)
    model = _build(model_name, shape)
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    model.eval()
    optimizer = paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters())
    precision = MixedPrecision("off" if amp == "fp32" else amp)
    x, y = paddle.to_tensor(images), paddle.to_tensor(labels).reshape([-1, 1])
    losses = []
    for _ in range(2):
        with precision.autocast():
            loss = F.cross_entropy(model(x), y)
        losses.append(float(loss))
        if len(losses) == 1:
            precision.backward(loss)
            precision.step(optimizer)
            optimizer.clear_grad()
    return losses[0], losses[1]


def images_per_second(model_name, shape, weights, images, labels, device: str, amp: str,
                      steps: int, warmup: int) -> float:
    """Training speed through the runs' own loop (``Trainer.train_epoch``) on a batch already on
    the device: the arithmetic of a step, without the data loading a real run adds."""
    paddle.set_device(device)
    model = _build(model_name, shape)
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    optimizer = paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters())
    trainer = Trainer(model, optimizer, progress=False, check_divergence=False,
                      precision=MixedPrecision("off" if amp == "fp32" else amp))
    batch = (paddle.to_tensor(images), paddle.to_tensor(labels))
    trainer.train_epoch([batch] * warmup)     # memory allocation, cuDNN's algorithm search
    _wait(device)
    start = time.perf_counter()
    trainer.train_epoch([batch] * steps)      # each step reads its loss back: it waits for the card
    _wait(device)
    return steps * len(labels) / (time.perf_counter() - start)


def _wait(device: str) -> None:
    # A GPU runs ahead of Python; a CPU computes as it is called (and Paddle's synchronize
    # refuses a CPU).
    if device != "cpu":
        paddle.device.synchronize()


def run_check(device: str = "auto", steps: int = 20, warmup: int = 3, small: bool = False,
              out=print) -> int:
    """Print the build, the cards, a line per model and precision, and the verdict; return the
    exit code: 0 (all well, or no GPU to check), 1 (a step differs from the CPU's).

    ``small`` (a dry run) trains batches of 2 and VGG16 at 32 px: the same code in seconds.
    """
    if steps < 1 or warmup < 0:
        raise ConfigError(f"--steps must be >= 1 and --warmup >= 0, got {steps} and {warmup}")
    device = check_device_name(device)   # 'CPU' is 'cpu'
    for line in describe_build():
        out(line)
    if device != "cpu" and gpu_count() == 0:
        why = ("this Paddle is the CPU-only build" if not paddle.device.is_compiled_with_cuda()
               else "Paddle sees no card (driver, or CUDA_VISIBLE_DEVICES)")
        out("verdict: " + NO_GPU.format(why=why))
        return 0
    device = resolve_device(device)
    amps = precisions(device)
    out(f"check on {device}: {steps} timed steps after {warmup} warm-up, precisions {', '.join(amps)}"
        + (" (a rehearsal: bf16 computes in float32 on a CPU)" if device == "cpu" else ""))
    results = []
    for label, model_name, shape, batch in MODELS:
        if small:   # batches of 2, and VGG16 at 32 px (its smallest size)
            batch, label = 2, label.replace("64px", "32px")
            shape = (3, 32, 32) if shape[0] == 3 else shape
        weights = initial_weights(model_name, shape)
        images, labels = batch_of(shape, batch)
        reference = one_step(model_name, shape, weights, images, labels, "cpu", "fp32")
        for amp in amps:
            losses = one_step(model_name, shape, weights, images, labels, device, amp)
            speed = images_per_second(model_name, shape, weights, images, labels, device, amp,
                                      steps, warmup)
            results.append(Measurement(label, amp, speed, losses, reference))
            out(results[-1].line())
    out("verdict: " + verdict(results, device))
    return 0 if all(r.ok for r in results) else 1


def verdict(results: list[Measurement], device: str) -> str:
    """One line: what is wrong, or that all is well and what mixed precision gains on VGG16."""
    wrong = [f"{r.model} {r.precision}" for r in results if not r.ok]
    if wrong:
        return (f"PROBLEM on {device}: {', '.join(wrong)} differ from the CPU's step beyond the "
                "tolerance; check the driver and the paddlepaddle-gpu build, or train with --amp off")
    vgg = {r.precision: r.images_per_second for r in results if r.model.startswith("vgg16")}
    gains = [f"{amp} {speed / vgg['fp32']:.2f}x fp32" for amp, speed in vgg.items() if amp != "fp32"]
    where = "the CPU (a rehearsal, no GPU checked)" if device == "cpu" else device
    return (f"OK: {where} trains LeNet and VGG16 in {', '.join(dict.fromkeys(r.precision for r in results))} "
            f"as the CPU does; on VGG16 {', '.join(gains) or 'no mixed precision'}")
