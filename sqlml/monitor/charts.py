"""Charts for the report, drawn by matplotlib and returned as inline SVG text.

Each function builds its own `Figure` (no pyplot, no global state) and keeps text as text in
the SVG (``svg.fonttype: none``), so the charts are small and crisp and the page works offline.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

REFERENCE_COLOR = "#7f8c9a"
CURRENT_COLOR = "#e4572e"
LINE_COLOR = "#2e86de"
WARN_COLOR = "#f6c344"
ERROR_COLOR = "#e4572e"


def histogram_svg(
    labels: Sequence[str], reference: Sequence[float], current: Sequence[float]
) -> str:
    """Reference vs current share of each bin, side by side."""
    figure = _figure(4.2, 1.8)
    axes = figure.add_subplot()
    positions = range(len(labels))
    width = 0.4
    axes.bar([p - width / 2 for p in positions], reference, width, color=REFERENCE_COLOR,
             label="reference")  # fmt: skip
    axes.bar([p + width / 2 for p in positions], current, width, color=CURRENT_COLOR,
             label="current")  # fmt: skip
    axes.set_xticks(list(positions), [_short(label) for label in labels], rotation=45,
                    ha="right", fontsize=6)  # fmt: skip
    axes.tick_params(axis="y", labelsize=6)
    axes.set_ylabel("share", fontsize=7)
    axes.legend(fontsize=6, frameon=False)
    _clean(axes)
    return _svg(figure)


def series_svg(
    title: str,
    points: Sequence[tuple[datetime | str, float | None, str]],
    warn: tuple[str, float] | None,
    error: tuple[str, float] | None,
) -> str:
    """A metric over time, points coloured by status, with its warn and error bands shaded."""
    figure = _figure(5.0, 2.0)
    axes = figure.add_subplot()
    xs = list(range(len(points)))
    ys = [p[1] for p in points]
    low, high = _limits([y for y in ys if y is not None], warn, error)
    # Off-scale values (a robust z of 1e9 on a constant baseline) are drawn at the edge.
    shown = [float("nan") if y is None else min(max(y, low), high) for y in ys]
    axes.plot(xs, shown, color=LINE_COLOR, lw=1.2)
    colors = {"error": ERROR_COLOR, "warn": WARN_COLOR}
    axes.scatter(xs, shown, s=12, zorder=3, color=[colors.get(p[2], LINE_COLOR) for p in points])
    for level, color in ((warn, WARN_COLOR), (error, ERROR_COLOR)):
        if level is None:
            continue
        op, threshold = level
        if op.startswith("abs"):
            axes.axhspan(threshold, high, color=color, alpha=0.15, lw=0)
            axes.axhspan(low, -threshold, color=color, alpha=0.15, lw=0)
        elif op.startswith(">"):
            axes.axhspan(threshold, high, color=color, alpha=0.15, lw=0)
        else:
            axes.axhspan(low, threshold, color=color, alpha=0.15, lw=0)
        axes.axhline(threshold, color=color, lw=0.8, ls="--")
    axes.set_ylim(low, high)
    step = max(1, len(points) // 8)
    axes.set_xticks(xs[::step], [_when(p[0]) for p in points][::step], fontsize=6, rotation=30,
                    ha="right")  # fmt: skip
    axes.tick_params(axis="y", labelsize=6)
    axes.set_title(title, fontsize=8)
    _clean(axes)
    return _svg(figure)


def _limits(
    values: list[float], warn: tuple[str, float] | None, error: tuple[str, float] | None
) -> tuple[float, float]:
    marks = list(values)
    for level in (warn, error):
        if level is not None and abs(level[1]) < 1e8:
            marks += [level[1], -level[1]] if level[0].startswith("abs") else [level[1]]
    marks = [m for m in marks if abs(m) < 1e8] or [0.0, 1.0]
    low, high = min(marks), max(marks)
    pad = (high - low) * 0.15 or abs(high) * 0.15 or 1.0
    return low - pad, high + pad


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    figure.set_layout_engine("tight")
    return figure


def _svg(figure: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "sqlml"}):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _clean(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _short(label: str) -> str:
    return label if len(label) <= 18 else label[:17] + "…"


def _when(value: datetime | str) -> str:
    if isinstance(value, datetime):
        return value.strftime("%m-%d %H:%M") if value.hour or value.minute else f"{value:%Y-%m-%d}"
    return str(value)
