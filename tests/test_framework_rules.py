"""Under ``--defaults keras`` and ``--defaults torch`` every optimizer takes that framework's steps.

The rules below are Keras 3's ``update_step`` (keras/src/optimizers/*.py) and PyTorch 2.13's
``_single_tensor_*`` functions (torch/optim/*.py) with their default settings, written out in
NumPy; the problem, the starting point and the tolerance are tests/test_optimizer_rules.py's
(one weight's gradient is ~1e-3, so an epsilon of the wrong size or in the wrong place shows).
Weight decay follows the run's convention in every framework (L2 on the gradient, decoupled for
AdamW, inside LAMB's trust ratio: course/engine/optimizers.py), so it is applied as there.

Where Paddle's classes cannot express a framework's rule (the list in optimizers.py's docstring),
``DEPARTURES`` gives the relative tolerance a rule is met to where it exceeds the common one, as
measured here, and the departure must really be there, so a fixed one is noticed.
"""
import numpy as np
import pytest

from course.engine.optimizers import OPTIMIZERS, available_optimizers
from tests.test_optimizer_rules import (BETA1, BETA2, LR, RTOL, START, by_paddle, moments, power32)
from tests import test_optimizer_rules as paddle_rules


def heavy_ball(mu, nesterov=False):
    # PyTorch: buf = mu * buf + g; Keras: v = mu * v - lr * g. The same while the rate is constant.
    def rule(w, g, state, t, wd):
        state["v"] = mu * state.get("v", 0.0) + g
        return w - LR * (g + mu * state["v"] if nesterov else state["v"])
    return rule


def adagrad(initial, eps, eps_inside):
    def rule(w, g, state, t, wd):
        state["sum"] = state.get("sum", initial) + g * g
        root = np.sqrt(state["sum"] + eps) if eps_inside else np.sqrt(state["sum"]) + eps
        return w - LR * g / root
    return rule


def rmsprop(rho, eps, eps_inside):
    def rule(w, g, state, t, wd):
        state["ms"] = rho * state.get("ms", 0.0) + (1 - rho) * g * g
        root = np.sqrt(state["ms"] + eps) if eps_inside else np.sqrt(state["ms"]) + eps
        return w - LR * g / root
    return rule


def adam(eps, epsilon_hat):
    # Keras adds epsilon to sqrt(v) before the bias correction ("epsilon hat"), PyTorch to sqrt(v_hat)
    def rule(w, g, state, t, wd):
        m, v = moments(state, g)
        c1, c2 = 1 - power32(BETA1, t), 1 - power32(BETA2, t)
        if epsilon_hat:
            return w - LR * np.sqrt(c2) / c1 * m / (np.sqrt(v) + eps)
        return w - LR / c1 * m / (np.sqrt(v) / np.sqrt(c2) + eps)
    return rule


def adamw(eps, epsilon_hat):
    step = adam(eps, epsilon_hat)
    return lambda w, g, state, t, wd: step(w - LR * wd * w, g, state, t, wd)


def adadelta(rho, eps):
    return lambda w, g, state, t, wd: paddle_rules.adadelta(w, g, state, t, wd, rho=rho, eps=eps)


def adamax(eps, where):
    def rule(w, g, state, t, wd):
        state["m"] = BETA1 * state.get("m", 0.0) + (1 - BETA1) * g
        if where == "on |g|":      # PyTorch: u = max(beta2 * u, |g| + eps)
            state["u"] = np.maximum(BETA2 * state.get("u", 0.0), np.abs(g) + eps)
            return w - LR / (1 - power32(BETA1, t)) * state["m"] / state["u"]
        state["u"] = np.maximum(BETA2 * state.get("u", 0.0), np.abs(g))     # Keras: eps after the max
        return w - LR / (1 - power32(BETA1, t)) * state["m"] / (state["u"] + eps)
    return rule


def nadam(eps, psi):
    def rule(w, g, state, t, wd):
        mu, mu_next = (BETA1 * (1 - 0.5 * 0.96 ** (s * psi)) for s in (t, t + 1))
        state["mu_product"] = state.get("mu_product", 1.0) * mu
        m, v = moments(state, g)
        m_hat = (mu_next * m / (1 - state["mu_product"] * mu_next)
                 + (1 - mu) * g / (1 - state["mu_product"]))
        return w - LR * m_hat / (np.sqrt(v / (1 - power32(BETA2, t))) + eps)
    return rule


def torch_radam(w, g, state, t, wd):
    # rho_t in double precision, as PyTorch computes it in Python floats
    m, v = moments(state, g)
    m_hat = m / (1 - power32(BETA1, t))
    rho_inf = 2 / (1 - BETA2) - 1
    rho_t = rho_inf - 2 * t * BETA2 ** t / (1 - BETA2 ** t)
    if rho_t <= 5:
        return w - LR * m_hat
    rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return w - LR * m_hat * rect * np.sqrt(1 - power32(BETA2, t)) / (np.sqrt(v) + 1e-8)


def keras_lamb(w, g, state, t, wd):
    # epsilon 1e-7, and the trust ratio scales every step (Paddle's: only with weight decay)
    m, v = moments(state, g)
    r = (m / (1 - power32(BETA1, t))) / (np.sqrt(v / (1 - power32(BETA2, t))) + 1e-7) + wd * w
    return w - LR * np.linalg.norm(w) / np.linalg.norm(r) * r


KERAS = {"sgd": paddle_rules.sgd, "momentum": heavy_ball(0.9), "nesterov": heavy_ball(0.9, True),
         "adagrad": adagrad(0.1, 1e-7, eps_inside=True), "rmsprop": rmsprop(0.9, 1e-7, eps_inside=True),
         "adam": adam(1e-7, epsilon_hat=True), "adamw": adamw(1e-7, epsilon_hat=True),
         "adadelta": adadelta(0.95, 1e-7), "adamax": adamax(1e-7, "after the max"),
         "nadam": nadam(1e-7, psi=1.0), "lamb": keras_lamb}
TORCH = {"sgd": paddle_rules.sgd, "momentum": heavy_ball(0.9), "nesterov": heavy_ball(0.9, True),
         "adagrad": adagrad(0.0, 1e-10, eps_inside=False), "rmsprop": rmsprop(0.99, 1e-8, eps_inside=False),
         "adam": adam(1e-8, epsilon_hat=False), "adamw": adamw(1e-8, epsilon_hat=False),
         "adadelta": adadelta(0.9, 1e-6), "adamax": adamax(1e-8, "on |g|"),
         "nadam": nadam(1e-8, psi=0.004), "radam": torch_radam}
RULES = {"keras": KERAS, "torch": TORCH}
# (framework, optimizer) -> the relative tolerance its rule is met to (optimizers.py says why)
# Keras's epsilon hat moves the 1e-3-gradient weight by 6e-4 relative in three steps. The other
# departures stay within RTOL here: Keras's and PyTorch's Adamax (|g| ~1e-3 outweighs epsilon),
# PyTorch's RMSProp (epsilon**2 inside the root: 7.5e-6), RAdam's float32 rho_t (1e-6).
DEPARTURES = {("keras", "adam"): 1e-3, ("keras", "adamw"): 1e-3}


CASES = [(framework, name) for framework in RULES for name in available_optimizers() if name in RULES[framework]]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("framework, name", CASES)
def test_steps_follow_the_frameworks_rule(framework, name, weight_decay):
    steps = 8 if name == "radam" else 3
    expected = paddle_rules.by_hand(name, weight_decay, steps, rules=RULES[framework])
    ours = by_paddle(name, weight_decay, steps, defaults=framework)
    rtol = DEPARTURES.get((framework, name), RTOL)
    np.testing.assert_allclose(ours, expected, rtol=rtol, err_msg=f"{framework} {name}")
    assert np.abs(expected - START).max() > 20 * rtol      # the steps dwarf the tolerance
    if (framework, name) in DEPARTURES and weight_decay == 0:   # the departure is still there
        assert not np.allclose(ours, expected, rtol=RTOL, atol=0), f"{framework} {name} now exact"


def test_every_optimizer_has_a_rule_where_its_framework_has_it():
    # the cases above cover the registry: a new optimizer needs its rules here too
    for framework, rules in RULES.items():
        have = {name for name, entry in OPTIMIZERS.items() if entry.available(framework)}
        assert have == set(rules), framework


def test_the_defaults_differ_where_the_frameworks_do():
    # Adam's 1e-3-curvature weight after three steps: epsilon 1e-8 (Paddle) vs Keras's epsilon hat
    paddle_w, keras_w = (by_paddle("adam", 0.0, 3, defaults=d) for d in ("paddle", "keras"))
    assert abs(paddle_w[3] - keras_w[3]) > 1e-5
    np.testing.assert_allclose(by_paddle("adam", 0.0, 3, defaults="torch"), paddle_w, rtol=0, atol=0)
