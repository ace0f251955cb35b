"""Small image trees: real digits exported as class-per-folder PNGs, and samples of a tree.

``export_source`` writes a demo image dataset with no download (``scripts/export_demo_images.py``):

  digits  scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``, 1,797 images,
          grey levels 0..16 scaled to 0..255).
  mnist   28x28 MNIST from the project's cache (``data.mnist.load_mnist``), or from an .npz with
          keys train_x, train_y, valid_x, valid_y, eval_x, eval_y (uint8 images [N, 784]), e.g.
          tests/fixtures/mnist_small.npz.

It writes ``DEST/<class>/<index>.png`` (layout 'single') or ``DEST/{train,val,test}/<class>/
<index>.png`` (layout 'split'; MNIST keeps its own split, the course's valid / eval becoming
val/ / test/, digits are split per class with ``seed``). ``<index>`` is the image's position in
the source array (in the split layout, in that split's array). Class folders are ``0``..``9``,
which sort alphabetically in label order.

``sample_tree`` copies the first few images per class of an existing tree of either layout of
``data.folders.image_folder``: what a chapter's dry run trains on, in seconds.

Every tree is written into a temporary folder next to it and renamed into place, so an
interrupted export leaves nothing half-written.
"""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from data.errors import DataError
from data.mnist.splits import COURSE_SPLITS

SOURCES = ("digits", "mnist")
LAYOUTS = ("single", "split")


def load_source(source, from_npz=None, cache_dir=None, progress=True):
    """Return ``{split: (uint8 images [N, H, W], int64 labels [N])}`` for a source name.

    Example:
        >>> images, labels = load_source("digits")["all"]    # uint8 [1797, 8, 8]

    Args:
        source: 'digits' (one split, ``all``) or 'mnist' (``train``, ``valid``, ``eval``: the
            names of the course's files).
        from_npz: for 'mnist', read this .npz instead of ``data.mnist.load_mnist``.
        cache_dir: for 'mnist', the MNIST cache directory (None: the default).
        progress: show MNIST's download / conversion progress on stderr.
    """
    if source == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError as error:
            raise DataError("source 'digits' needs scikit-learn: pip install scikit-learn") \
                from error
        digits = load_digits()
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
        return {"all": (images, digits.target.astype(np.int64))}
    if source != "mnist":
        raise DataError(f"unknown source {source!r}; choose one of {list(SOURCES)}")
    if from_npz is not None:
        return _mnist_from_npz(from_npz)
    from data.mnist import load_mnist   # looked up at call time, so tests can replace it

    splits = load_mnist(cache_dir=cache_dir, progress=progress)
    result = {}
    for name, field in COURSE_SPLITS.items():
        images, labels = getattr(splits, field)
        # load_mnist gives uint8 / 256 in [0, 1); undo it exactly.
        pixels = np.clip(np.rint(np.asarray(images) * 256.0), 0, 255).astype(np.uint8)
        result[name] = (pixels.reshape(-1, 28, 28), np.asarray(labels, dtype=np.int64))
    return result


def _mnist_from_npz(path):
    if not os.path.isfile(path):
        raise DataError(f"--from-npz file {path} does not exist")
    try:
        arrays = np.load(path)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read --from-npz file {path}: {error}") from error
    result = {}
    with arrays:
        for name in COURSE_SPLITS:
            keys = (f"{name}_x", f"{name}_y")
            missing = [key for key in keys if key not in arrays.files]
            if missing:
                raise DataError(f"{path} lacks key(s) {missing}; expected train_x, train_y, "
                                "valid_x, valid_y, eval_x, eval_y")
            images = arrays[keys[0]]
            if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 784:
                raise DataError(f"{path}: {keys[0]} must be uint8 [N, 784], got "
                                f"{images.dtype} {list(images.shape)}")
            result[name] = (images.reshape(-1, 28, 28), arrays[keys[1]].astype(np.int64))
    return result


def plan_export(arrays, layout="single", per_class=None, val_fraction=0.2, test_fraction=0.2,
                seed=12):
    """Decide what to write: ``{folder ('' or 'train'/'val'/'test'): [(index, image, label)]}``.

    Example:
        >>> plan = plan_export(load_source("digits"), "split", per_class=5)
        >>> {folder: len(items) for folder, items in plan.items()}
        {'train': 50, 'val': 50, 'test': 50}

    Args:
        arrays: what ``load_source`` returned.
        layout: 'single' (one folder of classes) or 'split' (train/ val/ test/).
        per_class: keep at most that many images of each class in each folder, the first ones
            in source order; None keeps all.
        val_fraction, test_fraction: digits in the split layout: each class's share in val/
            and test/.
        seed: seed of that digits split.
    """
    if layout == "single":
        # One folder: every split of the source, indexed by position in their concatenation.
        images = np.concatenate([x for x, _ in arrays.values()])
        labels = np.concatenate([y for _, y in arrays.values()])
        parts = {"": np.arange(len(labels))}
        sources = {"": (images, labels)}
    elif layout != "split":
        raise DataError(f"unknown layout {layout!r}; choose 'single' or 'split'")
    elif "all" in arrays:
        images, labels = arrays["all"]
        parts = _stratified_split(labels, val_fraction, test_fraction, seed)
        sources = {folder: (images, labels) for folder in parts}
    else:
        sources = {COURSE_SPLITS[name]: value for name, value in arrays.items()}
        parts = {folder: np.arange(len(y)) for folder, (_, y) in sources.items()}
    plan = {}
    for folder, indices in parts.items():
        images, labels = sources[folder]
        kept, counts = [], {}
        for index in indices:
            label = int(labels[index])
            if per_class is None or counts.get(label, 0) < per_class:
                counts[label] = counts.get(label, 0) + 1
                kept.append((int(index), images[index], label))
        plan[folder] = kept
    return plan


def _stratified_split(labels, val_fraction, test_fraction, seed):
    for name, value in (("--val-fraction", val_fraction), ("--test-fraction", test_fraction)):
        if not 0 < value < 1:
            raise DataError(f"{name} must be in (0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise DataError(f"--val-fraction + --test-fraction must be < 1, got "
                        f"{val_fraction + test_fraction:g}")
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(1, round(len(members) * val_fraction))
        n_test = max(1, round(len(members) * test_fraction))
        parts["val"] += sorted(members[:n_val])
        parts["test"] += sorted(members[n_val:n_val + n_test])
        parts["train"] += sorted(members[n_val + n_test:])
    return {folder: np.array(sorted(indices), dtype=np.int64) for folder, indices in parts.items()}


def write_tree(plan, dest, overwrite=False, progress=True):
    """Write the planned PNGs under ``dest`` atomically; return how many were written.

    Args:
        plan: what ``plan_export`` returned.
        dest: the tree's folder; replaced whole when ``overwrite``, else it must not exist.
        overwrite: replace an existing ``dest``.
        progress: show a progress bar on stderr.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise DataError(f"{dest} already exists; pass --replace to replace it")
    total = sum(len(items) for items in plan.values())
    with _replacing(dest) as tmp, \
            tqdm(total=total, desc=f"writing {dest}", unit="img", disable=not progress) as bar:
        for folder, items in plan.items():
            for index, image, label in items:
                class_dir = tmp / folder / str(label)
                class_dir.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.ascontiguousarray(image)).save(class_dir / f"{index}.png")
                bar.update()
    return total


def export_source(source, dest, *, from_npz=None, cache_dir=None, layout="single",
                  per_class=None, val_fraction=0.2, test_fraction=0.2, seed=12, overwrite=False,
                  dry_run=False, progress=True):
    """Export one source as a PNG tree at ``dest``; return ``{folder: images}`` (written or not).

    Example:
        >>> export_source("digits", "demo_images/digits", per_class=20)
        {'': 200}

    Args:
        source, from_npz, cache_dir: see ``load_source``.
        dest: the tree's folder.
        layout, per_class, val_fraction, test_fraction, seed: see ``plan_export``.
        overwrite: replace an existing ``dest``.
        dry_run: only plan (the counts are what would be written), write nothing.
        progress: progress bars on stderr.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite and not dry_run:  # fail before loading the source
        raise DataError(f"{dest} already exists; pass --replace to replace it")
    arrays = load_source(source, from_npz, cache_dir, progress)
    plan = plan_export(arrays, layout, per_class, val_fraction, test_fraction, seed)
    if not dry_run:
        write_tree(plan, dest, overwrite=overwrite, progress=progress)
    return {folder: len(items) for folder, items in plan.items()}


def sample_tree(src, dest, per_class: int) -> Path:
    """Copy the first ``per_class`` images (sorted by path) of every class folder of ``src``.

    A chapter's dry run trains on such a copy, so it takes seconds whatever the tree's size.
    Works for both layouts of ``data.folders.image_folder``: ``src/<class>/`` and
    ``src/{train,val,test}/<class>/``. ``dest`` is replaced whole, through a temporary folder.

    Example:
        >>> small = sample_tree("photos", "/tmp/photos-small", per_class=8)

    Args:
        src: an image-folder tree of either layout.
        dest: where the copy goes (replaced if it exists).
        per_class: images kept per class folder (per split folder in the split layout).
    """
    # Imported here: image_folder needs paddle, which export_source does not.
    from data.folders.image_folder import IMAGE_EXTENSIONS, detect_layout

    src, dest = Path(src), Path(dest)
    layout, folders = detect_layout(str(src))
    parts = [Path(f) for f in folders.values()] if layout == "split" else [src]
    with _replacing(dest) as tmp:
        for part in parts:
            for class_dir in sorted(p for p in part.iterdir()
                                    if p.is_dir() and not p.name.startswith(".")):
                images = sorted(p for p in class_dir.rglob("*")
                                if p.suffix.lower() in IMAGE_EXTENSIONS)
                for image in images[:per_class]:
                    target = tmp / image.relative_to(src)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(image, target)
    return dest


@contextlib.contextmanager
def _replacing(dest):
    """Yield an empty temporary folder beside ``dest``; on success it replaces ``dest`` whole.

    On any exception the temporary folder is removed and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            # Renamed away first, so dest is never a half-deleted tree.
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
