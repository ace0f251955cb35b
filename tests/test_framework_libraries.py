"""``--defaults keras`` and ``--defaults torch`` against the libraries themselves, where installed.

A few steps of each optimizer on tests/test_optimizer_rules.py's quadratic, taken by Keras 3 (its
torch backend, else numpy) and by PyTorch with their default settings, against the registry's
Paddle optimizer built with those frameworks' defaults. Neither library is a dependency of the
project: each test skips when its library cannot be imported. To run them, install PyTorch (and
Keras) into a venv of their own and put the project's venv behind it, e.g.
``KERAS_BACKEND=torch PYTHONPATH=/work/venv/lib/python3.11/site-packages /work/venv-torch/bin/python
-m pytest -m slow tests/test_framework_libraries.py``.
"""
import os

import numpy as np
import pytest

from tests.test_framework_rules import DEPARTURES, RULES
from tests.test_optimizer_rules import CURVATURE, LR, RTOL, START, TARGET, by_paddle

pytestmark = pytest.mark.slow


def steps_for(name):
    return 8 if name == "radam" else 3


def torch_optimizers(torch):
    optim = torch.optim
    return {"sgd": lambda p: optim.SGD(p, lr=LR), "momentum": lambda p: optim.SGD(p, lr=LR, momentum=0.9),
            "nesterov": lambda p: optim.SGD(p, lr=LR, momentum=0.9, nesterov=True),
            "adagrad": lambda p: optim.Adagrad(p, lr=LR), "rmsprop": lambda p: optim.RMSprop(p, lr=LR),
            "adam": lambda p: optim.Adam(p, lr=LR), "adamw": lambda p: optim.AdamW(p, lr=LR, weight_decay=0.0),
            "adadelta": lambda p: optim.Adadelta(p, lr=LR), "adamax": lambda p: optim.Adamax(p, lr=LR),
            "nadam": lambda p: optim.NAdam(p, lr=LR), "radam": lambda p: optim.RAdam(p, lr=LR)}


def keras_optimizers(keras):
    opt = keras.optimizers
    return {"sgd": lambda: opt.SGD(LR), "momentum": lambda: opt.SGD(LR, momentum=0.9),
            "nesterov": lambda: opt.SGD(LR, momentum=0.9, nesterov=True),
            "adagrad": lambda: opt.Adagrad(LR), "rmsprop": lambda: opt.RMSprop(LR), "adam": lambda: opt.Adam(LR),
            "adamw": lambda: opt.AdamW(LR, weight_decay=0.0), "adadelta": lambda: opt.Adadelta(LR),
            "adamax": lambda: opt.Adamax(LR), "nadam": lambda: opt.Nadam(LR), "lamb": lambda: opt.Lamb(LR)}


def by_torch(torch, name):
    w = torch.tensor(START, dtype=torch.float32, requires_grad=True)
    optimizer = torch_optimizers(torch)[name]([w])
    for _ in range(steps_for(name)):
        w.grad = torch.tensor(CURVATURE * (w.detach().numpy() - TARGET), dtype=torch.float32)
        optimizer.step()
    return w.detach().numpy().astype("float64")


def by_keras(keras, name):
    w = keras.Variable(START.astype("float32"))
    optimizer = keras_optimizers(keras)[name]()
    for _ in range(steps_for(name)):
        grad = CURVATURE * (keras.ops.convert_to_numpy(w) - TARGET)
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad.astype("float32")), w)])
    return keras.ops.convert_to_numpy(w).astype("float64")


@pytest.mark.parametrize("name", sorted(RULES["torch"]))
def test_torch_defaults_take_pytorchs_steps(name):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(by_paddle(name, 0.0, steps_for(name), defaults="torch"), by_torch(torch, name),
                               rtol=DEPARTURES.get(("torch", name), RTOL), err_msg=name)


@pytest.mark.parametrize("name", sorted(RULES["keras"]))
def test_keras_defaults_take_keras_steps(name):
    if "keras" not in __import__("sys").modules:
        os.environ.setdefault("KERAS_BACKEND", "torch" if _importable("torch") else "numpy")
    keras = pytest.importorskip("keras")
    np.testing.assert_allclose(by_paddle(name, 0.0, steps_for(name), defaults="keras"), by_keras(keras, name),
                               rtol=DEPARTURES.get(("keras", name), RTOL), err_msg=name)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
