"""The optimizer-path figure keeps every marker whole inside its panel and every optimizer in
sight: read back from the figure's own artists (positions, sizes, line styles), not its pixels.

On Rosenbrock at the course's three rates: at 0.01 SGD and momentum diverge (their crosses used to
sit on the frame, half outside), at 0.1 both diverge in one identical step (SGD's path used to be
hidden under momentum's).
"""
import numpy as np
import pytest

from course.tools import optimizer_paths_plot
from course.tools.optimizer_paths import COURSE_OPTIMIZERS, compare_paths


@pytest.fixture(scope="module")
def figure(tmp_path_factory):
    """The Rosenbrock PNG's figure, kept as it was saved."""
    kept = []
    patch = pytest.MonkeyPatch()
    save = optimizer_paths_plot.save_figure
    patch.setattr(optimizer_paths_plot, "save_figure", lambda fig, path: (kept.append(fig), save(fig, path)))
    try:
        results = compare_paths("rosenbrock", COURSE_OPTIMIZERS, steps=40)
        optimizer_paths_plot.plot_paths("rosenbrock", results, tmp_path_factory.mktemp("paths") / "p.png")
    finally:
        patch.undo()
    return kept[0]


def panels(fig):
    return [ax for ax in fig.axes if ax.get_title()]


def by_gid(ax, kind):
    """{optimizer: artist} of one kind ('path' or 'end'), in drawing order."""
    return {line.get_gid().split(":", 1)[1]: line for line in ax.lines
            if (line.get_gid() or "").startswith(kind + ":")}


def test_every_marker_is_whole_inside_its_panel(figure):
    ends = 0
    for ax in panels(figure):
        ax.apply_aspect()
        box = ax.get_window_extent()
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        for line in ax.lines:
            if line.get_marker() in (None, "None", "") or not len(line.get_xdata()):
                continue
            x, y = line.get_xdata()[0], line.get_ydata()[0]
            assert x0 <= x <= x1 and y0 <= y <= y1, (ax.get_title(), line.get_gid(), x, y)
            radius = (line.get_markersize() / 2 + line.get_markeredgewidth()) * figure.dpi / 72
            px, py = ax.transData.transform((x, y))
            assert box.x0 <= px - radius and px + radius <= box.x1, (ax.get_title(), line.get_gid())
            assert box.y0 <= py - radius and py + radius <= box.y1, (ax.get_title(), line.get_gid())
            ends += (line.get_gid() or "").startswith("end:") and line.get_marker() == "X"
    assert ends >= 3          # the diverged crosses, the markers this rule is about, were checked


def test_every_optimizer_shows_where_paths_coincide(figure):
    coincided = 0
    for ax in panels(figure):
        paths, heads = by_gid(ax, "path"), by_gid(ax, "end")
        assert list(paths) == list(COURSE_OPTIMIZERS)
        names = list(paths)
        for i, name in enumerate(names):
            data = np.column_stack([paths[name].get_xdata(), paths[name].get_ydata()])
            over = [other for other in names[i + 1:] if np.array_equal(
                np.column_stack([paths[other].get_xdata(), paths[other].get_ydata()]), data)]
            if not over:
                continue
            coincided += 1
            # Every path drawn over this one is dashed, each with its own dashes, and its end
            # marker smaller: this one shows in the gaps and as a rim round the marker.
            # (offset, dashes): matplotlib has no public getter for a Line2D's dash pattern.
            styles = [paths[other]._unscaled_dash_pattern for other in over]
            assert all(paths[other].get_linestyle() != "-" for other in over), (ax.get_title(), name)
            assert len(set(map(str, styles))) == len(styles)
            assert all(heads[other].get_markersize() < heads[name].get_markersize() for other in over)
    assert coincided >= 1     # SGD under momentum at lr 0.1
    legend = [t.get_text() for leg in figure.legends for t in leg.get_texts()]
    assert any("dashed" in text for text in legend), legend
