"""Shared pytest fixtures (real MNIST digits and real 8x8 digit folders, no network).

``mnist_small``: real MNIST digits for fast tests, no network and no cache needed --
the first 6,000 train / 1,000 val / 1,000 test images of the course's split, from
``tests/fixtures/mnist_small.npz`` (made by ``scripts/make_mnist_fixture.py``; uint8 pixels
stored losslessly under the course's keys train_x, valid_x, eval_x ...). Returned as
``data.MnistSplits``: images float32 [N, 784] = uint8/256, exactly the values of the full
data set; labels int64 [N].
"""
import os
import pathlib

import pytest

from data.mnist.cache import read_splits_npz

# The entry points the tests start as subprocesses import the project from the checkout under
# test, whichever copy (if any) `pip install -e .` put on this Python's path.
ROOT = pathlib.Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

MNIST_SMALL_PATH = pathlib.Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"


@pytest.fixture
def mnist_small():
    """MnistSplits(train=6000, val=1000, test=1000) of real MNIST (fresh arrays per test)."""
    return read_splits_npz(MNIST_SMALL_PATH)


@pytest.fixture
def mnist_small_path():
    """Path of the npz behind ``mnist_small`` (``load_mnist(path=...)`` accepts it)."""
    return MNIST_SMALL_PATH


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """scikit-learn's real 8x8 digits as PNG class folders (no download), made once per session:
    'single' 10 classes x 8 images, 'split' train/val/test x 4 per class, 'single30' 30 per class."""
    from data.folders.samples import load_source, plan_export, write_tree

    arrays = load_source("digits")
    root = tmp_path_factory.mktemp("digits")
    trees = {}
    for name, layout, per_class in (("single", "single", 8), ("split", "split", 4),
                                    ("single30", "single", 30)):
        trees[name] = root / name / "digits"
        write_tree(plan_export(arrays, layout, per_class), trees[name], progress=False)
    return trees
