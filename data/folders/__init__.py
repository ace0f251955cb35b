"""Class-per-folder image datasets: find the images, augment them, make small trees of them.

``image_folder`` finds the classes and images of a folder (two layouts, a seeded split),
checks them and builds ``paddle.io.DataLoader``s with the transforms of ``augment`` (e.g. the
gym article's Keras augmentation); ``samples`` writes demo trees of real digits, and small
samples of a tree for quick runs.

``image_folder`` and ``augment`` need paddle (a multi-second import), so their names are
imported on first use: ``samples`` (what ``scripts/export_demo_images.py`` runs) stays cheap.

Example:
    >>> from data.folders import make_loaders
    >>> loaders = make_loaders("workout", image_size=(64, 64), augment="keras_gym")
    >>> loaders["classes"], len(loaders["train"])
"""
import importlib

from data.folders.samples import sample_tree  # noqa: F401 (in __all__ below)

# Public name -> the module that defines it.
_LAZY = {
    "ImageFolderDataset": "image_folder", "make_loaders": "image_folder",
    "detect_layout": "image_folder", "find_classes": "image_folder",
    "load_image": "image_folder", "IMAGE_EXTENSIONS": "image_folder",
    "build_transforms": "augment", "AUGMENT_PRESETS": "augment",
    "seeded_loader": "seeded", "SeededBatchSampler": "seeded", "SeededDraws": "seeded",
}

__all__ = sorted([*_LAZY, "sample_tree"])


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"data.folders.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'data.folders' has no attribute {name!r}")
