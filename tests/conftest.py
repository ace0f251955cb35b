"""Shared pytest fixtures.

``mnist_small``: real MNIST digits for fast tests, no network and no cache needed --
the first 6,000 train / 1,000 valid / 1,000 eval images of the course's split, from
``tests/fixtures/mnist_small.npz`` (made by ``scripts/make_mnist_fixture.py``; uint8 pixels
stored losslessly). Returned as ``data.MnistSplits``: images float32 [N, 784] = uint8/256,
exactly the values of the full data set; labels int64 [N].
"""
import pathlib

import pytest

from data.mnist_cache import read_splits_npz

MNIST_SMALL_PATH = pathlib.Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"


@pytest.fixture
def mnist_small():
    """MnistSplits(train=6000, valid=1000, eval=1000) of real MNIST (fresh arrays per test)."""
    return read_splits_npz(MNIST_SMALL_PATH)


@pytest.fixture
def mnist_small_path():
    """Path of the npz behind ``mnist_small`` (``load_mnist(path=...)`` accepts it)."""
    return MNIST_SMALL_PATH
