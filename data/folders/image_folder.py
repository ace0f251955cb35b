"""Class-per-folder image datasets, like Keras's ``image_dataset_from_directory``.

Two layouts, detected from the names of ``root``'s sub-folders (hidden ones ignored,
names compared case-insensitively):

* **split layout** -- every sub-folder is one of ``train``, ``val``/``valid``/``validation``,
  ``test`` and ``train`` is among them (the gym-equipment article's ``workout/train|val|test``).
  Each of them holds one folder per class. Without a validation folder, ``train/`` is split
  by ``validation_split`` as below. Only val/test folders but no ``train/`` is an error.
* **single layout** -- anything else: every sub-folder is a class, and ``validation_split`` +
  ``subset`` + ``seed`` cut it into training and validation (the film-star and coffee-bean
  articles' ``validation_split=0.2, subset=..., seed=12``).

Class names are the sorted folder names (the label is the index), as in Keras; in the split
layout the classes come from ``train/``. Images are found recursively inside each class folder;
``.jpg .jpeg .png .bmp`` in any case. Other files are ignored with one warning naming them;
hidden files (``.DS_Store``) silently. A class folder with no image in it is an error.

The split is stratified: each class's files (sorted, then shuffled by ``seed``) give
``round(n * validation_split)`` images to validation, at least one to each side, so the
training and validation subsets built with the same seed are complementary. A class with
fewer than 2 images cannot be split and is an error.

Every image of the chosen subset is checked when the dataset is built (PIL ``verify``, with a
progress bar for big folders); ``on_error='skip'`` drops unreadable ones with one warning and
lists them in ``.skipped``, ``on_error='raise'`` raises DataError naming the file.
"""
import os
import warnings

import numpy as np
import paddle
from PIL import Image
from tqdm import tqdm

from data.folders.augment import build_transforms
from data.folders.seeded import seeded_loader
from data.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
SPLIT_FOLDERS = {"train": "training", "val": "validation", "valid": "validation",
                 "validation": "validation", "test": "test"}
SUBSETS = ("training", "validation", "test", None)
PROGRESS_MIN_FILES = 1000  # show a progress bar while checking at least this many images


class ImageFolderDataset(paddle.io.Dataset):
    """A class-per-folder image dataset yielding ``(image float32 [3,H,W] in [0,1], label int64)``.

    Example:
        >>> train = ImageFolderDataset("flowers", subset="training", validation_split=0.2,
        ...                            seed=12, image_size=(80, 80))
        >>> image, label = train[0]; train.classes[label]

    Args:
        root: the dataset folder (either layout, see the module docstring).
        subset: 'training', 'validation', 'test' (split layout only) or None (all images of a
            single-layout folder).
        validation_split: fraction of each class given to validation, in (0, 1); used when the
            validation images are cut out of a folder rather than read from ``val/``.
        seed: int seed of that split; training and validation must use the same one.
        image_size: (height, width) or one int for a square; every image is resized to it
            (bilinear). None keeps each image's own size (batching then needs equal sizes).
        transform: callable on the resized RGB PIL image returning a float32 CHW array;
            default rescales to [0, 1] (``data.folders.augment.ToCHWArray``).
        on_error: 'skip' (drop unreadable images, warn, list them in ``.skipped``) or 'raise'.

    Attributes: ``classes`` (sorted class names), ``samples`` (list of (path, label)),
    ``skipped`` (list of (path, reason)), ``layout`` ('single' or 'split').
    """

    def __init__(self, root, subset=None, validation_split=0.2, seed=12, image_size=(256, 256),
                 transform=None, on_error="skip"):
        super().__init__()
        if subset not in SUBSETS:
            raise DataError(f"subset must be one of {list(SUBSETS)}, got {subset!r}")
        if on_error not in ("skip", "raise"):
            raise DataError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        self.root = os.fspath(root)
        self.subset = subset
        self.image_size = _check_image_size(image_size)
        self.transform = transform if transform is not None else build_transforms("none")[1]
        self.on_error = on_error
        self.layout, folders = detect_layout(self.root)
        if self.layout == "split":
            self.classes = find_classes(folders["training"])
            samples = self._split_layout_samples(folders, validation_split, seed)
        else:
            if subset == "test":
                raise DataError(f"{self.root} has no test/ folder (it is one folder of classes); "
                                "use subset='training', 'validation' or None")
            self.classes = find_classes(self.root)
            samples = index_images(self.root, self.classes)
            if subset is not None:
                parts = split_samples(samples, self.classes, validation_split, seed, self.root)
                samples = parts[subset]
        self.samples, self.skipped = check_images(samples, self.classes, on_error, self.root)

    def _split_layout_samples(self, folders, validation_split, seed):
        if self.subset is None:
            raise DataError(f"{self.root} has train/val/test folders; pass subset='training', "
                            "'validation' or 'test'")
        if self.subset == "test" and "test" not in folders:
            raise DataError(f"{self.root} has no test/ folder")
        if self.subset == "test" or (self.subset == "validation" and "validation" in folders):
            return index_images(folders[self.subset], self.classes, partial=True)
        samples = index_images(folders["training"], self.classes)
        if "validation" in folders:
            return samples
        # No val/ folder: validation is cut out of train/, as in the single layout.
        parts = split_samples(samples, self.classes, validation_split, seed, folders["training"])
        return parts[self.subset]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        try:
            image = load_image(path, self.image_size)
        except (OSError, ValueError) as error:
            # verify() passed but decoding failed (e.g. a truncated JPEG). A DataLoader cannot
            # drop an item, so with on_error='skip' the next readable image stands in for it.
            if self.on_error == "raise" or len(self.samples) < 2:
                raise DataError(f"cannot read image {path}: {error}") from error
            warnings.warn(f"cannot read image {path} ({error}); using the next image instead")
            self.skipped.append((path, str(error)))
            return self[(index + 1) % len(self.samples)]
        return self.transform(image), np.int64(label)


def detect_layout(root):
    """Return ``('split', {subset: folder})`` or ``('single', {})`` for a dataset folder."""
    if not os.path.isdir(root):
        raise DataError(f"dataset folder {root} does not exist or is not a folder")
    names = _visible_subfolders(root)
    splits = {name for name in names if name.lower() in SPLIT_FOLDERS}
    if not names or splits != set(names):
        return "single", {}
    folders = {}
    for name in sorted(splits):
        subset = SPLIT_FOLDERS[name.lower()]
        if subset in folders:
            first = os.path.basename(folders[subset])
            raise DataError(f"{root} has two validation folders ({first} and {name}); keep one")
        folders[subset] = os.path.join(root, name)
    if "training" not in folders:
        raise DataError(f"{root} has {', '.join(sorted(splits))} folders but no train/ folder")
    return "split", folders


def find_classes(folder):
    """Sorted class names: the visible sub-folders of ``folder`` (at least two)."""
    if not os.path.isdir(folder):
        raise DataError(f"dataset folder {folder} does not exist or is not a folder")
    classes = sorted(_visible_subfolders(folder))
    if not classes:
        raise DataError(f"{folder} has no class sub-folders; expected one folder per class")
    if len(classes) == 1:
        raise DataError(f"{folder} has only one class folder ({classes[0]}); need at least two")
    return classes


def index_images(folder, classes, partial=False):
    """List ``(path, label)`` for the images in ``folder/<class>/`` (recursively), sorted.

    Non-image files are ignored with one warning. An empty class folder, or one without
    images, is a DataError. With ``partial`` (val/test folders) a missing class folder is only
    a warning, but a class folder not among ``classes`` is an error.
    """
    present = _visible_subfolders(folder)
    unknown = sorted(set(present) - set(classes))
    if unknown:
        raise DataError(f"{folder} has class folder(s) {unknown} that train/ does not have; "
                        f"classes are {classes}")
    missing = [name for name in classes if name not in present]
    if missing and not partial:
        raise DataError(f"class folder(s) {missing} missing from {folder}")
    if missing:
        warnings.warn(f"{folder} has no folder for class(es) {missing}")
    stray = [os.path.join(folder, name) for name in os.listdir(folder)
             if not name.startswith(".") and os.path.isfile(os.path.join(folder, name))]
    samples = []
    for label, name in enumerate(classes):
        if name not in present:
            continue
        images, others = _walk_class(os.path.join(folder, name))
        if not images:
            what = f"only non-image files ({', '.join(others[:3])})" if others else "no files"
            raise DataError(f"class folder {os.path.join(folder, name)} has no images: {what}; "
                            f"expected {'/'.join(IMAGE_EXTENSIONS)} files")
        stray += others
        samples += [(path, label) for path in images]
    if stray:
        shown = ", ".join(sorted(stray)[:5]) + (" ..." if len(stray) > 5 else "")
        warnings.warn(f"ignored {len(stray)} non-image file(s) under {folder}: {shown}")
    return samples


def split_samples(samples, classes, validation_split, seed, root):
    """Stratified seeded split -> ``{'training': [...], 'validation': [...]}``."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0 < validation_split < 1:
        raise DataError(f"validation_split must be a fraction in (0, 1) to split {root}, "
                        f"got {validation_split!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"seed must be an int (the same for training and validation, so the "
                        f"subsets are complementary), got {seed!r}")
    rng = np.random.default_rng(int(seed))
    parts = {"training": [], "validation": []}
    for label, name in enumerate(classes):
        members = sorted(s for s in samples if s[1] == label)
        if len(members) < 2:
            raise DataError(f"class {name!r} in {root} has {len(members)} image(s); "
                            "splitting into training and validation needs at least 2")
        n_val = min(max(round(len(members) * validation_split), 1), len(members) - 1)
        order = rng.permutation(len(members))
        parts["validation"] += [members[i] for i in sorted(order[:n_val])]
        parts["training"] += [members[i] for i in sorted(order[n_val:])]
    return parts


def check_images(samples, classes, on_error, root):
    """Open and verify every image; return ``(readable samples, skipped (path, reason))``."""
    good, skipped = [], []
    bar = tqdm(samples, desc=f"checking images in {root}", unit="img", leave=False,
               disable=len(samples) < PROGRESS_MIN_FILES)
    for path, label in bar:
        try:
            with Image.open(path) as image:
                image.verify()
        except Exception as error:  # PIL raises many types for a broken file
            if on_error == "raise":
                raise DataError(f"cannot read image {path}: {error}") from error
            skipped.append((path, f"{type(error).__name__}: {error}"))
            continue
        good.append((path, label))
    if skipped:
        shown = "; ".join(f"{p} ({why})" for p, why in skipped[:3])
        warnings.warn(f"skipped {len(skipped)} unreadable image(s) under {root}: {shown}"
                      + (" ..." if len(skipped) > 3 else ""))
        emptied = sorted({classes[label] for _, label in samples} - {classes[kept] for _, kept in good})
        if emptied:
            raise DataError(f"every image of class(es) {emptied} under {root} is unreadable")
    return good, skipped


def load_image(path, image_size=None):
    """Load an image file as an RGB PIL image, resized to ``(height, width)`` if given.

    Grayscale and palette images are converted to RGB; images with transparency (RGBA, LA,
    palette with a transparent colour) are composited onto white, so transparent pixels do
    not turn into whatever colour happens to be stored under them.
    """
    with Image.open(path) as image:
        image.load()
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grayscale PNG
        image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).clip(0, 255)
                                .astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image.alpha_composite(rgba)
    image = image.convert("RGB")
    if image_size is not None and image.size != (image_size[1], image_size[0]):
        image = image.resize((image_size[1], image_size[0]), Image.BILINEAR)
    return image


def make_loaders(root, image_size=(256, 256), batch_size=32, validation_split=0.2, seed=12,
                 augment="none", num_workers=0, on_error="skip", drop_last=False, shuffle_seed=0,
                 limits=(0, 0)):
    """Build train/val(/test) ``paddle.io.DataLoader``s for an image folder of either layout.

    Training data gets the ``augment`` preset (``data.folders.augment.AUGMENT_PRESETS``) and is
    shuffled, both drawn from ``shuffle_seed``, the epoch and the image alone
    (``data.folders.seeded``: the same batches whatever ``num_workers``, and a ``state_dict`` to
    resume from); ``seed`` is the validation split's. Validation and test are only rescaled and
    keep file order. ``limits``: (training, validation) images to keep, 0 = all; the first of
    each class in turn, so every class keeps its share (``first_of_each_class``). Returns
    ``dict(train=SeededLoader, val=DataLoader, test=DataLoader or None, classes=[...])``.
    """
    train_transform, eval_transform = build_transforms(augment)
    common = dict(validation_split=validation_split, seed=seed, image_size=image_size,
                  on_error=on_error)
    train = ImageFolderDataset(root, "training", transform=train_transform, **common)
    val = ImageFolderDataset(root, "validation", transform=eval_transform, **common)
    for dataset, limit, flag in ((train, limits[0], "--subset"), (val, limits[1], "--val-subset")):
        dataset.samples = first_of_each_class(dataset.samples, limit, flag, dataset.subset, root)
    test = None
    if train.layout == "split" and "test" in detect_layout(root)[1]:
        test = ImageFolderDataset(root, "test", transform=eval_transform, **common)

    def loader(dataset):
        return paddle.io.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                    num_workers=num_workers)

    return dict(train=seeded_loader(train, batch_size, shuffle_seed, drop_last=drop_last,
                                    num_workers=num_workers),
                val=loader(val), test=loader(test) if test is not None else None,
                classes=train.classes)


def first_of_each_class(samples, limit, flag, what, root):
    """The first ``limit`` of ``samples`` taken a class at a time (each class's first image, then
    each class's second, ...), in their order otherwise; all of them for 0."""
    if not limit:
        return samples
    if limit > len(samples):
        raise DataError(f"{flag}: {limit:,} is more than the {len(samples):,} {what} images in "
                        f"{root} (0 = all of them)")
    seen = {}
    ranked = []
    for index, (path, label) in enumerate(samples):
        seen[label] = seen.get(label, 0) + 1
        ranked.append((seen[label], index))
    return [samples[index] for _, index in sorted(ranked)[:limit]]


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                       for n in image_size)):
        raise DataError(f"image_size must be (height, width) of positive ints, got {image_size!r}")
    return tuple(image_size)


def _visible_subfolders(folder):
    return [name for name in os.listdir(folder)
            if not name.startswith(".") and os.path.isdir(os.path.join(folder, name))]


def _walk_class(class_dir):
    """Images and non-image files under one class folder, recursively, sorted."""
    images, others = [], []
    for dirpath, dirnames, filenames in os.walk(class_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            (images if name.lower().endswith(IMAGE_EXTENSIONS) else others).append(path)
    return sorted(images), others
