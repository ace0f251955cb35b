"""course.compat: the versions the course supports, and what it says where they are not met."""
import shutil
import subprocess
import sys
from pathlib import Path

import paddle
import pytest

from course import compat
from course.engine.errors import ConfigError
from course.engine.optimizers import available_optimizers, build_optimizer


@pytest.mark.parametrize("text, expected", [
    ("3.3.1", (3, 3, 1)), ("2.6.2", (2, 6, 2)), ("2.6.2.post120", (2, 6, 2)), ("3.0.0rc1", (3, 0, 0)),
    ("0.0.0", (99,)),   # a source build: newest
])
def test_version_strings_are_read_as_numbers(text, expected):
    assert compat.version_tuple(text) == expected


def test_a_supported_setup_gets_no_notice():
    assert compat.support_notice(python=(3, 11), paddle_text="2.6.2") == []
    assert compat.support_notice(python=(3, 9), paddle_text="3.3.1") == []


def test_an_old_paddle_or_python_gets_one_chinese_and_one_english_line_each():
    paddle_lines = compat.support_notice(python=(3, 11), paddle_text="2.5.2")
    assert len(paddle_lines) == 2 and "飞桨 2.5.2" in paddle_lines[0] and "Paddle 2.5.2" in paddle_lines[1]
    assert all("pip install -U paddlepaddle" in line for line in paddle_lines)
    both = compat.support_notice(python=(3, 8), paddle_text="2.4.0")
    assert len(both) == 4 and "Python 3.8" in both[2] and "Python 3.8" in both[3]


def test_the_registry_offers_exactly_the_optimizers_this_paddle_has(monkeypatch):
    for name in available_optimizers():
        assert build_optimizer(name, 0.01, paddle.nn.Linear(2, 2).parameters()) is not None
    monkeypatch.delattr(paddle.optimizer, "RAdam", raising=False)
    assert "radam" not in available_optimizers() and "adam" in available_optimizers()


def test_an_optimizer_this_paddle_lacks_is_one_line_naming_the_paddle_that_has_it(monkeypatch):
    monkeypatch.delattr(paddle.optimizer, "NAdam", raising=False)
    with pytest.raises(ConfigError, match=r"^nadam: paddle.optimizer.NAdam needs Paddle 3.0 or newer; "
                                          rf"this is Paddle {paddle.__version__}$"):
        build_optimizer("nadam", 0.01, paddle.nn.Linear(2, 2).parameters())


def test_the_code_needs_no_python_newer_than_the_course_supports():
    """vermin reads the source: nothing in it needs a Python newer than compat.MIN_PYTHON (3.9,
    the oldest AI Studio image's is newer), and 3.8 really is too old (so the check can fail)."""
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent))
    if vermin is None:
        pytest.skip("vermin is not installed (requirements.txt has it)")
    root = Path(__file__).resolve().parents[1]
    folders = [str(root / f) for f in ("course", "models", "data", "scripts", "bench")]

    def check(target):
        return subprocess.run([vermin, "--no-tips", "--violations",
                               f"-t={target}-", "--eval-annotations", *folders],
                              capture_output=True, text=True, timeout=300).stdout
    minimum = ".".join(map(str, compat.MIN_PYTHON))
    assert "Target versions not met" not in check(minimum)
    assert "Target versions not met" in check("3.8")


def test_every_supported_paddle_is_the_pinned_one_or_in_the_ci_matrix():
    """compat.SUPPORTED_PADDLE is what CI tests: requirements.txt's pin plus noxfile.py's matrix."""
    import re

    root = Path(__file__).resolve().parents[1]
    pinned = re.search(r"^paddlepaddle==(\S+)$", (root / "requirements.txt").read_text(), re.M).group(1)
    matrix = re.search(r"^PADDLES = \{(.*)\}$", (root / "noxfile.py").read_text(), re.M).group(1)
    tested = [pinned, *re.findall(r'"(\d+\.\d+\.\d+)":', matrix)]
    assert sorted(".".join(v.split(".")[:2]) for v in tested) == sorted(compat.SUPPORTED_PADDLE)
    assert compat.version_tuple(min(compat.SUPPORTED_PADDLE, key=compat.version_tuple)) == compat.MIN_PADDLE
