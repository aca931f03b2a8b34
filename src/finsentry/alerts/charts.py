"""The chart of an alert's scope over its last hours, for e-mail: 600 x 240 px PNG.

Bars are the items per window (the negative ones darker), the line is the mean tone. The alert's
span is shaded. A window without news has no tone: the line has a gap there (it does not fall to
zero or to -1), and the bar is simply absent.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

WIDTH_PX, HEIGHT_PX, DPI = 600, 240, 100
ITEMS, NEGATIVE, TONE, SPAN = "#9ecae1", "#4d4d4d", "#1b7837", "#fdd0a2"


def series_points(
    series: Sequence[Sequence[Any]],
) -> tuple[list[datetime], list[int], list[int], list[float]]:
    """Starts, counts, negatives and mean tones (NaN for a window without news) of the
    ``[window start ISO, count, negative, mean score]`` rows the engine stores in a payload."""
    starts = [datetime.fromisoformat(str(row[0])) for row in series]
    counts = [int(row[1]) for row in series]
    negatives = [int(row[2]) for row in series]
    tones = [float(row[3]) if int(row[1]) > 0 else math.nan for row in series]
    return starts, counts, negatives, tones


def series_chart_png(
    series: Sequence[Sequence[Any]], span_start: datetime, span_end: datetime, step_s: float
) -> bytes:
    """The PNG for ``series``, the windows from ``span_start`` to ``span_end`` shaded."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    starts, counts, negatives, tones = series_points(series)
    origin = starts[0] if starts else span_start
    step = step_s / 3600.0

    def hours(at: datetime) -> float:
        return (at - origin).total_seconds() / 3600.0

    xs = [hours(s) + step / 2 for s in starts]
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.axvspan(hours(span_start), hours(span_end), color=SPAN, alpha=0.8, label="alert", lw=0)
    ax.bar(xs, counts, width=step * 0.9, color=ITEMS, label="items")
    ax.bar(xs, negatives, width=step * 0.5, color=NEGATIVE, label="negative")
    ax.set_ylabel("items / window", fontsize=8)
    ax.tick_params(labelsize=7)
    ticks = [x - step / 2 for x in xs][:: max(1, len(xs) // 6)]
    ax.set_xticks(ticks, [f"{s:%H:%M}" for s in starts][:: max(1, len(xs) // 6)])
    ax.set_xlim(0, max(hours(span_end), xs[-1] + step / 2 if xs else 1.0))
    twin = ax.twinx()
    twin.plot(xs, tones, color=TONE, linewidth=1.4, marker=".", markersize=3, label="mean tone")
    twin.axhline(0, color="#bbbbbb", linewidth=0.6)
    twin.set_ylim(-1.05, 1.05)
    twin.set_ylabel("mean tone", fontsize=8)
    twin.tick_params(labelsize=7)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=7, ncols=4, framealpha=0.9)
    ax.set_ylim(0, max([*counts, 1]) * 1.35)
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()
