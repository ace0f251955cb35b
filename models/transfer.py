"""Backbone + head image classifiers, and the paddle.vision backbones behind them.

Every image model in this package is an :class:`ImageClassifier`: a
convolutional ``backbone`` that maps [B, 3, H, W] images to feature maps, and
a small ``head`` that turns them into class logits. Trainers and tests find
the two parts by these attribute names, freezing is one call on the
backbone, and ImageNet weights are mapped onto the backbone alone.

The gym-equipment article (DenseNet121 at 80x80) and the "light model"
(MobileNetV2) use a paddle.vision backbone with global average pooling and one
Dense layer, as Keras's ``include_top=False`` + ``GlobalAveragePooling2D`` +
``Dense(classes)`` does. Any backbone in :data:`VISION_BACKBONES` can be
built the same way by the name ``vision:<name>``, e.g. ``vision:resnet18``.
"""

import paddle.vision.models as pvm
from paddle import nn

from .errors import ModelError

DEFAULT_IMAGE_SIZE = 224

# Channels of each backbone's last feature map (measured with a forward pass
# in paddle 3.3.1), so the head can be built without running the backbone.
# Left out: alexnet (no headless mode) and googlenet (returns three outputs).
VISION_BACKBONES = {
    **{n: 512 for n in ("resnet18", "resnet34")},
    **{n: 2048 for n in ("resnet50", "resnet101", "resnet152",
                         "resnext50_32x4d", "resnext50_64x4d", "resnext101_32x4d",
                         "resnext101_64x4d", "resnext152_32x4d", "resnext152_64x4d",
                         "wide_resnet50_2", "wide_resnet101_2")},
    **{n: 512 for n in ("vgg11", "vgg13", "vgg16", "vgg19")},
    "densenet121": 1024, "densenet161": 2208, "densenet169": 1664,
    "densenet201": 1920, "densenet264": 2688,
    "mobilenet_v1": 1024, "mobilenet_v2": 1280,
    "mobilenet_v3_small": 576, "mobilenet_v3_large": 960,
    "inception_v3": 2048,
    "squeezenet1_0": 512, "squeezenet1_1": 512,
    "shufflenet_v2_x0_25": 512, "shufflenet_v2_x0_33": 512,
    "shufflenet_v2_x0_5": 1024, "shufflenet_v2_x1_0": 1024,
    "shufflenet_v2_x1_5": 1024, "shufflenet_v2_x2_0": 2048,
    "shufflenet_v2_swish": 1024,
}


class ImageClassifier(nn.Layer):
    """An image model made of ``backbone`` (features) and ``head`` (logits).

    Args:
        backbone: layer mapping [B, 3, H, W] to feature maps.
        head: layer mapping those feature maps to [B, num_classes] logits.
        freeze_backbone: if True, the backbone's parameters get
            ``trainable=False`` and the backbone stays in inference mode even
            in ``model.train()``, as a Keras layer with ``trainable=False``
            does (its BatchNorm statistics stay put too).
        image_size: the side of the square input images the model expects.
    """

    kind = "image"
    loss_kind = "ce"
    official_name = None  # paddle.vision name whose ImageNet weights fit the backbone

    @staticmethod
    def official_key_map(key):
        """Map an official paddle.vision state_dict key to this model's key.

        The default suits backbones built by paddle.vision itself; models with
        renamed layers (the Keras-named VGG16s) set their own.
        """
        return "backbone." + key

    def __init__(self, backbone, head, freeze_backbone=False, image_size=DEFAULT_IMAGE_SIZE):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.image_size = image_size
        self.input_shape = (3, image_size, image_size)
        self.backbone_frozen = False
        self.set_backbone_frozen(freeze_backbone)

    def set_backbone_frozen(self, frozen=True):
        """Freeze (or unfreeze) every backbone parameter; returns self."""
        self.backbone_frozen = bool(frozen)
        # BatchNorm's moving mean/variance are never trainable: leave them be.
        moving = {id(stat) for stat in moving_statistics(self.backbone)}
        for param in self.backbone.parameters():
            if id(param) not in moving:
                param.trainable = not self.backbone_frozen
        self.train(self.training)
        return self

    def train(self, mode=True):
        # Paddle before 3.3 has train() without a mode: eval() is the other half.
        super().train() if mode else super().eval()
        if mode and self.backbone_frozen:
            # Not backbone.eval(): that would also flip Paddle's global tracer mode.
            self.backbone.training = False
            for layer in self.backbone.sublayers():
                layer.training = False
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


class PooledHead(nn.Layer):
    """Global average pooling + Dense(classes): Keras's ``pooling='avg'`` head."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2D(1)
        self.flatten = nn.Flatten()
        self.predictions = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        return self.predictions(self.flatten(self.gap(x)))


BATCH_NORMS = (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.SyncBatchNorm)


def moving_statistics(layer):
    """The BatchNorm moving mean/variance tensors inside ``layer``.

    Paddle stores them as non-trainable parameters named ``_mean`` and
    ``_variance`` (Keras's ``moving_mean`` / ``moving_variance``).
    """
    stats = []
    for sub in [layer, *layer.sublayers()]:
        if isinstance(sub, BATCH_NORMS):
            own = dict(sub.named_parameters(include_sublayers=False))
            stats += [own["_mean"], own["_variance"]]
    return stats


def check_image_size(image_size, minimum=32):
    """Return image_size as an int, or raise ModelError if it is unusable."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < minimum:
        raise ModelError(f"image_size must be an integer >= {minimum}; got {image_size!r}")
    return image_size


def vision_backbone(name):
    """A headless ``paddle.vision.models.<name>`` returning feature maps."""
    if name not in VISION_BACKBONES:
        raise ModelError(
            f"unknown paddle.vision backbone {name!r}; choices: {', '.join(sorted(VISION_BACKBONES))}"
        )
    factory = getattr(pvm, name)
    # paddle 3.3.1's DenseNet.forward fails with with_pool=False and no classifier
    # (UnboundLocalError); pooling to 1x1 there is harmless before our own GAP.
    with_pool = name.startswith("densenet")
    return factory(num_classes=0, with_pool=with_pool)


def build_vision_classifier(name, num_classes=10, image_size=DEFAULT_IMAGE_SIZE,
                            freeze_backbone=False):
    """paddle.vision backbone ``name`` + global average pooling + Dense(num_classes)."""
    image_size = check_image_size(image_size, 75 if name == "inception_v3" else 32)
    backbone = vision_backbone(name)
    head = PooledHead(VISION_BACKBONES[name], num_classes)
    model = ImageClassifier(backbone, head, freeze_backbone, image_size)
    model.official_name = name  # which ImageNet weights fit the backbone
    return model


def densenet121(num_classes=10, image_size=80, freeze_backbone=False):
    """DenseNet121 + GAP + Dense(classes): the gym-equipment article at 80x80."""
    return build_vision_classifier("densenet121", num_classes, image_size, freeze_backbone)


def mobilenet_v2(num_classes=10, image_size=DEFAULT_IMAGE_SIZE, freeze_backbone=False):
    """MobileNetV2 + GAP + Dense(classes): the light model."""
    return build_vision_classifier("mobilenet_v2", num_classes, image_size, freeze_backbone)
