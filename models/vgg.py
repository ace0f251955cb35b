"""VGG16 four ways: written out with Keras's layer names, official, light, frozen transfer.

The coffee-bean article writes VGG16 out layer by layer (``block1_conv1`` ...
``predictions``; 134,276,932 parameters for 4 classes at 224x224) and sets
two goals: compare with the official model, and find a lighter one that keeps
the accuracy. The film-star article freezes Keras's ImageNet VGG16 (with
``pooling='avg'``) and trains a Dense(170) + BatchNorm + Dropout(0.5) head on
17 classes at 336x336. All four share the :class:`ImageClassifier` shape:
``model.backbone`` (convolutions) and ``model.head``.
"""

import paddle
import paddle.vision.models as pvm
from paddle import nn

from .transfer import ImageClassifier, PooledHead, check_image_size

# (block, number of 3x3 convs, channels) for VGG16, configuration "D".
VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))

# Keras's BatchNormalization defaults; paddle's are momentum 0.9, epsilon 1e-5.
KERAS_BN_MOMENTUM = 0.99
KERAS_BN_EPSILON = 1e-3


def keras_conv_names():
    """['block1_conv1', 'block1_conv2', 'block2_conv1', ..., 'block5_conv3']."""
    return [f"block{b}_conv{i}" for b, convs, _ in VGG16_BLOCKS for i in range(1, convs + 1)]


class KerasVGG16Backbone(nn.Layer):
    """VGG16's 13 convolutions and 5 poolings, named as in Keras (``block1_conv1`` ...).

    3x3 convolutions with 'same' padding and ReLU, 2x2 max-pooling with stride
    2 after each block: [B, 3, S, S] -> [B, 512, S//32, S//32]. 14,714,688
    parameters, whatever the image size.
    """

    out_channels = 512

    def __init__(self):
        super().__init__()
        self.layer_names = []  # forward order, Keras's names
        in_channels = 3
        for block, convs, channels in VGG16_BLOCKS:
            for i in range(1, convs + 1):
                name = f"block{block}_conv{i}"
                self.add_sublayer(name, nn.Conv2D(in_channels, channels, 3, padding=1))
                self.layer_names.append(name)
                in_channels = channels
            name = f"block{block}_pool"
            self.add_sublayer(name, nn.MaxPool2D(kernel_size=2, stride=2))
            self.layer_names.append(name)

    def forward(self, x):
        for name in self.layer_names:
            layer = getattr(self, name)
            x = layer(x)
            if isinstance(layer, nn.Conv2D):
                x = nn.functional.relu(x)
        return x


class KerasVGG16Top(nn.Layer):
    """Keras's VGG16 top: flatten, fc1 (4096, ReLU), fc2 (4096, ReLU), predictions.

    Like the article's Keras code, no dropout; ``predictions`` returns logits.
    """

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(in_features, 4096)
        self.fc2 = nn.Linear(4096, 4096)
        self.predictions = nn.Linear(4096, num_classes)

    def forward(self, x):
        x = nn.functional.relu(self.fc1(self.flatten(x)))
        x = nn.functional.relu(self.fc2(x))
        return self.predictions(x)


class TransferHead(nn.Layer):
    """The film-star article's head: GAP, Dense(170, ReLU), BatchNorm, Dropout(0.5), Dense.

    BatchNorm keeps Keras's momentum (0.99) and epsilon (1e-3) so the port
    behaves like the original; the final softmax lives in the loss.
    """

    def __init__(self, in_channels, num_classes, hidden=170, dropout=0.5):
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2D(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(in_channels, hidden)
        self.bn = nn.BatchNorm1D(hidden, momentum=KERAS_BN_MOMENTUM, epsilon=KERAS_BN_EPSILON)
        self.dropout = nn.Dropout(dropout)
        self.predictions = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = self.flatten(self.gap(x))
        x = self.dropout(self.bn(nn.functional.relu(self.fc(x))))
        return self.predictions(x)


class OfficialVGGHead(nn.Layer):
    """paddle.vision VGG's top: adaptive avg pool to 7x7, then fc-ReLU-Dropout x2, fc."""

    def __init__(self, avgpool, classifier):
        super().__init__()
        self.avgpool = avgpool
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(paddle.flatten(self.avgpool(x), start_axis=1))


# Where paddle.vision vgg16's weights go in the Keras-named models: features.N
# are the convolutions in order (the ReLUs and pools between them hold none).
_OFFICIAL_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_OFFICIAL_TO_KERAS = {
    **{f"features.{i}": f"backbone.{n}" for i, n in zip(_OFFICIAL_CONV_INDICES, keras_conv_names())},
    "classifier.0": "head.fc1",
    "classifier.3": "head.fc2",
    "classifier.6": "head.predictions",
}


def keras_key_from_official(key):
    """Map a paddle.vision vgg16 state_dict key to the Keras-named model's key (or None)."""
    layer, _, attr = key.rpartition(".")
    target = _OFFICIAL_TO_KERAS.get(layer)
    return f"{target}.{attr}" if target else None


def official_vgg_key(key):
    """Map a paddle.vision vgg16 state_dict key to the wrapped official model's key."""
    if key.startswith("features."):
        return "backbone." + key[len("features."):]
    if key.startswith("classifier."):
        return "head." + key
    return None


def _keras_vgg_model(head, freeze_backbone, image_size):
    model = ImageClassifier(KerasVGG16Backbone(), head, freeze_backbone, image_size)
    model.official_name = "vgg16"
    model.official_key_map = keras_key_from_official
    return model


def vgg16_keras(num_classes=10, image_size=224, freeze_backbone=False):
    """VGG16 written out as in the coffee-bean article (Keras names, no dropout).

    fc1's input is 512 * (image_size // 32) ** 2, so the parameter count
    depends on image_size: 134,276,932 for 4 classes at 224x224.
    """
    image_size = check_image_size(image_size)
    head = KerasVGG16Top(512 * (image_size // 32) ** 2, num_classes)
    return _keras_vgg_model(head, freeze_backbone, image_size)


def vgg16_gap(num_classes=10, image_size=224, freeze_backbone=False):
    """The lighter VGG16: the same convolutions + global average pooling + Dense(classes).

    Drops fc1/fc2 (about 119M of the 134M parameters) for the coffee-bean
    challenge of a smaller model that keeps the accuracy.
    """
    image_size = check_image_size(image_size)
    head = PooledHead(KerasVGG16Backbone.out_channels, num_classes)
    return _keras_vgg_model(head, freeze_backbone, image_size)


def vgg16_transfer(num_classes=10, image_size=336, freeze_backbone=True, hidden=170, dropout=0.5):
    """The film-star article's frozen VGG16 transfer model (default 336x336).

    Frozen Keras-named VGG16 convolutions, then GAP, Dense(170, ReLU),
    BatchNorm, Dropout(0.5), Dense(classes). For 17 classes: 14,805,485
    parameters, 90,457 trainable, 14,715,028 non-trainable (Keras counts
    BatchNorm's moving mean and variance as non-trainable).
    """
    image_size = check_image_size(image_size)
    head = TransferHead(KerasVGG16Backbone.out_channels, num_classes, hidden, dropout)
    return _keras_vgg_model(head, freeze_backbone, image_size)


def vgg16_official(num_classes=10, image_size=224, freeze_backbone=False):
    """``paddle.vision.models.vgg16(num_classes=...)``, "the official VGG16".

    Its head differs from Keras's: adaptive average pooling to 7x7 (so any
    image size gives fc1 25,088 inputs) and Dropout after fc1 and fc2. Its
    parameter count therefore does not depend on image_size (134,276,932 for
    4 classes, the same as vgg16_keras at 224x224).
    """
    image_size = check_image_size(image_size)
    official = pvm.vgg16(num_classes=num_classes)
    head = OfficialVGGHead(official.avgpool, official.classifier)
    model = ImageClassifier(official.features, head, freeze_backbone, image_size)
    model.official_name = "vgg16"
    model.official_key_map = official_vgg_key
    return model
