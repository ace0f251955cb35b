"""Export real digit images as class-per-folder PNG trees, a demo image dataset with no download.

Sources:
  digits  scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``, 1,797 images,
          grey levels 0..16 scaled to 0..255).
  mnist   28x28 MNIST from the project's cache (``data.mnist.load_mnist``), or from an .npz with
          keys train_x, train_y, valid_x, valid_y, eval_x, eval_y (uint8 images [N, 784]) given
          by --from-npz, e.g. tests/fixtures/mnist_small.npz.

Writes ``OUT/<source>/<class>/<index>.png`` (--layout single) or
``OUT/<source>/{train,val,test}/<class>/<index>.png`` (--layout split; MNIST keeps its own
train/valid/eval split, digits are split per class with --seed). ``<index>`` is the image's
position in the source array (in the split layout, in that split's array). Class folders are
``0``..``9``, which sort alphabetically in label order. The tree is written into a temporary
folder next to it and renamed into place, so an interrupted export leaves nothing half-written.

Example:
  python scripts/export_demo_images.py --out demo_images --source digits --per-class 20
  python scripts/export_demo_images.py --source mnist --from-npz tests/fixtures/mnist_small.npz \\
      --layout split
"""
import argparse
import os
import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from data.errors import DataError  # noqa: E402

SOURCES = ("digits", "mnist")
MNIST_SPLITS = {"train": "train", "valid": "val", "eval": "test"}  # source split -> folder


def load_source(source, from_npz=None, cache_dir=None, progress=True):
    """Return ``{split: (uint8 images [N, H, W], int labels [N])}`` for a source name.

    digits has one split, ``all``; mnist has ``train``, ``valid`` and ``eval``.
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
    try:
        from data.mnist import load_mnist
    except ImportError as error:
        raise DataError(f"cannot import data.mnist.load_mnist ({error}); pass --from-npz "
                        "tests/fixtures/mnist_small.npz instead") from error
    splits = load_mnist(cache_dir=cache_dir, progress=progress)
    result = {}
    for name in MNIST_SPLITS:
        images, labels = getattr(splits, name)
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
        for name in MNIST_SPLITS:
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

    ``per_class`` keeps at most that many images of each class in each folder, the first ones
    in source order.
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
        sources = {MNIST_SPLITS[name]: value for name, value in arrays.items()}
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
    """Write the planned PNGs under ``dest`` atomically (temp folder, then rename)."""
    dest = pathlib.Path(dest)
    if dest.exists() and not overwrite:
        raise DataError(f"{dest} already exists; pass --overwrite to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        total = sum(len(items) for items in plan.values())
        with tqdm(total=total, desc=f"writing {dest}", unit="img", disable=not progress) as bar:
            for folder, items in plan.items():
                for index, image, label in items:
                    class_dir = tmp / folder / str(label)
                    class_dir.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(np.ascontiguousarray(image)).save(class_dir / f"{index}.png")
                    bar.update()
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return total


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Export digit images as class-per-folder PNG trees (OUT/<source>/<class>/).")
    parser.add_argument("--out", default="demo_images",
                        help="output folder (default: demo_images)")
    parser.add_argument("--source", choices=SOURCES + ("all",), default="digits",
                        help="which images to export (default: digits)")
    parser.add_argument("--from-npz", default=None,
                        help="read MNIST from this .npz instead of data.mnist.load_mnist "
                             "(default: None)")
    parser.add_argument("--cache-dir", default=None,
                        help="MNIST cache folder passed to load_mnist (default: its own)")
    parser.add_argument("--per-class", type=int, default=None,
                        help="at most this many images per class in each folder (default: all)")
    parser.add_argument("--layout", choices=("single", "split"), default="single",
                        help="single: OUT/<source>/<class>/; split: train/ val/ test/ inside "
                             "(default: single)")
    parser.add_argument("--val-fraction", type=float, default=0.2,
                        help="digits split layout: fraction of each class in val/ (default: 0.2)")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="digits split layout: fraction of each class in test/ (default: 0.2)")
    parser.add_argument("--seed", type=int, default=12,
                        help="seed of the digits split (default: 12)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing OUT/<source> (default: off)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print how many images would be written, write nothing "
                             "(default: off)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (default: off)")
    args = parser.parse_args(argv)
    if args.per_class is not None and args.per_class <= 0:
        parser.error(f"--per-class must be a positive int, got {args.per_class}")
    return args


def main(argv=None):
    args = parse_args(argv)
    sources = SOURCES if args.source == "all" else (args.source,)
    try:
        for source in sources:
            dest = pathlib.Path(args.out) / source
            if dest.exists() and not args.overwrite and not args.dry_run:  # fail before loading
                raise DataError(f"{dest} already exists; pass --overwrite to replace it")
            arrays = load_source(source, args.from_npz, args.cache_dir, not args.quiet)
            plan = plan_export(arrays, args.layout, args.per_class, args.val_fraction,
                               args.test_fraction, args.seed)
            counts = ", ".join(f"{folder or 'all'}: {len(items)}" for folder, items in plan.items())
            if args.dry_run:
                print(f"would write {dest} ({counts})")
                continue
            write_tree(plan, dest, overwrite=args.overwrite, progress=not args.quiet)
            print(f"wrote {dest} ({counts})")
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
