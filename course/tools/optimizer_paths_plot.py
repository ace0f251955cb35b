"""Drawing optimizer paths: contour panels (PNG) and the paths growing step by step (GIF).

One panel per learning rate, the surface as contours (log-spaced on the valleys, whose floors would
otherwise be one blank band), one coloured line per optimizer from the shared start (black dot) to
its end, marked by outcome: filled circle = reached a minimum (gold stars), hollow circle = still
moving, square = stalled, cross = diverged (drawn where it left the domain). Every end marker is
drawn whole inside its panel. Two optimizers can walk the very same path (momentum's first step
is SGD's, so at a rate where both diverge at once their paths are one segment): the one drawn
over the other is dashed and its marker smaller, so both colours show, and the legend says what
a dashed line means. Labels are bilingual through ``course.engine.figures``; both files are
written atomically. The paths themselves come from ``course.tools.optimizer_paths.compare_paths``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.colors import LogNorm, to_rgb
from matplotlib.lines import Line2D

from course.engine.figures import label, plt, save_figure, style
from course.tools.optimizer_paths import get_surface

GIF_FRAMES = 40              # enough to see who leads; more only makes the file bigger
GIF_HOLD = 8                 # extra copies of the last frame, so the ending can be read
GIF_FPS = 10
GIF_DPI = 60
# The cross is drawn bigger: at a GIF's resolution a small one is a blob, like the square.
END_MARKERS = {"reached": dict(marker="o"), "moving": dict(marker="o", markerfacecolor="white"),
               "stalled": dict(marker="s"), "diverged": dict(marker="X", markersize=12)}
DASH = 4.0                   # points: the dash of a path drawn over the same path
OUTCOME_LABELS = {"reached": ("到达极小值", "reached the minimum"), "moving": ("仍在移动", "still moving"),
                  "stalled": ("停滞", "stalled"), "diverged": ("发散", "diverged")}


def _contours(ax, surface, grid) -> None:
    """The surface (``grid``: X, Y, Z) as filled contours with thin lines, its minima as gold stars."""
    xs, ys, z = grid
    if surface.log_levels:
        # f - min(f) spans many decades in a valley; log levels show the floor and the walls both.
        shifted = z - z.min()
        low = max(shifted[shifted > 0].min(), shifted.max() * 1e-7)
        levels = np.logspace(np.log10(low), np.log10(shifted.max()), 24)
        kwargs = dict(levels=levels, norm=LogNorm())
        z = np.maximum(shifted, low)
    else:
        kwargs = dict(levels=24)
    ax.contourf(xs, ys, z, cmap="Greys_r", alpha=0.45, **kwargs)
    ax.contour(xs, ys, z, colors="0.45", linewidths=0.4, **kwargs)
    for mx, my in surface.minima:
        ax.plot(mx, my, "*", color="gold", markeredgecolor="black", markersize=15, zorder=4)
    ax.plot(*surface.start, "o", color="black", markersize=6, zorder=5)
    ax.set_xlim(surface.xlim)
    ax.set_ylim(surface.ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _figure(surface, results: dict):
    """Panels with contours and empty path artists: ``(fig, title, {(lr, name): (line, head)})``."""
    # Equal axes (a gradient is perpendicular to the contours only then), so the figure's height
    # follows the domain's shape; the legend and titles take a fixed ~1.9 inches of it.
    ratio = (surface.ylim[1] - surface.ylim[0]) / (surface.xlim[1] - surface.xlim[0])
    height = 3.6 * min(max(ratio, 0.4), 1.5) + 1.9
    fig, axes = plt.subplots(1, len(results), figsize=(4.4 * len(results), height), squeeze=False)
    artists, grid = {}, surface.grid()
    for ax, (lr, paths) in zip(axes[0], results.items()):
        _contours(ax, surface, grid)
        ax.set_title(label("学习率", "learning rate") + f" = {lr:g}")
        copies = _copies(paths)
        for i, name in enumerate(paths):
            k, n = copies.get(name, (0, 1))
            # The k-th of n identical paths shows in the k-th of n slots of a 4n-point cycle.
            style = "-" if k == 0 else (DASH * (n - k), (DASH * (n - k), DASH * k))
            line, = ax.plot([], [], color=_color(i), linewidth=1.8, zorder=6, linestyle=style,
                            gid=f"path:{name}")
            head, = ax.plot([], [], color=_color(i), markeredgecolor=_color(i), markeredgewidth=1.5,
                            linestyle="none", zorder=7, gid=f"end:{name}")
            head.shrink = 1 - 0.5 * k / n          # a marker over the same marker leaves it a rim
            artists[lr, name] = (line, head)
    names = list(next(iter(results.values())))
    marker = dict(color="black", markersize=8, linestyle="none")
    same = [Line2D([], [], color="black", linewidth=1.8, linestyle=(0, (DASH, DASH)),
                   label=label("虚线：与下层路径重合", "dashed: same path as one beneath"))]
    rows = ([Line2D([], [], color=_color(i), linewidth=2.5, label=n) for i, n in enumerate(names)]
            + (same if any(_copies(paths) for paths in results.values()) else []),
            [Line2D([], [], **{**marker, **END_MARKERS[o]}, label=label(*OUTCOME_LABELS[o]))
             for o in END_MARKERS]
            + [Line2D([], [], **{**marker, "markersize": 6}, marker="o", label=label("起点", "start")),
               Line2D([], [], **{**marker, "color": "gold", "markersize": 12}, marker="*",
                      markeredgecolor="black", label=label("已知极小值", "known minimum"))])
    # Below the panels, one row for the colours and one for the markers: inside a panel a legend
    # would cover the paths it explains.
    for y, handles in zip((0.28 / height, 0.0), rows):
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, y), ncol=len(handles),
                   fontsize=9, frameon=False, handlelength=1.8, columnspacing=1.4)
    title = fig.suptitle("")
    fig.tight_layout(rect=(0, 0.7 / height, 1, 1 - 0.3 / height))
    fig.set_layout_engine(None)    # laid out once; else every GIF frame's savefig lays it out again
    return fig, title, artists


def _copies(paths: dict) -> dict:
    """name -> (k, n) for the optimizers of one panel whose whole path is the same as another's:
    the k-th (from 0, in drawing order) of n identical paths."""
    groups = []
    for name, path in paths.items():
        group = next((g for g in groups if _same(paths[g[0]].points, path.points)), None)
        if group is None:
            groups.append([name])
        else:
            group.append(name)
    return {name: (k, len(g)) for g in groups if len(g) > 1 for k, name in enumerate(g)}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


def _color(i: int) -> str:
    """The i-th optimizer's colour, the same in every panel (matplotlib's ten, then again)."""
    return f"C{i % 10}"


def _title(surface, chinese: str, english: str) -> str:
    """The surface's bilingual name with a suffix in each language."""
    return label(surface.title[0] + chinese, surface.title[1] + english)


def _show(surface, path, line, head, upto: int | None = None) -> None:
    """Draw ``path`` up to point ``upto`` (all of it when None); the head marks its outcome at the end."""
    points = path.points if upto is None else path.points[:upto + 1]
    line.set_data(points[:, 0], points[:, 1])
    done = len(points) == len(path.points)
    outcome = path.outcome if done else "moving"
    size = END_MARKERS[outcome].get("markersize", 8) * getattr(head, "shrink", 1.0)
    end = _inside(head.axes, _last_seen(surface, points), size / 2 + head.get_markeredgewidth())
    head.set_data([end[0]], [end[1]])
    head.set_marker(END_MARKERS[outcome]["marker"])
    head.set_markersize(size)
    head.set_markerfacecolor(END_MARKERS[outcome].get("markerfacecolor", line.get_color()))


def _last_seen(surface, points: np.ndarray) -> np.ndarray:
    """Where a path is last seen in the plotted domain: its end, or where its line last leaves the
    domain (a diverged path ends far off the axes, or at no number; its last segments may still
    cross the domain on the way)."""
    low, high = np.array([surface.xlim[0], surface.ylim[0]]), np.array([surface.xlim[1], surface.ylim[1]])
    for a, b in zip(points[-2::-1], points[:0:-1]):        # the segments, the last first
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        d, t0, t1 = b - a, 0.0, 1.0                          # the part a + t d, t0 <= t <= t1, inside
        for i in (0, 1):
            if d[i] == 0:
                t0, t1 = (t0, t1) if low[i] <= a[i] <= high[i] else (1.0, 0.0)
            else:
                ends = sorted(((low[i] - a[i]) / d[i], (high[i] - a[i]) / d[i]))
                t0, t1 = max(t0, ends[0]), min(t1, ends[1])
        if t0 <= t1:
            return a + t1 * d
    return points[0]                    # no step yet: the start, inside every domain


def _inside(ax, point, radius: float) -> np.ndarray:
    """``point`` moved, if need be, so a marker of ``radius`` points drawn there is inside ``ax``."""
    ax.apply_aspect()                   # the box an equal-aspect panel is drawn in
    pad = radius * ax.figure.dpi / 72
    box = ax.get_window_extent()
    x, y = ax.transData.transform(point)
    x, y = np.clip(x, box.x0 + pad, box.x1 - pad), np.clip(y, box.y0 + pad, box.y1 - pad)
    return ax.transData.inverted().transform((x, y))


def _freeze_background(fig, artists: dict):
    """Render what never moves once, as one picture, and hide it: a frame then draws only the paths.

    A full redraw of three panels (contours, ticks, a bilingual legend) takes ~0.3 s, which made a
    40-frame GIF take most of a minute; the paths alone draw in milliseconds. Returns the picture.
    """
    moving = {a for pair in artists.values() for a in pair}
    for a in moving:
        a.set_visible(False)
    fig.canvas.draw()
    background = np.asarray(fig.canvas.buffer_rgba()).copy()
    for ax in fig.axes:
        for child in ax.get_children():
            child.set_visible(child in moving)
    for legend in fig.legends:
        legend.set_visible(False)
    fig.figimage(background, origin="upper", zorder=-1, interpolation="nearest")
    return background


def _palette(background: np.ndarray, colors):
    """A 256-colour GIF palette: the background's main colours, then ``colors`` exactly."""
    exact = [round(255 * c) for color in colors for c in to_rgb(color)]
    picture = Image.fromarray(background).convert("RGB").quantize(256 - len(colors))
    palette = Image.new("P", (1, 1))
    palette.putpalette(picture.getpalette()[:3 * (256 - len(colors))] + exact)
    return palette


class _OnePaletteWriter(PillowWriter):
    """PillowWriter whose frames all map, undithered, onto one palette.

    Left to Pillow, a frame with more than 256 colours (the markers' antialiased edges) gets a
    palette of its own, and the GIF came out 5 to 10 times bigger.
    """
    def __init__(self, palette, **kwargs):
        super().__init__(**kwargs)
        self.palette = palette

    def grab_frame(self, **savefig_kwargs):
        """Grab the frame as PillowWriter does, then map it onto the shared palette."""
        super().grab_frame(**savefig_kwargs)
        frame = self._frames[-1].convert("RGB")
        self._frames[-1] = frame.quantize(palette=self.palette, dither=Image.Dither.NONE)


def plot_paths(surface, results: dict, path) -> Path:
    """Draw ``compare_paths``' results on ``surface``'s contours as a PNG at ``path``; return it."""
    surface = get_surface(surface)
    with style():
        fig, title, artists = _figure(surface, results)
        for (lr, name), (line, head) in artists.items():
            _show(surface, results[lr][name], line, head)
        steps = max(p.steps for paths in results.values() for p in paths.values())
        title.set_text(_title(surface, f"（{steps} 步）", f" ({steps} steps)"))
        save_figure(fig, path)
    return Path(path)


def animate_paths(surface, results: dict, path, frames: int = GIF_FRAMES, dpi: int = GIF_DPI) -> Path:
    """The paths of ``plot_paths`` growing step by step, as an animated GIF at ``path``; return it.

    ``frames`` frames spread evenly over the longest path, then the last one held for a moment.
    Written to a temporary file in the same folder and renamed, so no half-written GIF is left.
    """
    surface, path = get_surface(surface), Path(path)
    steps = max(p.steps for paths in results.values() for p in paths.values())
    upto = np.unique(np.linspace(0, steps, max(2, frames)).round().astype(int)).tolist()
    upto += [steps] * GIF_HOLD
    with style():
        fig, title, artists = _figure(surface, results)
        fig.set_dpi(dpi)               # the background's pixels must be the saved frames' pixels
        palette = _palette(_freeze_background(fig, artists),
                           [_color(i) for i in range(10)] + ["black", "white", "gold"])

        def draw(step):
            for (lr, name), (line, head) in artists.items():
                _show(surface, results[lr][name], line, head, step)
            title.set_text(_title(surface, f"（第 {step} 步）", f" (step {step})"))
            return []

        animation = FuncAnimation(fig, draw, frames=upto, blit=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        # PillowWriter picks the format from the suffix, so the temporary name ends in .gif too.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.gif", dir=path.parent)
        os.close(fd)
        try:
            animation.save(tmp, writer=_OnePaletteWriter(palette, fps=GIF_FPS), dpi=dpi)
            os.chmod(tmp, 0o644)   # mkstemp's 0600 would make the figure unreadable to others
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
            plt.close(fig)
    return path
