"""The MNIST data layer on real (small) data: formats, caches, split names, load_data, Dataset.

Bad inputs, fetching and atomic writes are in test_mnist_errors.py. No test uses the network
or the user's cache: every cache_dir is a tmp_path. ArrayLoader itself is in test_batches.py.
"""
import gzip
import json
import os

import numpy as np
import pytest

import data.mnist.json_io as mnist_json
from data import DataError, MnistSplits, load_data, load_mnist
from data.mnist.cache import (
    CACHE_ENV_VAR, FAST_CACHE_NAME, JSON_NAME, default_cache_dir, read_splits_npz,
    user_cache_path, write_fast_cache,
)
from data.mnist.json_io import write_mnist_json
from data.mnist.splits import SPLIT_NAMES, Split, take_first

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(splits, n=30):
    return take_first(splits, {name: n for name in SPLIT_NAMES})


def assert_same(a, b):
    for name in SPLIT_NAMES:
        (xa, ya), (xb, yb) = getattr(a, name), getattr(b, name)
        assert xa.dtype == np.float32 and ya.dtype == np.int64
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def forbid_json_parsing(monkeypatch):
    def refuse(path):
        raise AssertionError(f"JSON was parsed again: {path}")
    monkeypatch.setattr(mnist_json, "read_mnist_json", refuse)


def test_fixture_is_real_mnist_in_course_split(mnist_small):
    assert [len(getattr(mnist_small, n).labels) for n in SPLIT_NAMES] == [6000, 1000, 1000]
    images, labels = mnist_small.train
    assert images.shape == (6000, 784) and images.dtype == np.float32
    # Real MNIST pixels are exactly k/256 with k in 0..255 (max 255/256 < 1).
    np.testing.assert_array_equal(images * 256, np.round(images * 256))
    assert images.min() == 0.0 and images.max() == 255 / 256
    assert set(np.unique(labels)) == set(range(10))
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]  # the famous first MNIST digits


def test_json_round_trip_then_fast_cache(mnist_small, tmp_path, monkeypatch):
    path = write_mnist_json(mnist_small, tmp_path / "mnist.json.gz")
    cache = tmp_path / "cache"
    assert_same(load_mnist(path=path, cache_dir=cache, progress=False), mnist_small)
    fast = user_cache_path(path, cache)
    assert fast.is_file() and fast.stat().st_size < path.stat().st_size * 3
    forbid_json_parsing(monkeypatch)
    assert_same(load_mnist(path=path, cache_dir=cache, progress=False), mnist_small)


def test_json_is_plain_course_format(mnist_small, tmp_path):
    small = tiny(mnist_small, 3)
    path = write_mnist_json(small, tmp_path / "m.json.gz")
    data = json.load(gzip.open(path))  # exactly how the course reads it
    assert len(data) == 3 and all(len(part) == 2 for part in data)
    train_imgs, train_labels = data[0]
    assert len(train_imgs[0]) == 784 and all(isinstance(v, float) for v in train_imgs[0])
    assert train_labels == [5, 0, 4] and all(isinstance(v, int) for v in train_labels)
    # Same text as json.dumps would give, only without spaces.
    assert json.dumps(data, separators=(",", ":")) == json.dumps(
        [[x.tolist(), y.tolist()] for x, y in small], separators=(",", ":"))


def test_json_round_trip_of_arbitrary_floats(tmp_path):
    rng = np.random.default_rng(0)
    splits = MnistSplits(*(Split(rng.random((4, 784), dtype=np.float32), np.arange(4))
                           for _ in SPLIT_NAMES))
    path = write_mnist_json(splits, tmp_path / "floats.json.gz")
    assert_same(mnist_json.read_mnist_json(path), splits)  # not k/256: the json.dumps path
    fast = write_fast_cache(splits, tmp_path / "floats.npz")
    assert np.load(fast)["train_x"].dtype == np.float32  # not packable as uint8
    assert_same(read_splits_npz(fast), splits)


def test_edited_user_file_is_converted_again(mnist_small, tmp_path):
    path = write_mnist_json(tiny(mnist_small, 10), tmp_path / "mine.json.gz")
    load_mnist(path=path, cache_dir=tmp_path, progress=False)
    first_key = user_cache_path(path, tmp_path)
    write_mnist_json(tiny(mnist_small, 12), path)
    os.utime(path, ns=(1, 1_000_000_000))
    assert user_cache_path(path, tmp_path) != first_key
    assert len(load_mnist(path=path, cache_dir=tmp_path, progress=False).train.labels) == 12


def test_course_file_in_cache_dir_is_converted_not_downloaded(mnist_small, tmp_path, monkeypatch):
    import data.mnist.fetch as fetch

    monkeypatch.setattr(fetch, "fetch_mnist", lambda *a: pytest.fail("must not download"))
    write_mnist_json(tiny(mnist_small), tmp_path / JSON_NAME)
    assert_same(load_mnist(cache_dir=tmp_path, progress=False), tiny(mnist_small))
    assert (tmp_path / FAST_CACHE_NAME).is_file()
    forbid_json_parsing(monkeypatch)
    assert_same(load_mnist(cache_dir=tmp_path, progress=False), tiny(mnist_small))


def test_npz_path_loads_directly(mnist_small, mnist_small_path):
    assert_same(load_mnist(path=mnist_small_path), mnist_small)


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "paddle-optimizer-lab" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert not str(default_cache_dir()).startswith(REPO)
    assert default_cache_dir().parts[-3:] == (".cache", "paddle-optimizer-lab", "mnist")
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "mnist"


def test_load_data_batches_like_the_course(mnist_small):
    loader = load_data("valid", batch_size=300, splits=mnist_small)
    batches = list(loader())
    assert [len(x) for x, _ in batches] == [300, 300, 300, 100]  # last partial batch kept
    images, labels = batches[0]
    assert images.shape == (300, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (300, 1) and labels.dtype == np.int64
    # valid and eval are not shuffled: the batches are the data in order.
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches])[:, 0],
                                  mnist_small.val.labels)
    np.testing.assert_array_equal(batches[0][0].reshape(300, 784), mnist_small.val.images[:300])
    eval_labels = np.concatenate([y for _, y in load_data("eval", 1000, splits=mnist_small)()])
    np.testing.assert_array_equal(eval_labels[:, 0], mnist_small.test.labels)
    # The engine's names reach the same splits.
    for course, engine in (("valid", "val"), ("eval", "test")):
        a, b = (list(load_data(mode, 300, splits=mnist_small)()) for mode in (course, engine))
        assert len(a) == len(b)
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_load_data_shuffles_train_only_new_order_each_epoch(mnist_small):
    loader = load_data("train", batch_size=1000, seed=3, splits=mnist_small)
    epoch1 = np.concatenate([y for _, y in loader()])[:, 0]
    epoch2 = np.concatenate([y for _, y in loader()])[:, 0]
    assert not np.array_equal(epoch1, mnist_small.train.labels)
    assert not np.array_equal(epoch1, epoch2)
    np.testing.assert_array_equal(np.sort(epoch1), np.sort(mnist_small.train.labels))
    again = np.concatenate([y for _, y in load_data("train", 1000, seed=3, splits=mnist_small)()])
    np.testing.assert_array_equal(again[:, 0], epoch1)  # seeded: reproducible


def test_load_data_reads_a_course_file(mnist_small, tmp_path):
    path = write_mnist_json(tiny(mnist_small, 25), tmp_path / "mnist.json.gz")
    batches = list(load_data("eval", batch_size=10, path=str(path), cache_dir=tmp_path)())
    assert [len(y) for _, y in batches] == [10, 10, 5]


def test_load_data_rejects_unknown_mode_and_bad_batch_size(mnist_small):
    with pytest.raises(DataError, match=r"unknown mode 'testing'; choose one of 'train', 'valid', "
                                        r"'eval', 'val', 'test'$"):
        load_data("testing", splits=mnist_small)
    with pytest.raises(DataError, match="batch_size must be a positive integer, got 0"):
        load_data("train", batch_size=0, splits=mnist_small)


def test_load_data_checks_equal_lengths(mnist_small):
    images, labels = mnist_small.train
    broken = mnist_small._replace(train=Split(images, labels[:-1]))
    with pytest.raises(DataError, match=r"train_imgs \(6000\) should be the same as train_labels \(5999\)"):
        load_data("train", splits=broken)


def test_split_names_of_both_vocabularies(mnist_small):
    assert mnist_small._fields == SPLIT_NAMES == ("train", "val", "test")
    assert repr(mnist_small) == "MnistSplits(train=6000, val=1000, test=1000)"
    assert mnist_small.split("valid") is mnist_small.split("val") is mnist_small.val
    assert mnist_small.split("eval") is mnist_small.split("test") is mnist_small.test
    assert mnist_small.split("train") is mnist_small.train
    with pytest.raises(DataError, match=r"unknown MNIST split 'validation'; choose one of "
                                        r"'train', 'valid', 'eval', 'val', 'test'"):
        mnist_small.split("validation")


def test_npz_keeps_the_course_names(mnist_small, tmp_path):
    fast = write_fast_cache(tiny(mnist_small), tmp_path / "m.npz")
    with np.load(fast) as npz:
        assert set(npz.files) - {"meta"} == {f"{n}_{s}" for n in ("train", "valid", "eval")
                                             for s in "xy"}
        np.testing.assert_array_equal(npz["eval_y"], mnist_small.test.labels[:30])


def test_mnist_dataset_with_paddle_dataloader(mnist_small):
    import paddle
    from data.mnist import MnistDataset

    dataset = MnistDataset("valid", splits=mnist_small)
    assert len(dataset) == 1000
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert label.shape == (1,) and label.dtype == np.int64
    loader = paddle.io.DataLoader(dataset, batch_size=300, shuffle=False)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [[300, 1, 28, 28]] * 3 + [[100, 1, 28, 28]]
    assert batches[0][1].shape == [300, 1] and batches[0][1].dtype == paddle.int64
    np.testing.assert_array_equal(batches[-1][1].numpy()[:, 0], mnist_small.val.labels[900:])
    assert dataset.split == "val"
    np.testing.assert_array_equal(MnistDataset("eval", splits=mnist_small).labels[:, 0],
                                  MnistDataset("test", splits=mnist_small).labels[:, 0])


def test_mnist_dataset_subset_limit_and_shape(mnist_small):
    from data.mnist import MnistDataset

    flat = MnistDataset("train", images_shape=(784,), splits=mnist_small, limit=100)
    assert len(flat) == 100 and flat[0][0].shape == (784,)
    first = flat.subset(10)
    np.testing.assert_array_equal(first.labels[:, 0], mnist_small.train.labels[:10])
    picked = MnistDataset("train", splits=mnist_small).subset(50, seed=7)
    again = MnistDataset("train", splits=mnist_small).subset(50, seed=7)
    np.testing.assert_array_equal(picked.labels, again.labels)
    assert len(picked) == 50 and not np.array_equal(picked.labels[:, 0], mnist_small.train.labels[:50])
    with pytest.raises(DataError, match="unknown split 'testing'; choose one of 'train', 'valid'"):
        MnistDataset("testing", splits=mnist_small)
    with pytest.raises(DataError, match=r"images_shape \[1, 28, 27\] must hold 784"):
        MnistDataset("train", images_shape=(1, 28, 27), splits=mnist_small)
    with pytest.raises(DataError, match=r"subset size must be an integer in 1..100"):
        flat.subset(101)
