"""Optimizer paths on 2-D loss surfaces: the course's figure 3 (不同学习率算法效果示意图), measured.

The chapter on optimizers (零基础实践深度学习 · 优化算法) shows SGD, Momentum, AdaGrad, RMSProp and
Adam walking a 2-D loss surface. Here the walk is not drawn by hand: the two coordinates are one
2-element Paddle parameter, the surface is a Paddle expression of it, and each step is the
forward / backward / step / clear_grad loop of a training run, with the very optimizers the sweep
trains MNIST with (``course.engine.optimizers.build_optimizer``: same names, same settings). What
differs from MNIST is only the loss, so whatever a path does here (crawl along a valley, overshoot,
stall at a saddle, blow up) is what that optimizer does at that rate.

Each path ends in one of four outcomes (``OUTCOMES``): ``reached`` a known minimum, ``diverged``
(non-finite, or far outside the plotted domain: the path stops there), ``stalled`` (stopped moving,
but not at a known minimum: a local minimum or a saddle holds it) or still ``moving`` when the steps
ran out. The drawing is in ``course.tools.optimizer_paths_plot``.

Example:
    from course.tools.optimizer_paths import SURFACES, compare_paths, format_table
    from course.tools.optimizer_paths_plot import animate_paths, plot_paths

    surface = SURFACES["rosenbrock"]
    results = compare_paths(surface, ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
    print(format_table(results))
    plot_paths(surface, results, run_dir / "paths_rosenbrock.png")     # run_dir: the chapter's
    animate_paths(surface, results, run_dir / "paths_rosenbrock.gif")  # run folder
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import paddle

from course.engine.errors import ConfigError
from course.engine.optimizers import build_optimizer, describe, parse_optimizer

COURSE_OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")   # the five of figure 3
OUTCOMES = ("reached", "moving", "stalled", "diverged")
DEFAULT_STEPS = 150          # ~0.5 ms per Paddle step on a CPU: 5 optimizers x 3 rates in ~1 s
STALL_WINDOW = 10            # "stalled": over the last this many steps, the path moved at most
STALL_RATIO = 0.01           # this fraction of its mean pace (a local minimum or a saddle holds it)
FAR_OUTSIDE = 1.0            # diverged once a point is this many domain widths beyond the domain


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with what it takes to run and draw paths on it.

    ``fn(x, y)`` uses only Paddle operators, so the same expression is the loss of a path (on the
    two elements of a parameter) and the contour plot (on a whole grid at once).
    """
    name: str
    title: tuple            # (Chinese, English) for the figure
    fn: object              # (x, y) Paddle tensors -> loss tensor of the same shape
    xlim: tuple             # plotted domain
    ylim: tuple
    start: tuple            # default start point
    minima: tuple           # the known minima ((x, y), ...): reaching any of them counts
    lrs: tuple              # default rates: one panel each, from too small to too big for SGD
    steps: int = DEFAULT_STEPS  # default path length (the valleys take longer)
    tol: float = 0.05       # "reached": within this distance of a minimum
    log_levels: bool = False  # contour levels spaced in log(f - f_min): the valleys' floors show

    def loss(self, x, y):
        """The surface at ``(x, y)``: Paddle tensors (or numbers) of any one shape."""
        return self.fn(x, y)

    def grid(self, n: int = 200):
        """``(X, Y, Z)`` numpy arrays of the surface on an ``n`` x ``n`` grid over the domain."""
        xs, ys = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        z = self.fn(paddle.to_tensor(xs), paddle.to_tensor(ys))
        return xs, ys, z.numpy()

    @property
    def span(self) -> float:
        """The larger side of the domain: the scale of "far outside" and of "stalled"."""
        return float(max(self.xlim[1] - self.xlim[0], self.ylim[1] - self.ylim[0]))


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


def _saddle(x, y):
    # x^2 - y^2 near the origin; the y^4 term gives the fall two floors, at (0, +-1), so a path that
    # escapes the saddle has somewhere to arrive instead of running off to minus infinity.
    return x ** 2 - y ** 2 + 0.5 * y ** 4


def _rastrigin(x, y):
    return 20 + x ** 2 + y ** 2 - 10 * (paddle.cos(2 * np.pi * x) + paddle.cos(2 * np.pi * y))


def _bowl(x, y):
    # Condition number 10: curvature 0.2 along x, 2 along y, the ill-conditioning momentum and the
    # adaptive rates are for, in its simplest form.
    return 0.1 * x ** 2 + y ** 2


SURFACES = {s.name: s for s in (
    Surface("rosenbrock", ("Rosenbrock 香蕉函数：弯曲的窄谷", "Rosenbrock: a curved narrow valley"),
            _rosenbrock, (-2.0, 2.0), (-1.0, 3.0), (-1.2, 1.0), ((1.0, 1.0),),
            lrs=(1e-3, 1e-2, 1e-1), steps=300, log_levels=True),
    Surface("beale", ("Beale 函数：平台与窄谷", "Beale: plateaus and narrow valleys"),
            _beale, (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),),
            lrs=(1e-3, 1e-2, 1e-1), steps=200, log_levels=True),
    Surface("saddle", ("鞍点 x²−y²（两侧各有一个极小值）", "saddle x²−y² (a minimum on either side)"),
            _saddle, (-1.5, 1.5), (-1.5, 1.5), (1.4, 0.01), ((0.0, 1.0), (0.0, -1.0)),
            lrs=(1e-3, 1e-2, 1e-1)),
    Surface("rastrigin", ("Rastrigin 函数：众多局部极小值", "Rastrigin: many local minima"),
            _rastrigin, (-3.0, 3.0), (-3.0, 3.0), (-2.3, 2.4), ((0.0, 0.0),),
            lrs=(1e-3, 1e-2, 1e-1)),
    Surface("bowl", ("狭长的二次碗", "an elongated quadratic bowl"),
            _bowl, (-4.0, 4.0), (-2.0, 2.0), (-3.5, 1.5), ((0.0, 0.0),),
            lrs=(1e-2, 1e-1, 1.0)),
)}


def get_surface(surface) -> Surface:
    """``surface`` itself if it is a Surface, else the SURFACES entry of that name (or ConfigError)."""
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ConfigError(f"unknown surface {surface!r}; choose from: {', '.join(SURFACES)}")
    return SURFACES[surface]


@dataclass
class OptimizerPath:
    """One optimizer's walk: every position it visited and the loss there."""
    surface: str
    optimizer: str          # the registry's name for it (aliases resolved)
    lr: float
    points: np.ndarray      # [steps_taken + 1, 2]: the start, then the position after each step
    losses: np.ndarray      # [steps_taken + 1]: the surface at each point
    outcome: str            # one of OUTCOMES
    reached_step: int | None  # first step within ``tol`` of a minimum, even if it left again

    @property
    def steps(self) -> int:
        """Steps taken (fewer than asked when the path diverged)."""
        return len(self.points) - 1


def _parameter(start) -> paddle.Tensor:
    # float64 so that a path's end is the optimizer's doing, not float32 rounding on a flat floor.
    return paddle.create_parameter(
        [2], "float64", default_initializer=paddle.nn.initializer.Assign(np.asarray(start, "float64")))


def _distance_to_minimum(surface: Surface, points: np.ndarray) -> np.ndarray:
    minima = np.asarray(surface.minima, "float64")                     # [m, 2]
    return np.linalg.norm(points[:, None, :] - minima[None], axis=-1).min(axis=1)


def _outside(surface: Surface, point: np.ndarray) -> bool:
    margin = FAR_OUTSIDE * surface.span
    return not (surface.xlim[0] - margin <= point[0] <= surface.xlim[1] + margin
                and surface.ylim[0] - margin <= point[1] <= surface.ylim[1] + margin)


def run_path(surface, optimizer: str, lr: float, steps: int | None = None,
             start=None, defaults: str = "paddle") -> OptimizerPath:
    """Walk ``surface`` (a Surface or a SURFACES name) with ``optimizer`` at rate ``lr``.

    The optimizer comes from the sweep's registry, so an unknown name raises its ConfigError. Each
    step is forward, backward, step, clear_grad on one 2-element parameter starting at ``start``
    (default: the surface's), ``steps`` times (default: the surface's). Deterministic: there is no
    randomness, a second run gives the same numbers. A path that turns non-finite or goes far
    outside the domain stops there, with outcome ``diverged``.
    """
    surface = get_surface(surface)
    name, settings = parse_optimizer(optimizer)     # 'momentum(momentum=0.5)' keeps its settings
    steps = surface.steps if steps is None else int(steps)
    if steps < STALL_WINDOW or not lr > 0:
        raise ConfigError(f"need steps >= {STALL_WINDOW} and lr > 0, got steps={steps}, lr={lr}")
    param = _parameter(surface.start if start is None else start)
    opt = build_optimizer(name, lr, [param], 0.0, settings, defaults)
    points, losses = [], []
    diverged = False
    for step in range(steps + 1):
        loss = surface.loss(param[0], param[1])
        points.append(param.numpy().copy())
        losses.append(float(loss))
        if not (np.isfinite(losses[-1]) and np.isfinite(points[-1]).all()) or _outside(surface, points[-1]):
            diverged = True
            break
        if step < steps:                  # the last point is measured, not stepped from
            loss.backward()
            opt.step()
            opt.clear_grad()
    points, losses = np.asarray(points), np.asarray(losses)
    near = np.flatnonzero(_distance_to_minimum(surface, points) <= surface.tol)
    reached_step = int(near[0]) if len(near) and not diverged else None
    return OptimizerPath(surface.name, describe(name, settings), float(lr), points, losses,
                         _outcome(surface, points, diverged), reached_step)


def _outcome(surface: Surface, points: np.ndarray, diverged: bool) -> str:
    if diverged:
        return "diverged"
    if _distance_to_minimum(surface, points[-1:])[0] <= surface.tol:
        return "reached"
    # Pace (path length per step), not displacement: a path bouncing between two walls is moving.
    # Compared with the path's own mean pace, so a small rate's slow, steady walk is not a stall.
    pace = np.linalg.norm(np.diff(points, axis=0), axis=1)
    return "stalled" if pace[-STALL_WINDOW:].mean() <= STALL_RATIO * pace.mean() else "moving"


def compare_paths(surface, optimizers=COURSE_OPTIMIZERS, lrs=None, steps: int | None = None,
                  start=None, defaults: str = "paddle") -> dict:
    """Run every optimizer at every rate from the same start: ``{lr: {optimizer: OptimizerPath}}``.

    ``lrs`` and ``steps`` default to the surface's (three rates: one panel each in ``plot_paths``). Names are checked
    before anything runs, so a typo fails at once with the registry's ConfigError.
    """
    surface = get_surface(surface)
    names = [describe(*parse_optimizer(o)) for o in optimizers]     # 'Adam' -> 'adam'
    return {float(lr): {n: run_path(surface, n, lr, steps, start, defaults) for n in names}
            for lr in (surface.lrs if lrs is None else lrs)}


def format_table(results: dict) -> str:
    """``compare_paths``' results as a text table: rate, optimizer, outcome, where it ended."""
    lines = [f"{'lr':>8}  {'optimizer':<10} {'outcome':<9} {'steps':>5} {'reached at':>10}  "
             f"{'end (x, y)':<20} {'loss':>10}"]
    for lr, paths in results.items():
        for name, p in paths.items():
            x, y = p.points[-1]
            lines.append(f"{lr:>8g}  {name:<10} {p.outcome:<9} {p.steps:>5} "
                         f"{'-' if p.reached_step is None else p.reached_step:>10}  "
                         f"({x:8.3g}, {y:8.3g})  {p.losses[-1]:>10.3g}")
    return "\n".join(lines)
