"""The Paddle version matrix: the course on every Paddle it supports (course/compat.py).

Each session makes a virtualenv with one Paddle CPU wheel and the rest of requirements.txt, then
runs the fast test tier (every entry point's dry run is in it: tests/test_entry_points.py) and
every chapter notebook at its quick size. The main suite (.ci/run) runs on the pinned Paddle;
this adds the others.

    nox -s matrix                      # every version, one after the other
    nox -s "matrix(paddle='3.0.0')"    # one version
    nox -l                             # the sessions
"""
from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# Paddle -> the NumPy it is tested with: 2.6 with NumPy 1.26 (what AI Studio's Paddle 2.6 images
# carry), the 3.x wheels with the NumPy requirements.txt pins.
PADDLES = {"2.6.2": "numpy==1.26.4", "3.0.0": None, "3.1.1": None, "3.2.2": None}

nox.options.sessions = ["matrix"]
nox.options.default_venv_backend = "venv"


def requirements_without_paddle(session, numpy: str | None) -> str:
    """requirements.txt without its Paddle pin (and with ``numpy`` for NumPy's), in the session's tmp."""
    lines = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip().lower()
        if name == "paddlepaddle":
            continue
        lines.append(numpy if name == "numpy" and numpy else line)
    path = Path(session.create_tmp()) / "requirements.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@nox.session
@nox.parametrize("paddle", list(PADDLES))
def matrix(session, paddle):
    """One Paddle: install it, then the fast tier and the notebooks."""
    session.install(f"paddlepaddle=={paddle}", "-r",
                    requirements_without_paddle(session, PADDLES[paddle]))
    session.install("--no-deps", "-e", str(ROOT))
    session.run("python", "-c", "import paddle, numpy, sys; print('Paddle', paddle.__version__, "
                "'NumPy', numpy.__version__, 'Python', sys.version.split()[0])")
    pytest = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    no_ray = {"PADDLE_OPT_LAB_NEED_RAY": ""}   # the matrix installs no Ray: its tests skip here
    session.run(*pytest, env=no_ray)
    session.run(*pytest, "-m", "slow", "tests/test_notebooks.py", env=no_ray)
