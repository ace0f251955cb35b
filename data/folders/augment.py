"""Augmentation presets for image-folder datasets, built from ``paddle.vision.transforms``.

The gym-equipment article (/work/shared/articles/000_*.txt) trains with Keras's

    ImageDataGenerator(rescale=1./255, rotation_range=20, width_shift_range=0.2,
                       height_shift_range=0.2, shear_range=0.2, zoom_range=0.5,
                       fill_mode="nearest")

and rescales validation and test images only. ``build_transforms('keras_gym')`` gives the
Paddle equivalent; ``build_transforms('none')`` rescales both. Every transform here takes the
resized RGB ``PIL.Image`` the dataset loads and the last step returns a float32 CHW numpy
array in [0, 1] (a numpy array, not a paddle Tensor, so DataLoader workers stay cheap).

Paddle's ``RandomAffine`` fills the uncovered border with a constant only; Keras's
``fill_mode="nearest"`` repeats the edge pixels. ``KerasRandomAffine`` gets the Keras fill
by padding the image in ``edge`` mode (wide enough that the transformed view never reaches
past the padding), applying ``paddle.vision.transforms.functional.affine`` and cropping the
centre back out.
"""
import math
import random

import numpy as np
from paddle.vision import transforms as T
from paddle.vision.transforms import functional as F

from data.errors import DataError

# Keras fill_mode -> paddle pad mode that gives the same border once the affine samples it.
# Keras (scipy.ndimage) "reflect" repeats the edge pixel, which numpy/paddle call "symmetric".
# Keras "wrap" has no paddle pad mode.
FILL_MODES = {"nearest": "edge", "reflect": "symmetric", "constant": None}


class ToCHWArray(T.BaseTransform):
    """Rescale a PIL image or HWC uint8 array to a float32 CHW array in [0, 1].

    The Keras ``rescale=1./255`` step, like ``paddle.vision.transforms.ToTensor`` but
    returning numpy, which the DataLoader collates into a batch tensor.
    """

    def _apply_image(self, img):
        array = np.asarray(img, dtype=np.float32)
        if array.ndim == 2:  # a grayscale image has no channel axis
            array = array[:, :, None]
        return np.ascontiguousarray(array.transpose(2, 0, 1)) / np.float32(255.0)


class KerasRandomAffine(T.BaseTransform):
    """Random rotation, shift, shear and zoom with the parameters of Keras's ImageDataGenerator.

    Each call draws, like Keras: an angle uniform in [-rotation_range, rotation_range] degrees;
    shifts uniform in [-width_shift_range, width_shift_range] x image width (same for height);
    a shear angle uniform in [-shear_range, shear_range] *degrees* (Keras's shear_range is an
    angle in degrees, so the article's 0.2 is a very slight shear); and a zoom factor z uniform
    in [1 - zoom_range, 1 + zoom_range]. Keras maps output coordinates to input coordinates
    multiplied by z, so z < 1 magnifies; this class therefore magnifies by 1 / z.

    Differences from Keras, all small: Keras draws separate x and y zoom factors, Paddle's
    affine takes one (isotropic) scale; the rotation/shear/shift are composed in Paddle's order
    (translate . rotate . shear . scale about the centre) rather than Keras's; Paddle rounds
    shifts to whole pixels. fill_mode "wrap" is not offered (Paddle has no wrap padding).

    Example:
        >>> aug = KerasRandomAffine(rotation_range=20, zoom_range=0.5)
        >>> out = aug(pil_image)            # a PIL image of the same size

    Args:
        rotation_range: maximum rotation in degrees (>= 0).
        width_shift_range: maximum horizontal shift as a fraction of the width, in [0, 1).
        height_shift_range: maximum vertical shift as a fraction of the height, in [0, 1).
        shear_range: maximum shear angle in degrees, in [0, 90).
        zoom_range: z is drawn from [1 - zoom_range, 1 + zoom_range]; in [0, 1).
        fill_mode: "nearest" (repeat edge pixels, Keras's default), "reflect" or "constant" (0).
        interpolation: "bilinear" (Keras uses order-1 spline, i.e. bilinear) or "nearest".
    """

    def __init__(self, rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0,
                 shear_range=0.0, zoom_range=0.0, fill_mode="nearest",
                 interpolation="bilinear"):
        super().__init__()
        _check_range("rotation_range", rotation_range, 0.0, 360.0)
        _check_range("width_shift_range", width_shift_range, 0.0, 1.0)
        _check_range("height_shift_range", height_shift_range, 0.0, 1.0)
        _check_range("shear_range", shear_range, 0.0, 90.0)
        _check_range("zoom_range", zoom_range, 0.0, 1.0)
        if fill_mode not in FILL_MODES:
            raise DataError(f"fill_mode must be one of {sorted(FILL_MODES)}, got {fill_mode!r}")
        if interpolation not in ("bilinear", "nearest"):
            raise DataError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.rotation_range = float(rotation_range)
        self.width_shift_range = float(width_shift_range)
        self.height_shift_range = float(height_shift_range)
        self.shear_range = float(shear_range)
        self.zoom_range = float(zoom_range)
        self.fill_mode = fill_mode
        self.interpolation = interpolation

    def _draw(self, width, height):
        # Python's `random`, as Paddle's own transforms use: DataLoader workers reseed it
        # per worker, so workers do not repeat each other's augmentations.
        angle = random.uniform(-self.rotation_range, self.rotation_range)
        shift_x = random.uniform(-self.width_shift_range, self.width_shift_range) * width
        shift_y = random.uniform(-self.height_shift_range, self.height_shift_range) * height
        shear = random.uniform(-self.shear_range, self.shear_range)
        zoom = random.uniform(1.0 - self.zoom_range, 1.0 + self.zoom_range)
        return angle, (round(shift_x), round(shift_y)), 1.0 / zoom, shear

    def _apply_image(self, img):
        width, height = img.size
        angle, shift, scale, shear = self._draw(width, height)
        pad_mode = FILL_MODES[self.fill_mode]
        pad = 0
        if pad_mode is not None:
            # Farthest input point any output pixel can sample: the output corner moved by
            # the shift, undone by the smallest scale (1/scale) and stretched by the shear.
            reach = (math.hypot(width, height) / 2 + math.hypot(*shift)) / scale
            reach *= 1.0 + abs(math.tan(math.radians(shear)))
            pad = max(0, math.ceil(reach - min(width, height) / 2)) + 2
            img = F.pad(img, pad, padding_mode=pad_mode)
        # The padding is symmetric, so the default centre is still the image's centre.
        img = F.affine(img, angle=angle, translate=shift, scale=scale, shear=(shear, 0.0),
                       interpolation=self.interpolation, fill=0)
        if pad:
            img = F.center_crop(img, (height, width))
        return img


def _check_range(name, value, low, high):
    if not isinstance(value, (int, float)) or not low <= value < high:
        raise DataError(f"{name} must be a number in [{low:g}, {high:g}), got {value!r}")


def _keras_gym():
    # The article's train_datagen; rescale=1./255 is the ToCHWArray step.
    return T.Compose([
        KerasRandomAffine(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2,
                          shear_range=0.2, zoom_range=0.5, fill_mode="nearest"),
        ToCHWArray(),
    ])


# Preset name -> builder of the *training* transform. Validation and test are always only
# rescaled (the article's val_datagen / test_datagen = ImageDataGenerator(rescale=1./255)).
AUGMENT_PRESETS = {
    "none": ToCHWArray,
    "keras_gym": _keras_gym,
}


def build_transforms(preset="none"):
    """Return ``(train_transform, eval_transform)`` for an augmentation preset name.

    ``eval_transform`` only rescales to float32 CHW in [0, 1]; ``train_transform`` adds the
    preset's random augmentation first. Unknown names raise DataError listing the choices.
    """
    if preset not in AUGMENT_PRESETS:
        raise DataError(f"unknown augmentation preset {preset!r}; choose one of "
                        f"{sorted(AUGMENT_PRESETS)}")
    return AUGMENT_PRESETS[preset](), ToCHWArray()
