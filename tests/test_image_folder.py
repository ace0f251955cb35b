"""Tests for data/folders/ (image_folder, augment, samples) and scripts/export_demo_images.py.

Image trees are built in tmp_path from scikit-learn's bundled 8x8 digits (real images, no
download), upscaled to 16x16, plus hand-made PNG/JPEG/BMP files in every PIL mode we convert.
"""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data.errors import DataError
from data.folders import (AUGMENT_PRESETS, ImageFolderDataset, build_transforms, make_loaders,
                          sample_tree)
from data.folders.augment import KerasRandomAffine, ToCHWArray

sklearn_datasets = pytest.importorskip("sklearn.datasets")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "export_demo_images.py"


def _digits():
    digits = sklearn_datasets.load_digits()
    return np.rint(digits.images * (255 / 16)).astype(np.uint8), digits.target


def make_tree(root, classes=range(10), per_class=6, size=16):
    """Write ``root/<class>/<i>.png``: real digit images of that class, upscaled."""
    images, labels = _digits()
    for digit, name in enumerate(classes):
        folder = Path(root) / str(name)
        folder.mkdir(parents=True, exist_ok=True)
        for i, index in enumerate(np.flatnonzero(labels == digit % 10)[:per_class]):
            Image.fromarray(images[index]).resize((size, size)).save(folder / f"{i}.png")
    return Path(root)


def paths(dataset):
    return {path for path, _ in dataset.samples}


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "digits")


# --- single-folder layout: the seeded, stratified split ------------------------------------

def test_training_and_validation_are_complementary_stratified_and_seeded(tree):
    train = ImageFolderDataset(tree, "training", validation_split=0.2, seed=12, image_size=16)
    val = ImageFolderDataset(tree, "validation", validation_split=0.2, seed=12, image_size=16)
    everything = ImageFolderDataset(tree, None, image_size=16)
    assert train.layout == "single" and len(everything) == 60
    assert paths(train) | paths(val) == paths(everything)
    assert not paths(train) & paths(val)
    # Stratified: round(6 * 0.2) = 1 image of every class in validation, 5 in training.
    assert sorted(label for _, label in val.samples) == list(range(10))
    assert np.bincount([label for _, label in train.samples]).tolist() == [5] * 10
    again = ImageFolderDataset(tree, "validation", validation_split=0.2, seed=12, image_size=16)
    assert again.samples == val.samples
    other = ImageFolderDataset(tree, "validation", validation_split=0.2, seed=13, image_size=16)
    assert paths(other) != paths(val)


def test_every_class_keeps_an_image_on_each_side_of_a_lopsided_split(tmp_path):
    root = make_tree(tmp_path / "d", classes=range(3), per_class=2)
    for fraction in (0.01, 0.99):
        train = ImageFolderDataset(root, "training", validation_split=fraction, image_size=16)
        val = ImageFolderDataset(root, "validation", validation_split=fraction, image_size=16)
        assert sorted(l for _, l in train.samples) == sorted(l for _, l in val.samples) == [0, 1, 2]


def test_classes_are_sorted_folder_names_and_labels_follow_them(tmp_path):
    root = make_tree(tmp_path / "d", classes=["zebra", "apple", "Mango"], per_class=2)
    data = ImageFolderDataset(root, None, image_size=16)
    assert data.classes == ["Mango", "apple", "zebra"]  # sorted(), as Keras does
    for path, label in data.samples:
        assert Path(path).parent.name == data.classes[label]


# --- train/ val/ test/ layout (the gym-equipment article) ----------------------------------

@pytest.mark.parametrize("val_name", ["val", "valid", "validation"])
def test_explicit_train_val_test_folders(tmp_path, val_name):
    root = tmp_path / "workout"
    make_tree(root / "train", classes="abc", per_class=4)
    make_tree(root / val_name, classes="abc", per_class=2)
    make_tree(root / "test", classes="abc", per_class=3)
    subsets = {s: ImageFolderDataset(root, s, image_size=16) for s in ("training", "validation",
                                                                        "test")}
    assert {len(d) for d in subsets.values()} == {12, 6, 9}
    for subset, folder in (("training", "train"), ("validation", val_name), ("test", "test")):
        assert subsets[subset].layout == "split" and subsets[subset].classes == ["a", "b", "c"]
        assert all(Path(p).parts[-3] == folder for p in paths(subsets[subset]))
    with pytest.raises(DataError, match="pass subset="):
        ImageFolderDataset(root, None, image_size=16)


def test_split_layout_without_val_folder_cuts_validation_out_of_train(tmp_path):
    root = tmp_path / "workout"
    make_tree(root / "train", classes="ab", per_class=5)
    make_tree(root / "test", classes="ab", per_class=1)
    train = ImageFolderDataset(root, "training", validation_split=0.4, image_size=16)
    val = ImageFolderDataset(root, "validation", validation_split=0.4, image_size=16)
    assert (len(train), len(val)) == (6, 4) and not paths(train) & paths(val)
    assert all("/train/" in p for p in paths(val))


def test_split_folder_problems_are_named(tmp_path):
    root = tmp_path / "w"
    make_tree(root / "val", classes="ab", per_class=2)
    make_tree(root / "test", classes="ab", per_class=2)
    with pytest.raises(DataError, match=f"{root} has test, val folders but no train/"):
        ImageFolderDataset(root, "validation", image_size=16)
    make_tree(root / "train", classes="ax", per_class=2)
    make_tree(root / "valid", classes="a", per_class=2)
    with pytest.raises(DataError, match=f"{root} has two validation folders \\(val and valid\\)"):
        ImageFolderDataset(root, "training", image_size=16)
    (root / "valid" / "a" / "0.png").unlink()
    (root / "valid" / "a" / "1.png").unlink()
    (root / "valid" / "a").rmdir()
    (root / "valid").rmdir()
    with pytest.raises(DataError, match=r"val has class folder\(s\) \['b'\] that train/ does not"):
        ImageFolderDataset(root, "validation", image_size=16)


# --- image modes and formats ----------------------------------------------------------------

def test_every_mode_and_format_comes_out_rgb_chw_float32(tmp_path):
    root = tmp_path / "modes"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    gray = np.tile(np.arange(0, 250, 25, dtype=np.uint8), (10, 1))
    Image.fromarray(gray).save(root / "a" / "gray.png")
    Image.fromarray(gray).convert("P").save(root / "a" / "palette.png")
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:5, :, :] = (255, 0, 0, 255)   # top half opaque red, bottom half fully transparent
    Image.fromarray(rgba).save(root / "a" / "rgba.PNG")
    Image.fromarray(gray).convert("LA").save(root / "b" / "la.png")
    Image.fromarray(np.stack([gray] * 3, -1)).save(root / "b" / "photo.JPG")
    Image.fromarray(np.stack([gray] * 3, -1)).save(root / "b" / "bitmap.bmp")
    Image.fromarray(gray).save(root / "b" / "gray.jpeg")
    data = ImageFolderDataset(root, None, image_size=(12, 14))
    assert len(data) == 7 and not data.skipped
    for image, label in data:
        assert image.shape == (3, 12, 14) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0 and label.dtype == np.int64
    rgba_image, _ = data[[Path(p).name for p, _ in data.samples].index("rgba.PNG")]
    assert np.allclose(rgba_image[:, 0, 0], [1, 0, 0])   # red stays red
    assert np.allclose(rgba_image[:, -1, 0], [1, 1, 1])  # transparent -> white, not black
    ImageFolderDataset(root, None, image_size=None)  # None keeps each image's size


# --- augmentation ---------------------------------------------------------------------------

def test_eval_transform_only_rescales():
    pixels = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    out = build_transforms("keras_gym")[1](Image.fromarray(pixels))
    assert out.dtype == np.float32 and out.shape == (3, 9, 7)
    np.testing.assert_allclose(out, pixels.transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_keras_gym_augmentation_changes_images_within_range(tree):
    train_tf, eval_tf = build_transforms("keras_gym")
    image = Image.open(tree / "3" / "0.png").convert("RGB")
    base = eval_tf(image)
    outs = [train_tf(image) for _ in range(8)]
    for out in outs:
        assert out.shape == (3, 16, 16) and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
    assert all(np.abs(out - base).mean() > 0.01 for out in outs)
    assert np.abs(outs[0] - outs[1]).mean() > 0.01                 # random per call
    assert all(np.array_equal(eval_tf(image), base) for _ in range(3))  # eval is fixed
    assert sorted(AUGMENT_PRESETS) == ["keras_gym", "none"]
    with pytest.raises(DataError, match=r"unknown augmentation preset 'flip'.*keras_gym"):
        build_transforms("flip")


def test_nearest_fill_repeats_edges_instead_of_black():
    # White border, dark centre: Keras's fill_mode='nearest' never brings in black pixels.
    pixels = np.full((20, 20, 3), 255, np.uint8)
    pixels[7:13, 7:13] = 60
    image = Image.fromarray(pixels)
    nearest = KerasRandomAffine(20, 0.2, 0.2, 0.2, 0.5, fill_mode="nearest")
    constant = KerasRandomAffine(20, 0.2, 0.2, 0.2, 0.5, fill_mode="constant")
    assert min(ToCHWArray()(nearest(image)).min() for _ in range(20)) >= 60 / 255 - 1e-6
    assert min(ToCHWArray()(constant(image)).min() for _ in range(20)) == 0.0
    with pytest.raises(DataError, match="fill_mode must be one of"):
        KerasRandomAffine(fill_mode="wrap")


# --- bad input ------------------------------------------------------------------------------

def test_missing_root_no_classes_one_class(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'nope'} does not exist"):
        ImageFolderDataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=f"{tmp_path / 'empty'} has no class sub-folders"):
        ImageFolderDataset(tmp_path / "empty")
    root = make_tree(tmp_path / "one", classes=["cat"], per_class=3)
    with pytest.raises(DataError, match=r"only one class folder \(cat\)"):
        ImageFolderDataset(root)


def test_empty_class_and_class_of_non_images(tree):
    (tree / "x").mkdir()
    with pytest.raises(DataError, match=f"class folder {tree / 'x'} has no images: no files"):
        ImageFolderDataset(tree, None, image_size=16)
    (tree / "x" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match=f"{tree / 'x'} has no images: only non-image files "
                                        f"\\({tree / 'x' / 'notes.txt'}\\)"):
        ImageFolderDataset(tree, None, image_size=16)


def test_non_image_files_are_ignored_with_a_warning_naming_them(tree):
    (tree / "3" / "labels.csv").write_text("a,b")
    (tree / "README.md").write_text("readme")
    (tree / "3" / ".DS_Store").write_bytes(b"\0")  # hidden: silently ignored
    with pytest.warns(UserWarning, match=r"ignored 2 non-image file\(s\).*labels.csv.*README.md"):
        data = ImageFolderDataset(tree, None, image_size=16)
    assert len(data) == 60


def test_corrupt_images_are_skipped_or_raised(tree):
    bad = tree / "4" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    with pytest.warns(UserWarning, match=f"skipped 1 unreadable image.*{bad}"):
        data = ImageFolderDataset(tree, None, image_size=16, on_error="skip")
    assert len(data) == 60 and [p for p, _ in data.skipped] == [str(bad)]
    with pytest.raises(DataError, match=f"cannot read image {bad}"):
        ImageFolderDataset(tree, None, image_size=16, on_error="raise")
    for path in (tree / "4").iterdir():
        path.write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"every image of class\(es\) \['4'\]"), \
            pytest.warns(UserWarning):
        ImageFolderDataset(tree, None, image_size=16)


def test_image_broken_after_indexing_is_replaced_or_raised(tree):
    # The up-front check cannot catch a file that breaks later (or that fools PIL's cheap
    # verify()); __getitem__ must still name it, and with on_error='skip' not crash a loader.
    late = tree / "5" / "late.jpg"
    Image.open(tree / "5" / "0.png").convert("RGB").save(late, quality=95)
    lenient = ImageFolderDataset(tree, None, image_size=16, on_error="skip")
    strict = ImageFolderDataset(tree, None, image_size=16, on_error="raise")
    index = [Path(p).name for p, _ in lenient.samples].index("late.jpg")
    late.write_bytes(late.read_bytes()[:200])  # truncated after indexing
    with pytest.warns(UserWarning, match=f"cannot read image {late}"):
        image, label = lenient[index]
    # The next sample (the first image of class 6) stands in for it.
    assert image.shape == (3, 16, 16) and label == 6
    np.testing.assert_array_equal(image, lenient[index + 1][0])
    assert [p for p, _ in lenient.skipped] == [str(late)]
    with pytest.raises(DataError, match=f"cannot read image {late}"):
        strict[index]


@pytest.mark.parametrize("image_size", [0, -3, (16, 0), (16,), "16", (16.0, 16), True])
def test_bad_image_size(tree, image_size):
    with pytest.raises(DataError, match="image_size must be"):
        ImageFolderDataset(tree, None, image_size=image_size)


def test_bad_split_arguments(tree):
    make_tree(tree, classes=["lonely"], per_class=1)
    with pytest.raises(DataError, match=f"class 'lonely' in {tree} has 1 image"):
        ImageFolderDataset(tree, "training", image_size=16)
    for fraction in (0, 1, 1.5, None):
        with pytest.raises(DataError, match=f"validation_split must be.*got {fraction}"):
            ImageFolderDataset(tree, "validation", validation_split=fraction, image_size=16)
    with pytest.raises(DataError, match="seed must be an int"):
        ImageFolderDataset(tree, "validation", seed=None, image_size=16)
    with pytest.raises(DataError, match=f"{tree} has no test/ folder"):
        ImageFolderDataset(tree, "test", image_size=16)
    with pytest.raises(DataError, match="subset must be one of"):
        ImageFolderDataset(tree, "train", image_size=16)


# --- loaders and the export script ----------------------------------------------------------

def test_make_loaders_yields_batches(tmp_path):
    root = tmp_path / "workout"
    make_tree(root / "train", classes="abc", per_class=6)
    make_tree(root / "val", classes="abc", per_class=2)
    make_tree(root / "test", classes="abc", per_class=2)
    loaders = make_loaders(root, image_size=(16, 12), batch_size=4, augment="keras_gym")
    assert loaders["classes"] == ["a", "b", "c"]
    images, labels = next(iter(loaders["train"]))
    assert images.shape == [4, 3, 16, 12] and str(images.dtype) == "paddle.float32"
    assert labels.shape == [4] and str(labels.dtype) == "paddle.int64"
    assert sum(batch[0].shape[0] for batch in loaders["test"]) == 6
    val_labels = np.concatenate([batch[1].numpy() for batch in loaders["val"]])
    assert val_labels.tolist() == [0, 0, 1, 1, 2, 2]  # not shuffled
    single = make_loaders(make_tree(tmp_path / "d"), image_size=16, batch_size=5)
    assert single["test"] is None and len(single["val"].dataset) == 10


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), "--no-progress", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_export_digits_tree_loads_as_a_dataset(tmp_path):
    result = run_script("--out", tmp_path, "--source", "digits", "--per-class", 3)
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "digits").rglob("*.png"))
    assert len(files) == 30 and {f.parent.name for f in files} == set("0123456789")
    assert Image.open(files[0]).size == (8, 8)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # temp dir renamed away
    data = ImageFolderDataset(tmp_path / "digits", None, image_size=8)
    assert data.classes == list("0123456789") and len(data) == 30
    again = run_script("--out", tmp_path, "--per-class", 3)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "--replace" in \
        again.stderr


def test_export_mnist_npz_split_layout(tmp_path):
    fixture = REPO / "tests" / "fixtures" / "mnist_small.npz"
    if not fixture.exists():  # same keys and dtypes, from real digits upscaled to 28x28
        images, labels = _digits()
        big = np.stack([np.asarray(Image.fromarray(x).resize((28, 28))) for x in images[:90]])
        fixture = tmp_path / "mnist_small.npz"
        parts = {"train": slice(0, 50), "valid": slice(50, 70), "eval": slice(70, 90)}
        np.savez(fixture, **{f"{k}_x": big[s].reshape(-1, 784) for k, s in parts.items()},
                 **{f"{k}_y": labels[s].astype(np.int64) for k, s in parts.items()})
    result = run_script("--out", tmp_path, "--source", "mnist", "--from-npz", fixture,
                        "--layout", "split", "--per-class", 2)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "mnist"
    assert sorted(os.listdir(out)) == ["test", "train", "val"]
    for folder in ("train", "val", "test"):
        counts = [len(os.listdir(c)) for c in (out / folder).iterdir()]
        assert max(counts) <= 2 and Image.open(next((out / folder).rglob("*.png"))).size == (28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tiny val/ may lack a class
        data = ImageFolderDataset(out, "test", image_size=28)
    assert data.layout == "split"
    bad = run_script("--out", tmp_path / "b", "--source", "mnist",
                     "--from-npz", tmp_path / "no.npz")
    assert bad.returncode == 2 and f"{tmp_path / 'no.npz'} does not exist" in bad.stderr


def test_export_reads_mnist_through_load_mnist_exactly(tmp_path, monkeypatch):
    # load_mnist gives uint8/256 floats; the export must get the original bytes back.
    data_mnist = pytest.importorskip("data.mnist")
    from data.folders.samples import load_source

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 6), ("valid", 3), ("eval", 3)):
        arrays[f"{split}_x"] = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        arrays[f"{split}_y"] = rng.integers(0, 10, n).astype(np.int64)
    np.savez(tmp_path / "m.npz", **arrays)
    real = data_mnist.load_mnist
    monkeypatch.setattr(data_mnist, "load_mnist", lambda cache_dir=None, progress=True:
                        real(path=str(tmp_path / "m.npz"), progress=False))
    loaded = load_source("mnist", progress=False)
    for split in ("train", "valid", "eval"):
        np.testing.assert_array_equal(loaded[split][0].reshape(-1, 784), arrays[f"{split}_x"])
        np.testing.assert_array_equal(loaded[split][1], arrays[f"{split}_y"])


def test_export_dry_run_writes_nothing_and_no_bar_off_a_terminal(tmp_path):
    planned = run_script("--out", tmp_path, "--source", "digits", "--per-class", 3, "--dry-run")
    assert planned.returncode == 0
    assert planned.stdout == f"would write {tmp_path / 'digits'} (all: 30)\n"
    assert list(tmp_path.iterdir()) == []
    # No --no-progress: stderr is a pipe here, not a terminal, so no tqdm bar may be drawn.
    written = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--per-class",
                              "3"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert written.returncode == 0 and written.stderr == ""
    assert len(list((tmp_path / "digits").rglob("*.png"))) == 30


@pytest.mark.parametrize("layout", ["single", "split"])
def test_sample_tree_keeps_the_layout_and_the_first_images_per_class(tmp_path, layout):
    root = tmp_path / "src"
    parts = ("train", "val", "test") if layout == "split" else ("",)
    for part in parts:
        make_tree(root / part, classes="abc", per_class=4)
    (root / parts[0] / "a" / "notes.txt").write_text("not an image")
    stale = tmp_path / "small" / "stale.png"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier run")
    small = sample_tree(root, tmp_path / "small", per_class=2)
    assert small == tmp_path / "small" and not stale.exists()  # replaced whole
    copied = sorted(p.relative_to(small) for p in small.rglob("*") if p.is_file())
    assert copied == sorted(Path(part) / c / f"{i}.png" for part in parts for c in "abc"
                            for i in (0, 1))
    one = Path(parts[0]) / "b" / "1.png"
    assert (small / one).read_bytes() == (root / one).read_bytes()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temp folder left
    assert ImageFolderDataset(small, "training" if layout == "split" else None,
                              image_size=16).layout == layout
