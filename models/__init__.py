"""Networks of the course and of the image-classification articles, by name.

    from models import build_model
    model = build_model("lenet")                          # MNIST, [B, 1, 28, 28]
    model = build_model("vgg16_transfer", num_classes=17)  # frozen VGG16, 336x336
    model = build_model("vision:resnet18", num_classes=5, image_size=64)

Every model returns logits and carries ``model.kind`` ('mnist' or 'image'),
``model.loss_kind`` ('ce', or 'mse' for the linear regression),
``model.input_shape`` (C, H, W) and ``model.model_name``. Image models also
have ``model.backbone`` and ``model.head``.
"""

import inspect
import warnings

warnings.filterwarnings("ignore", message="No ccache found")

from .errors import ModelError  # noqa: E402
from .mnist_nets import MNIST_INPUT_SHAPE, MNIST_MODELS  # noqa: E402
from .pretrained import load_pretrained  # noqa: E402
from .summary import count_parameters, format_summary, summarize  # noqa: E402
from .transfer import (  # noqa: E402
    VISION_BACKBONES,
    build_vision_classifier,
    densenet121,
    mobilenet_v2,
)
from .vgg import vgg16_gap, vgg16_keras, vgg16_official, vgg16_transfer  # noqa: E402

VISION_PREFIX = "vision:"

IMAGE_MODELS = {
    "vgg16_keras": vgg16_keras,
    "vgg16": vgg16_official,
    "vgg16_gap": vgg16_gap,
    "vgg16_transfer": vgg16_transfer,
    "densenet121": densenet121,
    "mobilenet_v2": mobilenet_v2,
}

# name -> builder(num_classes=..., **kwargs); 'vision:<backbone>' names are built on demand.
MODELS = {**MNIST_MODELS, **IMAGE_MODELS}


def list_models(include_vision=False):
    """Registered model names, sorted; with include_vision, every 'vision:<backbone>' too."""
    names = sorted(MODELS)
    if include_vision:
        names += [VISION_PREFIX + b for b in sorted(VISION_BACKBONES)]
    return names


def _builder(name):
    if name in MODELS:
        return MODELS[name]
    if isinstance(name, str) and name.startswith(VISION_PREFIX):
        backbone = name[len(VISION_PREFIX):]
        if backbone in VISION_BACKBONES:
            def build(num_classes=10, image_size=224, freeze_backbone=False):
                return build_vision_classifier(backbone, num_classes, image_size, freeze_backbone)
            return build
    raise ModelError(
        f"unknown model {name!r}; choices: {', '.join(sorted(MODELS))}, or "
        f"{VISION_PREFIX}<backbone> with backbone one of: {', '.join(sorted(VISION_BACKBONES))}"
    )


def is_mnist_model(name):
    """True for the course's MNIST networks, False for the image models."""
    _builder(name)  # unknown names raise
    return name in MNIST_MODELS


def model_kind(name):
    """'mnist' or 'image': which data pipeline feeds model ``name``."""
    return "mnist" if is_mnist_model(name) else "image"


def default_image_size(name):
    """The image side model ``name`` is built for (28 for MNIST nets)."""
    if is_mnist_model(name):
        return MNIST_INPUT_SHAPE[-1]
    return inspect.signature(_builder(name)).parameters["image_size"].default


def model_input_shape(name, image_size=None):
    """(C, H, W) of one input: (1, 28, 28) for MNIST nets, (3, S, S) otherwise.

    image_size None means the model's default (224; 336 for vgg16_transfer,
    80 for densenet121, as in their articles).
    """
    if is_mnist_model(name):
        return MNIST_INPUT_SHAPE
    size = default_image_size(name) if image_size is None else image_size
    return (3, size, size)


def build_model(name, num_classes=10, pretrained=None, **kwargs):
    """Build model ``name`` with ``num_classes`` outputs.

    Args:
        name: a key of MODELS (see list_models()) or 'vision:<backbone>'.
        num_classes: number of classes (ignored by 'linear', which outputs 1).
        pretrained: None, a path to a .pdparams file, or 'imagenet'
            (see models.pretrained.load_pretrained).
        **kwargs: model options, e.g. image_size=64, freeze_backbone=True;
            an option the model does not take is an error naming the valid ones.

    Raises:
        ModelError: unknown name, bad option or value, unusable weights.
    """
    builder = _builder(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ModelError(f"num_classes must be a positive integer; got {num_classes!r}")
    accepted = [p for p in inspect.signature(builder).parameters if p != "num_classes"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ModelError(f"model {name!r} does not take {', '.join(unknown)}; "
                         f"its options: {', '.join(accepted) or 'none'}")
    model = builder(num_classes=num_classes, **kwargs)
    model.model_name = name
    if "image_size" in kwargs and model.kind == "image":
        model.input_shape = (3, kwargs["image_size"], kwargs["image_size"])
    load_pretrained(model, pretrained)
    return model


__all__ = [
    "MODELS", "ModelError", "build_model", "list_models", "model_input_shape", "model_kind",
    "is_mnist_model", "default_image_size", "count_parameters", "summarize",
    "format_summary", "load_pretrained",
]
