"""What the first cell of every chapter notebook runs: the project found, the packages there, a device.

A notebook in ``course/notebooks/`` is opened wherever a learner happens to have the project: on
AI Studio (Paddle preinstalled, maybe a GPU, the project cloned or uploaded under ``~/work/...``,
the notebook's working directory anywhere) or on a laptop (the repository's checkout). Its first
cell finds the project root, puts it on ``sys.path`` and calls ``setup()``, which does the rest:

- installs the project's other requirements (``requirements.txt``) with pip, and only those whose
  import fails; Paddle itself is never installed or upgraded here (AI Studio's build matches its
  CUDA, and a CPU wheel over it would lose the GPU);
- makes the project root the working directory, so the course's relative paths (``runs/``,
  ``demo_images/digits``) and the printed commands mean what they mean in a terminal there;
- picks the device (a GPU when Paddle has one) and says what it found, with the Python and
  Paddle versions, and what to do where either is older than the course supports.

Example (the first cell of every notebook):
    >>> from course.chapters.notebook import setup
    >>> DEVICE = setup()        # 'gpu:0' on an AI Studio GPU, else 'cpu'
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Never installed from a notebook: Paddle (see above), and the tools of the tests, not of the course.
NOT_FOR_NOTEBOOKS = {"paddlepaddle", "paddlepaddle-gpu", "pytest", "jupytext", "nbclient",
                     "ipykernel", "nbformat"}
IMPORT_NAMES = {"pillow": "PIL", "scikit-learn": "sklearn"}   # where the module is not the package


def requirements(path=ROOT / "requirements.txt") -> list[str]:
    """The pinned requirements a notebook may need ('visualdl==2.5.3', ...), Paddle left out."""
    specs = [line.split("#")[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [s for s in specs if s and package_name(s) not in NOT_FOR_NOTEBOOKS]


def package_name(spec: str) -> str:
    """'visualdl==2.5.3' -> 'visualdl' (lower case, as pip compares names)."""
    for sep in ("==", ">=", "<=", "~=", ">", "<", "[", ";"):
        spec = spec.split(sep)[0]
    return spec.strip().lower()


def missing(specs) -> list[str]:
    """The specs among ``specs`` whose module cannot be imported here."""
    # find_spec looks the module up without importing it: scikit-learn and VisualDL take seconds.
    return [spec for spec in specs if importlib.util.find_spec(
        IMPORT_NAMES.get(package_name(spec), package_name(spec).replace("-", "_"))) is None]


def install(specs) -> None:
    """pip-install ``specs`` into this Python; a pin that has no wheel here (an older Python on AI
    Studio, say) is retried as the bare package name."""
    for spec in specs:
        pip = [sys.executable, "-m", "pip", "install", "--quiet"]
        print(f"installing {spec} ...", flush=True)
        if subprocess.run(pip + [spec]).returncode != 0 and package_name(spec) != spec:
            subprocess.run(pip + [package_name(spec)], check=True)
    importlib.invalidate_caches()


def setup(device: str = "auto", install_missing: bool = True) -> str:
    """Make the notebook run here: packages, working directory, device. Returns the device.

    Args:
        device: 'auto' (a GPU if Paddle has CUDA and one is present), 'cpu', 'gpu' or 'gpu:N'.
        install_missing: pip-install the requirements that fail to import (False: only list them).
    """
    gone = missing(requirements())
    if gone and install_missing:
        install(gone)
    elif gone:
        print(f"missing packages: {' '.join(gone)} (pip install them, or call setup() without "
              "install_missing=False)")
    os.chdir(ROOT)
    import course  # noqa: F401  (one line per warning, none of Paddle's noise)
    import paddle

    from course.compat import support_notice
    from course.engine.device import use_device

    chosen = use_device(device)
    print(f"project {ROOT} · Python {sys.version.split()[0]} · Paddle {paddle.__version__} · "
          f"device {chosen}")
    for line in support_notice():   # below what the course supports: what to do, in both languages
        print(line)
    return chosen


def show(*paths) -> list[Path]:
    """Display the figures at ``paths`` in the notebook (written first to the run folder)."""
    from IPython.display import Image, display

    for path in paths:
        display(Image(filename=str(path)))
    return [Path(p) for p in paths]


def mnist_path(dataset: str) -> str | None:
    """The file of a dataset spec: 'mnist:work/mnist.json.gz' -> 'work/mnist.json.gz'; 'mnist' ->
    None (real MNIST, fetched once and cached). What ``data.mnist.load_mnist(path=...)`` takes."""
    return dataset.partition(":")[2] or None


def mnist_splits(dataset: str, subset: int = 0, val_subset: int = 0):
    """MNIST for a chapter's hand-written loop: the data set ``dataset`` names ('mnist' or
    'mnist:PATH'), cut to its first ``subset`` training and ``val_subset`` validation images
    (0 = all), as the engine's --subset and --val-subset cut it. Feed it to ``load_data(splits=)``."""
    from data.mnist import Split, load_mnist

    def first(split, n):
        return Split(split.images[:n], split.labels[:n]) if n else split

    splits = load_mnist(path=mnist_path(dataset))
    return splits._replace(train=first(splits.train, subset), val=first(splits.val, val_subset))


def demo_digits(folder, per_class: int | None = None) -> str:
    """``folder`` (class-per-folder images), exporting scikit-learn's 8x8 digits there first when
    it is missing, at most ``per_class`` a class: the articles' data when a learner has no photos."""
    from data.folders import samples

    folder = Path(folder)
    if not folder.is_dir():
        samples.export_source("digits", folder, per_class=per_class, progress=False)
    return str(folder)
