"""What differs between the Paddle versions the course runs on, in one place.

Supported: Paddle 2.6.2, 3.0, 3.1, 3.2 and 3.3 (every one tested in CI: ``noxfile.py``), on
Python 3.9 or newer (AI Studio's images carry Paddle 2.6 and 3.x; PyPI's only GPU build is
2.6.2). No other file compares version strings: the rest of the code asks here what this Paddle
has, and where a feature is missing it is left out with one line that names the Paddle that has
it. The speed paths check what they rely on themselves (``course.speed``) and step aside.
"""
from __future__ import annotations

import sys

import paddle

# What CI tests: requirements.txt pins the newest, noxfile.py runs the rest (tests/test_compat.py).
SUPPORTED_PADDLE = ("2.6", "3.0", "3.1", "3.2", "3.3")
MIN_PADDLE = (2, 6)
MIN_PYTHON = (3, 9)

# Optimizers the course's registry offers that came with a later Paddle: class -> first version.
OPTIMIZERS_ADDED = {"NAdam": "3.0", "RAdam": "3.0"}


def version_tuple(text: str) -> tuple:
    """'3.3.1' -> (3, 3, 1); '2.6.2.post120' -> (2, 6, 2). A source build ('0.0.0') counts as newest."""
    numbers = []
    for part in str(text).split(".")[:3]:
        digits = part[:len(part) - len(part.lstrip("0123456789"))]   # '0rc1' -> '0'
        if not digits:
            break
        numbers.append(int(digits))
    version = tuple(numbers) or (0,)
    return (99,) if all(n == 0 for n in version) else version


def paddle_version() -> tuple:
    """This Paddle's version as a tuple, e.g. (3, 3, 1)."""
    return version_tuple(paddle.__version__)


def spawns_in_this_process() -> bool:
    """Whether ``paddle.distributed.spawn`` works from a process that has run Paddle already (a
    notebook kernel, pytest). Paddle 2.6's spawned processes crash there (SIGSEGV); started as a
    script, or with ``paddle.distributed.launch``, they work on every supported version."""
    return paddle_version() >= (3,)


def optimizer_class(name: str):
    """``paddle.optimizer.<name>``, or None where this Paddle does not have it."""
    return getattr(paddle.optimizer, name, None)


def missing_optimizer(name: str) -> str:
    """Why ``paddle.optimizer.<name>`` is not here, naming the Paddle that has it (one line)."""
    since = OPTIMIZERS_ADDED.get(name, "a newer version")
    return (f"paddle.optimizer.{name} needs Paddle {since} or newer; this is Paddle "
            f"{paddle.__version__}")


def support_notice(python=None, paddle_text=None) -> list:
    """Lines to show a learner whose Python or Paddle is older than the course supports (one in
    Chinese, one in English); an empty list where both are supported."""
    python = tuple(python or sys.version_info[:2])
    paddle_text = paddle_text or paddle.__version__
    lines = []
    if version_tuple(paddle_text)[:2] < MIN_PADDLE:
        lines += [f"飞桨 {paddle_text} 太旧:本课程需要飞桨 2.6 或更新的版本,请 "
                  "`pip install -U paddlepaddle`(GPU 版为 paddlepaddle-gpu),或在 AI Studio 选择较新的镜像。",
                  f"Paddle {paddle_text} is older than this course supports (2.6 or newer): "
                  "`pip install -U paddlepaddle` (paddlepaddle-gpu for a GPU), or pick a newer "
                  "AI Studio image."]
    if python < MIN_PYTHON:
        shown = ".".join(map(str, python))
        lines += [f"Python {shown} 太旧:本课程需要 Python 3.9 或更新的版本。",
                  f"Python {shown} is older than this course supports (3.9 or newer)."]
    return lines
