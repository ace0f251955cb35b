"""Tests for the models package: shapes, parameter counts, freezing, FLOPs, weights.

All on the CPU with tiny inputs; the 134M-parameter VGG16 is built under
paddle.LazyGuard, so counting its parameters allocates nothing.
"""

import numpy as np
import paddle
import paddle.vision.models as pvm
import pytest

import models
from models import ModelError, build_model, count_parameters, model_input_shape
from models.pretrained import load_pretrained
from models.summary import format_summary, summarize

# Hand-computed counts: weights + biases of each layer.
MNIST_COUNTS = {
    "linear": 784 * 1 + 1,
    "mlp_sigmoid": (784 * 10 + 10) + (10 * 10 + 10) + (10 * 10 + 10),
    "mlp_relu": (784 * 512 + 512) + (512 * 256 + 256) + (256 * 10 + 10),
    "mlp_keras": (784 * 784 + 784) + (784 * 10 + 10),
    "lenet": (1 * 20 * 25 + 20) + (20 * 20 * 25 + 20) + (980 * 10 + 10),
}
VGG16_CONV_PARAMS = 14_714_688


@pytest.fixture(autouse=True)
def _seed():
    paddle.seed(0)
    np.random.seed(0)


def _images(name, batch=2, image_size=None):
    return paddle.randn([batch, *model_input_shape(name, image_size)])


@pytest.mark.parametrize("name", sorted(MNIST_COUNTS))
def test_mnist_nets_shape_count_and_loss_kind(name):
    model = build_model(name)
    out = model(_images(name, batch=3))
    assert out.shape == ([3, 1] if name == "linear" else [3, 10])
    counts = count_parameters(model)
    assert counts == {"total": MNIST_COUNTS[name], "trainable": MNIST_COUNTS[name], "non_trainable": 0}
    assert model.loss_kind == ("mse" if name == "linear" else "ce")
    assert model.kind == "mnist" and models.is_mnist_model(name)
    assert model_input_shape(name) == (1, 28, 28) == model.input_shape


def test_lenet_has_the_course_count_of_20350_parameters():
    # conv 1->20 5x5, conv 20->20 5x5, fc 20*7*7 -> 10: weights + biases, from the layer shapes
    model = build_model("lenet")
    per_layer = {name: count_parameters(getattr(model, name))["total"] for name in ("conv1", "conv2", "fc")}
    assert per_layer == {"conv1": 1 * 20 * 5 * 5 + 20, "conv2": 20 * 20 * 5 * 5 + 20, "fc": 20 * 7 * 7 * 10 + 10}
    assert count_parameters(model) == {"total": 20_350, "trainable": 20_350, "non_trainable": 0}


def test_vgg16_keras_has_keras_names_and_article_parameter_count():
    with paddle.LazyGuard():  # shapes only: no 537 MB allocation
        model = build_model("vgg16_keras", num_classes=4, image_size=224)
    assert count_parameters(model)["total"] == 134_276_932
    names = dict(model.named_sublayers())
    for layer in ("backbone.block1_conv1", "backbone.block3_conv3", "backbone.block5_pool",
                  "head.flatten", "head.fc1", "head.fc2", "head.predictions"):
        assert layer in names
    assert not any(isinstance(m, paddle.nn.Dropout) for m in model.sublayers())
    assert model.head.fc1.weight.shape == [512 * 7 * 7, 4096]
    assert model_input_shape("vgg16_keras") == (3, 224, 224)


def test_official_vgg16_differs_in_head_but_not_in_count():
    with paddle.LazyGuard():
        model = build_model("vgg16", num_classes=4)
    assert count_parameters(model)["total"] == 134_276_932
    assert sum(isinstance(m, paddle.nn.Dropout) for m in model.head.sublayers()) == 2


def test_vgg16_transfer_counts_match_keras_summary():
    model = build_model("vgg16_transfer", num_classes=17)  # 336x336 by default
    assert model.input_shape == (3, 336, 336)
    assert count_parameters(model) == {
        "total": 14_805_485, "trainable": 90_457, "non_trainable": 14_715_028}
    assert all(p.stop_gradient for p in model.backbone.parameters())
    assert count_parameters(model.backbone)["non_trainable"] == VGG16_CONV_PARAMS


def test_vgg16_gap_is_the_light_model():
    model = build_model("vgg16_gap", num_classes=4, image_size=32)
    assert count_parameters(model)["total"] == VGG16_CONV_PARAMS + 512 * 4 + 4
    assert model(_images("vgg16_gap", image_size=32)).shape == [2, 4]


def test_frozen_backbone_stays_put_while_head_learns():
    model = build_model("vgg16_transfer", num_classes=17, image_size=32)
    model.train()
    assert not model.backbone.block1_conv1.training and model.head.bn.training
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters())
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    images, labels = paddle.randn([4, 3, 32, 32]), paddle.randint(0, 17, [4])
    for _ in range(2):
        loss = paddle.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
    after = model.state_dict()
    for key in ("backbone.block1_conv1.weight", "backbone.block5_conv3.bias"):
        np.testing.assert_array_equal(after[key].numpy(), before[key])
    for key in ("head.fc.weight", "head.bn.weight", "head.predictions.weight",
                "head.bn._mean", "head.bn._variance"):  # BN moving stats update too
        assert not np.allclose(after[key].numpy(), before[key]), key
    assert model(images).shape == [4, 17]


def test_unfrozen_backbone_does_learn():
    model = build_model("vgg16_transfer", num_classes=3, image_size=32, freeze_backbone=False)
    before = model.backbone.block1_conv1.weight.numpy().copy()
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters())
    loss = paddle.nn.functional.cross_entropy(model(paddle.randn([4, 3, 32, 32])),
                                              paddle.randint(0, 3, [4]))
    loss.backward()
    opt.step()
    assert not np.allclose(model.backbone.block1_conv1.weight.numpy(), before)
    assert count_parameters(model)["non_trainable"] == 340  # BN moving mean + variance


@pytest.mark.parametrize("name", ["densenet121", "mobilenet_v2", "vision:resnet18"])
def test_vision_backbones_give_logits(name):
    model = build_model(name, num_classes=5, image_size=32)
    model.eval()
    assert model(_images(name, image_size=32)).shape == [2, 5]
    assert isinstance(model.head.predictions, paddle.nn.Linear)
    assert model.kind == "image" and not models.is_mnist_model(name)


def test_densenet121_defaults_to_the_articles_80px_and_freezes_on_request():
    assert model_input_shape("densenet121") == (3, 80, 80)
    model = build_model("densenet121", num_classes=5, freeze_backbone=True)
    counts = count_parameters(model)
    assert counts["trainable"] == 1024 * 5 + 5
    model.train()
    assert not any(m.training for m in model.backbone.sublayers())


def test_unknown_names_and_options_are_clear_errors():
    with pytest.raises(ModelError, match=r"unknown model 'resnet'.*lenet.*vgg16_transfer.*vision:"):
        build_model("resnet")
    with pytest.raises(ModelError, match=r"unknown model 'vision:nope'.*resnet18"):
        build_model("vision:nope")
    with pytest.raises(ModelError, match=r"does not take dropout_rate.*image_size"):
        build_model("vgg16_gap", dropout_rate=0.3)
    with pytest.raises(ModelError, match="num_classes"):
        build_model("lenet", num_classes=0)
    with pytest.raises(ModelError, match="image_size"):
        build_model("vgg16_keras", image_size=8)
    assert "lenet" in models.list_models()
    assert "vision:resnet18" in models.list_models(include_vision=True)


def test_lenet_flops_match_hand_count_and_leave_model_clean():
    model = build_model("lenet")
    keys = list(model.state_dict())
    summary = summarize(model, (1, 28, 28))
    # paddle.flops counts multiply-accumulates: conv = out_elems * (in_ch*k*k + bias),
    # linear = in_features * out_elems; ReLU and max-pooling count zero.
    conv1 = 20 * 28 * 28 * (1 * 5 * 5 + 1)
    conv2 = 20 * 14 * 14 * (20 * 5 * 5 + 1)
    fc = 980 * 10
    assert summary["flops"] == conv1 + conv2 + fc == 2_381_400
    assert summary["total"] == 20_350
    assert list(model.state_dict()) == keys
    assert model.training
    # No counter or hook is left behind: a second count is the same, a forward pass adds nothing.
    assert summarize(model, (1, 28, 28))["flops"] == 2_381_400
    model(paddle.zeros([1, 1, 28, 28]))
    assert not any(hasattr(layer, "total_ops") for layer in model.sublayers(include_self=True))
    text = format_summary(summary, "lenet", (1, 28, 28))
    assert "20,350 parameters" in text and "2.38M FLOPs" in text


def _save(state, path):
    paddle.save(state, str(path))
    return path


def test_official_vgg16_weights_map_onto_keras_names(tmp_path):
    official = pvm.vgg16(num_classes=0, with_pool=False)  # convolutions only: fast
    path = _save(official.state_dict(), tmp_path / "vgg16.pdparams")
    model = build_model("vgg16_transfer", num_classes=17, image_size=32)
    report = load_pretrained(model, str(path))
    assert report["loaded"] == 26 and report["skipped"] == []
    np.testing.assert_array_equal(model.backbone.block1_conv1.weight.numpy(),
                                  official.features[0].weight.numpy())
    np.testing.assert_array_equal(model.backbone.block5_conv3.bias.numpy(),
                                  official.features[28].bias.numpy())
    assert model.backbone.block1_conv1.weight.stop_gradient  # still frozen


def test_imagenet_spec_uses_the_paddle_cache_or_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("models.pretrained._reachable", lambda url, timeout=5.0: False)
    expected = tmp_path / ".cache/paddle/hapi/weights/mobilenet_v2_x1.0.pdparams"
    model = build_model("mobilenet_v2", num_classes=5, image_size=32)
    with pytest.raises(ModelError) as err:
        load_pretrained(model, "imagenet")
    message = str(err.value)
    assert "no ImageNet weights" in message and str(expected) in message
    assert "--pretrained PATH" in message

    official = pvm.mobilenet_v2(num_classes=1000)  # ImageNet-shaped file, 1000-class head
    expected.parent.mkdir(parents=True)
    _save(official.state_dict(), expected)
    report = load_pretrained(model, "imagenet", allow_download=False)
    assert report["path"] == str(expected)
    key = "features.0.0.weight"
    np.testing.assert_array_equal(model.backbone.state_dict()[key].numpy(),
                                  official.state_dict()[key].numpy())
    with pytest.raises(ModelError, match="no ImageNet weights"):
        load_pretrained(build_model("lenet"), "imagenet")


def test_own_checkpoints_round_trip_and_bad_files_fail_clearly(tmp_path):
    lenet = build_model("lenet")
    path = _save(lenet.state_dict(), tmp_path / "lenet.pdparams")
    fresh = build_model("lenet")
    assert load_pretrained(fresh, str(path))["loaded"] == 6
    np.testing.assert_array_equal(fresh.fc.weight.numpy(), lenet.fc.weight.numpy())
    assert load_pretrained(fresh, None) is None

    with pytest.raises(ModelError, match="matched 0 of 6"):
        load_pretrained(build_model("mlp_relu"), str(path))
    with pytest.raises(ModelError, match="does not exist"):
        load_pretrained(fresh, str(tmp_path / "missing.pdparams"))
    corrupt = tmp_path / "corrupt.pdparams"
    corrupt.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot read"):
        load_pretrained(fresh, str(corrupt))


def test_head_with_other_class_count_is_skipped_not_loaded(tmp_path):
    source = build_model("mobilenet_v2", num_classes=4, image_size=32)
    path = _save(source.state_dict(), tmp_path / "mnv2.pdparams")
    target = build_model("mobilenet_v2", num_classes=3, image_size=32, pretrained=str(path))
    np.testing.assert_array_equal(target.backbone.features[0][0].weight.numpy(),
                                  source.backbone.features[0][0].weight.numpy())
    report = load_pretrained(target, str(path))
    assert sorted(report["skipped"]) == ["head.predictions.bias", "head.predictions.weight"]
