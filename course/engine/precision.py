"""Mixed precision (``--amp``): Paddle's ``auto_cast`` and ``GradScaler`` around every step.

With ``--amp fp16`` the white-listed ops (convolutions, matrix products) compute in float16 while
the weights, the optimizer's state and the loss stay float32 (Paddle's level O1), and the loss is
scaled before ``backward`` so small float16 gradients do not round to zero. The scale is dynamic
(``GradScaler``: halved on an inf/NaN gradient, whose step is skipped; doubled after 1,000 good
steps), so it is part of a run's state: it goes into the resume checkpoint with the rest. This
is what a GPU user expects for VGG16 and DenseNet121 (about twice the speed on V100/A100-class
cards, by NVIDIA's and Paddle's figures; not measured here, there is no GPU).
``--amp bf16`` keeps float32's range, so it needs no loss scale (Paddle turns its scaler off for
bfloat16 itself); it needs an Ampere-class card (compute capability 8.0) or newer.

On a CPU, Paddle 3.3.1's ``auto_cast`` does nothing at all (``amp_guard can only be enabled on
CUDAPlace``: the ops stay float32) and ``is_bfloat16_supported('cpu')`` is False. A run with
``--amp bf16`` on a CPU therefore trains exactly as ``--amp off`` does, through the same code path
a GPU takes (which is what the tests exercise); it says so once. ``--amp fp16`` on a CPU is an
error. The same calls run whatever the setting (a disabled scaler passes ``backward`` and
``step`` straight through), so the loop has one path on every device.
"""
from __future__ import annotations

import contextlib
import warnings

import paddle

from course.engine.errors import ConfigError

AMP_CHOICES = ("auto", "off", "fp16", "bf16")
DTYPES = {"fp16": "float16", "bf16": "bfloat16"}


def resolve_amp(amp: str, device: str, model: str) -> str:
    """The precision 'auto' stands for: fp16 for an image model on a GPU, off otherwise.

    ``device`` is the setting ('auto' asks whether this machine has a GPU); any other ``amp`` is
    returned as it is. The MNIST nets are too small for float16 to pay (their time goes to the
    loop, not to arithmetic).
    """
    if amp != "auto":
        return amp
    from course.engine.device import gpu_count
    from models import model_kind

    on_gpu = device.startswith("gpu") or (device == "auto" and gpu_count() > 0)
    return "fp16" if on_gpu and model_kind(model) == "image" else "off"


def check_amp(amp: str, device: str) -> None:
    """Refuse a precision the resolved ``device`` ('cpu', 'gpu:N') cannot compute in.

    fp16 needs a GPU (compute capability 7.0 or more), bf16 on a GPU capability 8.0; bf16 on a CPU
    is allowed but computes in float32 in Paddle 3.3.1 (a warning says so once per process).
    """
    if amp == "off":
        return
    if device == "cpu":
        if amp == "fp16":
            raise ConfigError("--amp fp16: float16 needs a GPU; on a CPU use --amp off (or bf16, "
                              "which Paddle 3.3.1 computes in float32 there)")
        warnings.warn("--amp bf16 on a CPU: Paddle 3.3.1 has no mixed precision on a CPU, so this "
                      "run computes in float32, as with --amp off")
        return
    supported = paddle.amp.is_float16_supported if amp == "fp16" else paddle.amp.is_bfloat16_supported
    if not supported(device):
        name = paddle.device.cuda.get_device_name(int(device.partition(":")[2] or 0))
        need = "7.0 (V100, T4 or newer)" if amp == "fp16" else "8.0 (A100, RTX 30xx or newer)"
        raise ConfigError(f"--amp {amp}: {name} cannot compute in {DTYPES[amp]} (needs compute "
                          f"capability {need}); use --amp off" + (" or fp16" if amp == "bf16" else ""))


class MixedPrecision:
    """One run's precision: the ``auto_cast`` context of its forward passes and the loss scaler of
    its backward passes and steps.

    Example:
        >>> precision = MixedPrecision("fp16")
        >>> with precision.autocast():
        ...     loss = loss_fn(model(images), labels)
        >>> precision.backward(loss)
        >>> precision.step(optimizer)          # unscale, skip on inf/NaN, step, move the scale

    Args:
        amp: 'off', 'fp16' or 'bf16' (resolved: not 'auto').
    """

    def __init__(self, amp: str = "off"):
        if amp not in DTYPES and amp != "off":
            raise ConfigError(f"--amp: expected one of off, fp16, bf16 here, got {amp!r}")
        self.amp = amp
        # Dynamic loss scaling only for float16: bfloat16 has float32's exponent range.
        self.scaler = paddle.amp.GradScaler(enable=amp == "fp16")

    def autocast(self):
        """The context a forward pass (and its loss) runs in."""
        if self.amp == "off":
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, dtype=DTYPES[self.amp], level="O1")

    def backward(self, loss) -> None:
        """Back-propagate ``loss``, scaled when a loss scale is in use."""
        self.scaler.scale(loss).backward()

    def step(self, optimizer) -> None:
        """Unscale the gradients, step unless one is inf/NaN, and update the loss scale."""
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict:
        """The loss scaler's state (scale, good/bad step counts); {} when there is no scaler."""
        return self.scaler.state_dict()

    def set_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()`` ({} leaves a fresh scaler as it is)."""
        if state:
            self.scaler.load_state_dict(state)

