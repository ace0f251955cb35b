"""Every registered optimizer takes exactly the steps its update rule gives, computed by hand.

Three steps (eight for RAdam, whose rectified branch begins at step 6) on a fixed quadratic
``0.5 * sum(a * (w - c)**2)``, whose gradient ``a * (w - c)`` we know, compared with the same
steps worked out in NumPy from Paddle 3.3.1's documented rules and defaults (the kernels in
``paddle/phi/kernels``). One curvature is 1e-3, so that weight's gradient is ~1e-3 and an
epsilon in the wrong place, or a missing one, moves it by far more than the tolerance. A wrong
mapping in the registry (heavy-ball for 'nesterov', another rho than Paddle's 0.95 for 'rmsprop', AdamW's
default decay 0.01 when none is asked for, the weight decay dropped) fails here.

Weight decay is L2 added to the gradient (``g + wd * w``) for all but AdamW, whose decay is
decoupled (``w -= lr * wd * w`` before the Adam step), and LAMB, whose decay enters the trust
ratio. Paddle stores beta1, beta2 and their powers ``beta**t`` in float32; ``1 - 0.999**t`` then
keeps only about four digits, which moves Adam's step by 1e-5 relative, so the reference uses
the same float32 numbers (``f32``, ``power32``).
"""
import numpy as np
import paddle
import pytest

from course.engine.optimizers import available_optimizers, build_optimizer

CURVATURE = np.array([1.0, 0.5, 2.0, 1e-3, 3.0, 0.2])
TARGET = np.array([0.3, -1.0, 0.5, 2.0, -0.2, 1.5])
START = np.array([1.0, 0.5, -0.8, 1.2, 0.4, -0.6])
LR = 0.1
RTOL = 1e-5


def f32(x: float) -> float:
    """``x`` as Paddle holds a float32 hyperparameter."""
    return float(np.float32(x))


def power32(beta: float, t: int) -> float:
    """``beta**t`` as Paddle's float32 accumulator holds it after t steps (one product a step)."""
    b = acc = np.float32(beta)
    for _ in range(t - 1):
        acc = np.float32(acc * b)
    return float(acc)


BETA1, BETA2 = f32(0.9), f32(0.999)     # Adam-family defaults


def moments(state, g, beta1=BETA1, beta2=BETA2):
    """Adam's first and second moment estimates after gradient ``g``."""
    state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    return state["m"], state["v"]


# --- the rules: (w, g, state, t, weight_decay) -> new w; t counts steps from 1 ------------------
def sgd(w, g, state, t, wd):
    return w - LR * g


def momentum(w, g, state, t, wd, nesterov=False):
    # velocity = mu * velocity + g; heavy ball steps along velocity, Nesterov along g + mu * velocity
    state["v"] = 0.9 * state.get("v", 0.0) + g
    return w - LR * (g + 0.9 * state["v"] if nesterov else state["v"])


def nesterov(w, g, state, t, wd):
    return momentum(w, g, state, t, wd, nesterov=True)


def adagrad(w, g, state, t, wd):
    # accumulator starts at 0 (initial_accumulator_value); epsilon 1e-6 outside the root
    state["sum"] = state.get("sum", 0.0) + g * g
    return w - LR * g / (np.sqrt(state["sum"]) + 1e-6)


def rmsprop(w, g, state, t, wd):
    # Paddle's rho 0.95; epsilon 1e-6 inside the root
    state["ms"] = 0.95 * state.get("ms", 0.0) + 0.05 * g * g
    return w - LR * g / np.sqrt(state["ms"] + 1e-6)


def adam(w, g, state, t, wd):
    m, v = moments(state, g)
    m_hat, v_hat = m / (1 - power32(BETA1, t)), v / (1 - power32(BETA2, t))
    return w - LR * m_hat / (np.sqrt(v_hat) + 1e-8)


def adamw(w, g, state, t, wd):
    # decoupled decay on the weights before the Adam step (lr_ratio 1), gradient from the old w
    return adam(w - LR * wd * w, g, state, t, wd)


def adadelta(w, g, state, t, wd, rho=0.95, eps=1e-6):
    state["g2"] = rho * state.get("g2", 0.0) + (1 - rho) * g * g
    update = -np.sqrt((state.get("dx2", 0.0) + eps) / (state["g2"] + eps)) * g
    state["dx2"] = rho * state.get("dx2", 0.0) + (1 - rho) * update * update
    return w + LR * update


def adamax(w, g, state, t, wd):
    # infinity norm u = max(beta2 * u + eps, |g|): epsilon inside the max
    state["m"] = BETA1 * state.get("m", 0.0) + (1 - BETA1) * g
    state["u"] = np.maximum(BETA2 * state.get("u", 0.0) + 1e-8, np.abs(g))
    return w - LR / (1 - power32(BETA1, t)) * state["m"] / state["u"]


def nadam(w, g, state, t, wd, psi=0.004):
    # momentum schedule mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)), momentum_decay 0.004
    mu = BETA1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = BETA1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    state["mu_product"] = state.get("mu_product", 1.0) * mu
    m, v = moments(state, g)
    m_hat = (mu_next * m / (1 - state["mu_product"] * mu_next)
             + (1 - mu) * g / (1 - state["mu_product"]))
    return w - LR * m_hat / (np.sqrt(v / (1 - power32(BETA2, t))) + 1e-8)


def radam_rho(t):
    """RAdam's (rho_t, rho_inf) as Paddle computes them, in float32.

    Paddle keeps ``t * beta2**t / (1 - beta2**t)`` in a float32 accumulator updated once a step
    and takes ``rho_t = rho_inf - 2 * that``: two numbers near 2,000 whose difference (5 to 8
    here) carries a float32 error of ~1e-2, which the rectification passes on to the step.
    """
    one, beta2 = np.float32(1), np.float32(BETA2)
    rho_inf = np.float32(2) / (one - beta2) - one
    power = rho = one
    for _ in range(t):
        power = np.float32(power * beta2)
        rho = np.float32((rho * (beta2 - power) + power) / (one - power))
    return float(rho_inf - np.float32(2) * rho), float(rho_inf)


def radam(w, g, state, t, wd):
    m, v = moments(state, g)
    m_hat = m / (1 - power32(BETA1, t))
    rho_t, rho_inf = radam_rho(t)
    if rho_t <= 5:                    # variance not yet tractable: plain momentum step
        return w - LR * m_hat
    adaptive = np.sqrt(1 - power32(BETA2, t)) / (np.sqrt(v) + 1e-8)
    rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return w - LR * m_hat * rect * adaptive


def lamb(w, g, state, t, wd):
    # r = m_hat / (sqrt(v_hat) + 1e-6) + wd * w; trust ratio |w| / |r| only when wd > 0
    m, v = moments(state, g)
    r = (m / (1 - power32(BETA1, t))) / (np.sqrt(v / (1 - power32(BETA2, t))) + 1e-6) + wd * w
    trust = np.linalg.norm(w) / np.linalg.norm(r) if wd > 0 else 1.0
    return w - LR * trust * r


RULES = {"sgd": sgd, "momentum": momentum, "nesterov": nesterov, "adagrad": adagrad,
         "rmsprop": rmsprop, "adam": adam, "adamw": adamw, "adadelta": adadelta, "adamax": adamax,
         "nadam": nadam, "radam": radam, "lamb": lamb}
DECOUPLED = {"adamw", "lamb"}    # weight decay is not added to their gradient


def by_hand(name, weight_decay, steps, rules=RULES):
    """The weights after ``steps`` steps of ``name``'s rule in ``rules`` (Paddle's by default;
    tests/test_framework_rules.py passes Keras's and PyTorch's), in float64."""
    w, state = START.copy(), {}
    for t in range(1, steps + 1):
        g = CURVATURE * (w - TARGET)
        if name not in DECOUPLED:
            g = g + weight_decay * w
        w = rules[name](w, g, state, t, weight_decay)
    return w


def by_paddle(name, weight_decay, steps, defaults="paddle"):
    """The weights after ``steps`` steps of the registry's optimizer ``name`` (with ``defaults``'
    settings: tests/test_framework_rules.py)."""
    w = paddle.create_parameter([len(START)], "float32",
                                default_initializer=paddle.nn.initializer.Assign(START.astype("float32")))
    curvature, target = (paddle.to_tensor(x.astype("float32")) for x in (CURVATURE, TARGET))
    optimizer = build_optimizer(name, LR, [w], weight_decay, defaults=defaults)
    for _ in range(steps):
        (0.5 * (curvature * (w - target) ** 2).sum()).backward()
        optimizer.step()
        optimizer.clear_grad()
    return w.numpy().astype("float64")


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("name", available_optimizers())
def test_steps_follow_the_update_rule(name, weight_decay):
    steps = 8 if name == "radam" else 3
    expected = by_hand(name, weight_decay, steps)
    np.testing.assert_allclose(by_paddle(name, weight_decay, steps), expected, rtol=RTOL,
                               err_msg=f"{name}, weight_decay={weight_decay}")
    assert np.abs(expected - START).max() > 100 * RTOL     # the steps dwarf the tolerance


def test_nesterov_looks_ahead_and_momentum_does_not():
    # From rest, heavy ball's first step is lr * g and Nesterov's lr * (1 + mu) * g.
    g = CURVATURE * (START - TARGET)
    np.testing.assert_allclose(by_paddle("momentum", 0.0, 1), START - LR * g, rtol=RTOL)
    np.testing.assert_allclose(by_paddle("nesterov", 0.0, 1), START - LR * 1.9 * g, rtol=RTOL)
