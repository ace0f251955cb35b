"""One unit for accuracy in every figure a sweep writes: percent points, as in its table.

Read back from the figures' own axes (matplotlib's artists, not pixels): every accuracy line,
band and heat-map cell lies within 0..100 and above 1 (a fraction of 0.97 would not), the axis
says % in its label and its ticks, and the number drawn is the table's.
"""
import numpy as np
import pytest

from course.sweep import plots
from course.sweep.report import write_report
from tests.test_report_figures import FINAL, ORDER, grid


@pytest.fixture
def figures(tmp_path, monkeypatch):
    """{file name: matplotlib Figure} of a three-seed sweep's report, kept as they were saved."""
    kept, save = {}, plots.save_figure

    def keep(fig, path):
        kept[path.name] = fig
        save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    grid(tmp_path, seeds=(0, 1, 2))
    write_report(tmp_path, ORDER)
    return kept


def accuracy_axes(fig):
    """The axes of ``fig`` whose y axis is an accuracy (by its English label)."""
    return [ax for ax in fig.axes if "accuracy" in ax.get_ylabel()]


def assert_percent_axis(ax):
    assert "%" in ax.get_ylabel(), ax.get_ylabel()
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks and all(ax.yaxis.get_major_formatter()(t).endswith("%") for t in ticks)


def assert_percent_points(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    assert values.size and values.min() >= 0 and values.max() <= 100, values
    assert values.max() > 1, f"accuracy drawn as a fraction: {values}"


def test_learning_curves_draw_accuracy_in_percent(figures):
    axes = accuracy_axes(figures["curves.png"])
    assert len(axes) == 2                                   # train and validation accuracy
    for ax in axes:
        assert_percent_axis(ax)
        for line in ax.lines:
            assert_percent_points(line.get_ydata())
        for band in ax.collections:                         # the seed bands
            assert_percent_points(np.concatenate([p.vertices[:, 1] for p in band.get_paths()]))
    # The best rate's last epoch, drawn, is the table's number (momentum 0.01: mean 97.8%).
    means = {line.get_label().split(" ")[0]: line.get_ydata()[-1] for line in axes[1].lines}
    assert means["momentum"] == pytest.approx(100 * FINAL["momentum", 0.01] - 0.2)


def test_sensitivity_plot_draws_accuracy_in_percent(figures):
    ax, = accuracy_axes(figures["lr_sensitivity.png"])
    assert_percent_axis(ax)
    drawn = [line for line in ax.lines if not line.get_label().startswith("_")]   # one per optimizer
    assert {line.get_label() for line in drawn} == set(ORDER)
    for line in drawn:
        assert_percent_points(line.get_ydata())


def test_heat_map_colours_and_scale_are_in_percent(figures):
    fig = figures["heatmap.png"]
    heat = next(ax for ax in fig.axes if ax.images and "optimizer" in ax.get_ylabel())
    assert_percent_points(heat.images[0].get_array().compressed())
    scale, = accuracy_axes(fig)                             # the colour bar
    assert_percent_axis(scale)
    assert "%" in heat.get_title()
