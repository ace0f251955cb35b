"""Optimizer paths on 2-D surfaces: the sweep's own optimizers walk them, each path's outcome is
judged right, runs repeat exactly, and the PNG and the GIF come out whole."""
import numpy as np
import paddle
import pytest
from PIL import Image

from course.engine.errors import ConfigError
from course.engine.optimizers import available_optimizers
from course.tools import optimizer_paths_plot
from course.tools.optimizer_paths import (COURSE_OPTIMIZERS, SURFACES, Surface, compare_paths,
                                          format_table, run_path)

BOWL = SURFACES["bowl"]
# A sane rate per optimizer on the bowl (curvatures 0.2 and 2): SGD and momentum are stable below
# 2/2 = 1; the adaptive ones take steps of about lr, so they need a larger one to cover ~3.8 units.
SANE_RATES = {"sgd": 0.3, "momentum": 0.1, "adagrad": 1.0, "rmsprop": 0.03, "adam": 0.1}


@pytest.mark.parametrize("name", COURSE_OPTIMIZERS)
def test_every_course_optimizer_reaches_the_bowls_minimum_at_a_sane_rate(name):
    path = run_path(BOWL, name, SANE_RATES[name], steps=200)
    assert np.linalg.norm(path.points[0]) > 3          # it had somewhere to go
    assert path.outcome == "reached", format_table({SANE_RATES[name]: {name: path}})
    assert np.linalg.norm(path.points[-1]) <= BOWL.tol
    assert path.reached_step is not None and path.losses[-1] < 1e-2 * path.losses[0]


def test_a_tiny_rate_is_still_moving_and_a_local_minimum_stalls():
    assert run_path(BOWL, "sgd", 1e-3, steps=50).outcome == "moving"
    stuck = run_path("rastrigin", "sgd", 1e-3)            # settles in the local minimum at (-2, 2)
    assert stuck.outcome == "stalled"
    np.testing.assert_allclose(stuck.points[-1], [-1.99, 1.99], atol=0.01)


def test_a_huge_rate_diverges_and_the_path_stops_there():
    adam = run_path("rosenbrock", "adam", 10.0, steps=100)
    assert adam.outcome == "diverged" and adam.steps < 100 and adam.reached_step is None
    assert np.abs(adam.points[-1]).max() > 4              # left the plotted domain by a domain width
    sgd = run_path("rosenbrock", "sgd", 0.1, steps=100)   # curvature ~1000: SGD is gone at step 1
    assert (sgd.outcome, sgd.steps) == ("diverged", 1)
    # A domain too big to leave: the path is stopped by its loss turning infinite instead.
    huge = Surface("quartic", ("", ""), lambda x, y: x ** 4 + y ** 4, (-1e300, 1e300), (-1e300, 1e300),
                   (10.0, 10.0), ((0.0, 0.0),), lrs=(1.0,))
    blown = run_path(huge, "sgd", 1.0, steps=50)
    assert blown.outcome == "diverged" and not np.isfinite(blown.losses[-1])


def test_a_path_is_deterministic():
    a, b = (run_path("rosenbrock", "adam", 0.01, steps=60) for _ in range(2))
    assert np.array_equal(a.points, b.points) and np.array_equal(a.losses, b.losses)


def test_the_steps_are_the_registrys_momentum_and_sgd():
    """Two steps by hand: SGD p -= lr*g; heavy ball (Paddle) v = 0.9*v + g, p -= lr*v."""
    def grad(p):
        return np.array([0.2 * p[0], 2 * p[1]])        # of the bowl 0.1 x^2 + y^2

    lr, p0 = 0.1, np.array(BOWL.start)
    g0 = grad(p0)
    p1 = p0 - lr * g0
    np.testing.assert_allclose(run_path(BOWL, "sgd", lr, steps=10).points[2], p1 - lr * grad(p1))
    np.testing.assert_allclose(run_path(BOWL, "sgdm", lr, steps=10).points[2],
                               p1 - lr * (0.9 * g0 + grad(p1)))


def test_every_name_of_the_sweeps_registry_is_accepted_and_an_unknown_one_is_its_config_error():
    for name in available_optimizers():
        path = run_path(BOWL, name, 0.01, steps=10)
        assert path.optimizer == name and path.steps == 10 and np.isfinite(path.losses).all()
    assert run_path(BOWL, "NAG", 0.01, steps=10).optimizer == "nesterov"
    with pytest.raises(ConfigError, match="unknown optimizer 'adamm'.*sgd, momentum"):
        run_path(BOWL, "adamm", 0.01)
    with pytest.raises(ConfigError, match="adamm"):     # checked before any path runs
        compare_paths(BOWL, ["sgd", "adamm"], lrs=[0.1], steps=10)
    with pytest.raises(ConfigError, match="unknown surface 'banana'.*rosenbrock"):
        run_path("banana", "sgd", 0.01)
    with pytest.raises(ConfigError, match="lr=0"):
        run_path(BOWL, "sgd", 0)


def test_compare_paths_is_one_path_per_rate_and_optimizer():
    results = compare_paths("saddle", ["sgd", "adam"], lrs=[0.01, 0.1], steps=20)
    assert list(results) == [0.01, 0.1] and all(list(r) == ["sgd", "adam"] for r in results.values())
    assert results[0.1]["adam"].lr == 0.1 and results[0.1]["adam"].surface == "saddle"
    assert list(compare_paths(BOWL, ["sgd"], steps=10)) == list(BOWL.lrs)   # the surface's rates
    assert format_table(results).count("\n") == 4


@pytest.mark.parametrize("surface", list(SURFACES.values()), ids=list(SURFACES))
def test_each_surfaces_known_minima_are_its_lowest_points(surface):
    xs, ys, z = surface.grid(101)
    for mx, my in surface.minima:
        p = paddle.to_tensor([mx, my], dtype="float64", stop_gradient=False)
        value = surface.loss(p[0], p[1])
        value.backward()
        np.testing.assert_allclose(p.grad.numpy(), 0, atol=1e-9)
        assert float(value) <= z.min() + 1e-9
    x0, y0 = surface.start
    assert surface.xlim[0] < x0 < surface.xlim[1] and surface.ylim[0] < y0 < surface.ylim[1]


def test_the_png_and_the_gif_are_written_whole(tmp_path):
    results = compare_paths(BOWL, COURSE_OPTIMIZERS, lrs=[0.1, 1.0], steps=30)
    png = optimizer_paths_plot.plot_paths(BOWL, results, tmp_path / "paths.png")
    gif = optimizer_paths_plot.animate_paths("bowl", results, tmp_path / "paths.gif", frames=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paths.gif", "paths.png"]   # no temp left
    with Image.open(png) as im:
        assert im.format == "PNG" and 600 < im.width < 2500 and 200 < im.height < im.width
    assert 20_000 < png.stat().st_size < 2_000_000
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames > 1
        first = np.asarray(im.convert("RGB"))
        im.seek(im.n_frames - 1)
        assert (np.asarray(im.convert("RGB")) != first).any()   # the paths grew
    assert 10_000 < gif.stat().st_size < 1_000_000


def test_a_gif_that_fails_to_save_leaves_no_file(tmp_path, monkeypatch):
    (tmp_path / "paths.gif").write_bytes(b"old")
    results = compare_paths(BOWL, ["sgd"], lrs=[0.1], steps=10)

    def fail(self):
        raise OSError("disk full")

    monkeypatch.setattr(optimizer_paths_plot._OnePaletteWriter, "finish", fail)
    with pytest.raises(OSError, match="disk full"):
        optimizer_paths_plot.animate_paths(BOWL, results, tmp_path / "paths.gif", frames=4)
    assert [p.name for p in tmp_path.iterdir()] == ["paths.gif"]
    assert (tmp_path / "paths.gif").read_bytes() == b"old"
