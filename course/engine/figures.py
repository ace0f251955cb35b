"""Figures with matplotlib's non-interactive Agg backend, in the course's bilingual style.

Labels are bilingual (训练损失 / train loss) when a CJK font is available: the one the ``mplfonts``
package ships (a pip dependency, so it works on any laptop), else one installed on the system;
with none, labels fall back to English so no glyph is ever drawn as an empty box. Every figure is
written atomically (``save_figure``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
# Paddle's import leaves the root logger printing INFO, so matplotlib's first-run
# "generated new fontManager" would show up in the sweep's output.
logging.getLogger("matplotlib").setLevel(logging.WARNING)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from course.engine.files import atomic_write_bytes  # noqa: E402

_CJK_FONT = None


def cjk_font() -> str | None:
    """Name of a usable CJK font family (registering mplfonts' Noto Sans CJK SC), or None."""
    global _CJK_FONT
    if _CJK_FONT is not None:
        return _CJK_FONT or None
    try:
        import mplfonts

        path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            _CJK_FONT = font_manager.FontProperties(fname=str(path)).get_name()
            return _CJK_FONT
    except ImportError:
        pass
    for entry in font_manager.fontManager.ttflist:
        if any(key in entry.name for key in ("CJK", "SimHei", "Source Han", "WenQuanYi", "Hei")):
            _CJK_FONT = entry.name
            return _CJK_FONT
    _CJK_FONT = ""
    return None


def label(chinese: str, english: str) -> str:
    """'中文 / English' when a CJK font can draw it, else the English alone."""
    return f"{chinese} / {english}" if cjk_font() else english


def style():
    """A matplotlib rc context using the CJK font (when there is one) and a readable DPI."""
    font = cjk_font()
    rc = {"axes.unicode_minus": False, "figure.dpi": 100}
    if font:
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
        rc["font.family"] = "sans-serif"
    return plt.rc_context(rc)


def save_figure(fig, path) -> None:
    """Write ``fig`` as a PNG to ``path`` atomically and close it."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


