"""The course's MNIST networks, from linear regression to the LeNet-style CNN.

Every network takes images shaped [B, 1, 28, 28] float32 (the MLPs flatten
inside, so one data pipeline feeds them all) and returns logits, except
``linear``, the course's first model, which regresses the label value and is
trained with MSE: its ``loss_kind`` is ``'mse'``, every other one's ``'ce'``.
"""

import paddle
import paddle.nn.functional as F
from paddle import nn

from .errors import ModelError

MNIST_INPUT_SHAPE = (1, 28, 28)
_PIXELS = 28 * 28


class MnistNet(nn.Layer):
    """Base class: marks a network as an MNIST net and says how to train it."""

    kind = "mnist"  # 'mnist' or 'image': which data pipeline feeds the model
    loss_kind = "ce"  # 'ce' (logits + cross-entropy) or 'mse' (regression)
    input_shape = MNIST_INPUT_SHAPE


class LinearRegression(MnistNet):
    """784 -> 1 linear regression on the pixels (course chapter "手写数字识别之线性回归").

    The course's starting point: the digit is predicted as a number, so the
    output is [B, 1] and the loss is the mean squared error against the label.
    """

    loss_kind = "mse"

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(_PIXELS, 1)

    def forward(self, x):
        return self.fc(paddle.flatten(x, start_axis=1))


class MLPSigmoid(MnistNet):
    """784 -> 10 -> 10 -> 10 with sigmoid hidden layers (the course's first MLP)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.fc1 = nn.Linear(_PIXELS, 10)
        self.fc2 = nn.Linear(10, 10)
        self.fc3 = nn.Linear(10, num_classes)

    def forward(self, x):
        x = paddle.flatten(x, start_axis=1)
        x = F.sigmoid(self.fc1(x))
        x = F.sigmoid(self.fc2(x))
        return self.fc3(x)


class MLP500(MnistNet):
    """784 -> 500 -> 10, one hidden layer (the course's 单层前馈神经网络, 网络结构 chapter).

    ``activation`` is 'sigmoid' or 'relu': the course's README compares the two at lr 0.1.
    """

    def __init__(self, num_classes=10, activation="sigmoid"):
        super().__init__()
        self.fc1 = nn.Linear(_PIXELS, 500)
        self.fc2 = nn.Linear(500, num_classes)
        self.activation = getattr(F, activation)

    def forward(self, x):
        return self.fc2(self.activation(self.fc1(paddle.flatten(x, start_axis=1))))


class MLPRelu(MnistNet):
    """784 -> 512 -> 256 -> 10 with ReLU hidden layers (the course's 多层前馈神经网络)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.fc1 = nn.Linear(_PIXELS, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, num_classes)

    def forward(self, x):
        x = paddle.flatten(x, start_axis=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MLPKeras(MnistNet):
    """The Keras article's baseline MLP: 784 -> 784 ReLU, Dropout(0.5), -> 10.

    Keras initialises both Dense layers with ``kernel_initializer='normal'``
    (N(0, 0.05)); we keep that so learning curves start where the article's do.
    """

    def __init__(self, num_classes=10):
        super().__init__()
        normal = paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, 0.05))
        self.fc1 = nn.Linear(_PIXELS, _PIXELS, weight_attr=normal)
        self.dropout = nn.Dropout(0.5)
        normal = paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, 0.05))
        self.fc2 = nn.Linear(_PIXELS, num_classes, weight_attr=normal)

    def forward(self, x):
        x = paddle.flatten(x, start_axis=1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


class LeNet(MnistNet):
    """The course's LeNet-style CNN (chapter "手写数字识别之优化算法"), as its notebook writes it.

    conv(1->20, 5x5, pad 2) + ReLU, maxpool 2x2, conv(20->20, 5x5, pad 2) +
    ReLU, maxpool 2x2, then one fully connected layer 980 -> 10:
    520 + 10,020 + 9,810 = 20,350 parameters. The course's fc had a softmax;
    here it returns logits and the softmax lives in the cross-entropy loss.
    (The engine runs it faster on a CPU with course.speed, same parameters.)
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2D(1, 20, kernel_size=5, stride=1, padding=2)
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2D(20, 20, kernel_size=5, stride=1, padding=2)
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.fc = nn.Linear(20 * 7 * 7, num_classes)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        return self.fc(paddle.flatten(x, start_axis=1))


def _mnist_builder(cls, takes_classes=True, **fixed):
    """Wrap a class as a registry builder that rejects non-MNIST arguments."""

    def build(num_classes=10, image_size=None):
        if image_size not in (None, 28):
            raise ModelError(
                f"MNIST model {cls.__name__} takes 28x28 images; got image_size={image_size!r}"
            )
        if not takes_classes:
            return cls()
        return cls(num_classes=num_classes, **fixed)

    build.__doc__ = cls.__doc__
    return build


MNIST_MODELS = {
    "linear": _mnist_builder(LinearRegression, takes_classes=False),
    "mlp_sigmoid": _mnist_builder(MLPSigmoid),
    "mlp500_sigmoid": _mnist_builder(MLP500, activation="sigmoid"),
    "mlp500_relu": _mnist_builder(MLP500, activation="relu"),
    "mlp_relu": _mnist_builder(MLPRelu),
    "mlp_keras": _mnist_builder(MLPKeras),
    "lenet": _mnist_builder(LeNet),
}
