"""models.layers.Linear (plain, or with [out, in] weights) and the checkpoint loader that reads both
layouts.

The layer must start where paddle.nn.Linear starts (same seed, same values), compute the same
numbers (bit for bit when plain, within float32 rounding when transposed), keep its parameter
settings, and weights saved in either layout must load into it; a checkpoint that does not fit a
model is refused in one line instead of Paddle's warning.
"""
import numpy as np
import paddle
import pytest

from course.engine.checkpoint import load_checkpoint, load_resume, save_checkpoint, save_weights
from course.engine.errors import ConfigError
from models import load_pretrained
from models.layers import Linear, adapt_linear_weights
from models.mnist_nets import LeNet, MLPRelu


class PaddleLayoutMLP(paddle.nn.Layer):
    """MLPRelu as it was written with paddle.nn.Linear (the course's own layers, [in, out])."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = (paddle.nn.Linear(784, 512), paddle.nn.Linear(512, 256),
                                        paddle.nn.Linear(256, 10))

    def forward(self, x):
        x = paddle.flatten(x, start_axis=1)
        return self.fc3(paddle.nn.functional.relu(self.fc2(paddle.nn.functional.relu(self.fc1(x)))))


def digits(n=32):
    return paddle.to_tensor(np.random.default_rng(0).random((n, 1, 28, 28), dtype="float32"))


def test_linear_starts_where_paddle_linear_starts_and_computes_the_same():
    attr = paddle.ParamAttr(learning_rate=0.5, regularizer=paddle.regularizer.L2Decay(0.01))
    paddle.seed(7)
    theirs = paddle.nn.Linear(784, 300, weight_attr=attr)
    paddle.seed(7)
    ours = Linear(784, 300, weight_attr=attr, transposed=True)
    assert ours.weight.shape == [300, 784]
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.numpy().T)
    np.testing.assert_array_equal(ours.bias.numpy(), theirs.bias.numpy())
    assert ours.weight.optimize_attr["learning_rate"] == 0.5     # the attribute stays with it
    assert ours.weight.regularizer is not None and not ours.weight.stop_gradient
    assert "in_features=784, out_features=300, dtype=float32, transposed" in repr(ours)

    x = paddle.flatten(digits(), start_axis=1)
    outs = []
    for layer in (ours, theirs):
        out = layer(x)
        (out * out).sum().backward()
        outs.append((out.numpy(), layer.weight.grad.numpy(), layer.bias.grad.numpy()))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[0][1], outs[1][1].T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(outs[0][2], outs[1][2], rtol=1e-4, atol=1e-4)


def test_a_plain_linear_is_paddle_linear_bit_for_bit():
    paddle.seed(3)
    theirs = paddle.nn.Linear(512, 256)
    paddle.seed(3)
    ours = Linear(512, 256)
    assert "in_features=512, out_features=256, dtype=float32)" in repr(ours)
    x = paddle.uniform([64, 512], min=-1.0, max=1.0)
    x.stop_gradient = False
    results = []
    for layer in (ours, theirs):
        out = layer(x)
        (out * out).sum().backward()
        results.append([t.numpy() for t in (out, x.grad, layer.weight.grad, layer.bias.grad)])
        x.clear_gradient()
    for mine, paddles in zip(*results):
        np.testing.assert_array_equal(mine, paddles)


def test_a_transposed_linear_gives_the_product_and_bias_bit_for_bit():
    layer = Linear(784, 512, transposed=True)
    layer.bias.set_value(paddle.uniform([512], min=-1.0, max=1.0))
    x = paddle.flatten(digits(), start_axis=1)
    plain = paddle.matmul(x, layer.weight, transpose_y=True) + layer.bias
    np.testing.assert_array_equal(layer(x).numpy(), plain.numpy())
    # a 3-D input gives the same rows
    np.testing.assert_array_equal(layer(x.reshape([4, 8, 784])).numpy().reshape(32, 512), plain.numpy())


def test_linear_without_bias():
    for transposed in (False, True):
        layer = Linear(6, 4, bias_attr=False, transposed=transposed)
        x = paddle.uniform([2, 6])
        weight = layer.weight.numpy().T if transposed else layer.weight.numpy()
        assert layer.bias is None
        np.testing.assert_allclose(layer(x).numpy(), x.numpy() @ weight, rtol=1e-5, atol=1e-6)


def test_mlp_relu_keeps_its_parameter_count_and_trains():
    paddle.seed(0)
    model = MLPRelu()
    assert sum(int(np.prod(p.shape)) for p in model.parameters()) == 784 * 512 + 512 + 512 * 256 + 256 + 2570
    x, y = digits(64), paddle.to_tensor(np.arange(64).reshape(-1, 1) % 10)
    optimizer = paddle.optimizer.SGD(0.1, parameters=model.parameters())
    losses = []
    for _ in range(30):   # the same 64 images: the loss must fall as the net memorises them
        loss = paddle.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_weights_saved_from_paddle_linear_layers_load_into_linear(tmp_path):
    paddle.seed(1)
    course_model = PaddleLayoutMLP()
    path = save_weights(tmp_path / "course", course_model)
    model = MLPRelu()
    assert load_checkpoint(path, model) == {}
    np.testing.assert_array_equal(model.fc1.weight.numpy(), course_model.fc1.weight.numpy().T)
    np.testing.assert_allclose(model(digits()).numpy(), course_model(digits()).numpy(), rtol=1e-5, atol=1e-5)
    # and a checkpoint of the model itself loads as it was saved
    save_checkpoint(tmp_path / "own", model)
    again = MLPRelu()
    load_checkpoint(tmp_path / "own", again)
    np.testing.assert_array_equal(again.fc2.weight.numpy(), model.fc2.weight.numpy())


def test_adapt_leaves_a_state_in_the_right_layout_alone():
    model = MLPRelu()
    state = model.state_dict()
    assert adapt_linear_weights(model, state) is state


def test_a_checkpoint_with_every_mlp_layer_transposed_loads(tmp_path):
    """Commits a97c254 to 5fcf178 kept every MLP layer [out, in]; such checkpoints still load."""
    paddle.seed(2)
    course_model = PaddleLayoutMLP()
    earlier = {k: (v.t() if k.endswith("weight") else v) for k, v in course_model.state_dict().items()}
    paddle.save({"model": earlier, "optimizer": {}, "lr": 0.1, "extra": {}}, str(tmp_path / "e.pdckpt"))
    model = MLPRelu()
    load_checkpoint(tmp_path / "e.pdckpt", model)
    assert model.fc2.weight.shape == [512, 256]
    np.testing.assert_allclose(model(digits()).numpy(), course_model(digits()).numpy(), rtol=1e-5, atol=1e-5)


def test_old_layout_optimizer_state_is_refused(tmp_path):
    course_model = PaddleLayoutMLP()
    optimizer = paddle.optimizer.Momentum(0.1, parameters=course_model.parameters())
    course_model(digits()).mean().backward()
    optimizer.step()   # the velocities exist now, shaped [in, out]
    path = save_checkpoint(tmp_path / "old", course_model, optimizer)
    model = MLPRelu()
    with pytest.raises(ConfigError, match=r"old\.pdckpt: its optimizer state is for weights in the other layout"):
        load_checkpoint(path, model, paddle.optimizer.Momentum(0.1, parameters=model.parameters()))
    load_checkpoint(path, model)    # the weights alone still load
    np.testing.assert_array_equal(model.fc1.weight.numpy(), course_model.fc1.weight.numpy().T)
    np.testing.assert_array_equal(model.fc3.weight.numpy(), course_model.fc3.weight.numpy())


def test_a_checkpoint_of_another_model_is_refused_in_one_line(tmp_path):
    path = save_weights(tmp_path / "lenet", LeNet())
    model = MLPRelu()
    before = model.fc1.weight.numpy().copy()
    with pytest.raises(ConfigError, match=r"lenet\.pdparams does not fit this MLPRelu: fc1\.weight missing"):
        load_checkpoint(path, model)
    np.testing.assert_array_equal(model.fc1.weight.numpy(), before)   # nothing half-loaded


def test_a_resume_file_with_other_shapes_is_refused(tmp_path):
    class Holder:
        model = MLPRelu()

    state = {"model": PaddleLayoutMLP().state_dict(), "optimizer": {}, "lr": 0.1, "extra": {}}
    paddle.save(state, str(tmp_path / "last.pdckpt"))
    with pytest.raises(ConfigError, match=r"fc1\.weight is \[784, 512\], the model's \[512, 784\]"):
        load_resume(tmp_path / "last.pdckpt", Holder(), None)


def test_pretrained_weights_from_paddle_linear_layers_load_too(tmp_path):
    course_model = PaddleLayoutMLP()
    path = save_weights(tmp_path / "course", course_model)
    model = MLPRelu()
    report = load_pretrained(model, str(path))
    assert report["loaded"] == report["total"] == 6 and report["skipped"] == []
    np.testing.assert_allclose(model(digits()).numpy(), course_model(digits()).numpy(), rtol=1e-5, atol=1e-5)
