"""The report's charts, drawn with matplotlib (no global pyplot state) as PNG bytes.

- ``volume``: items per hour (bars) and the mean tone per hour (line, gaps for empty hours);
- ``topics``, ``tickers``: the day's mean tone per scope (bars coloured by tone), the previous
  day's (black tick) and the seven-day mean (grey diamond). The legend explains the colours, not
  the first bar's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: data.py draws its charts with this module
    from finsentry.app.reports.data import DayReport, HourPoint, ScopeDay

TONE_NEG, TONE_POS, TONE_FLAT, TONE_NONE = "#c0392b", "#1e8449", "#7f8c8d", "#bbbbbb"
WIDTH_IN, DPI = 5.6, 100  # 560 px: fits a 600 px e-mail column


def tone_color(value: float | None) -> str:
    if value is None:
        return TONE_NONE
    return TONE_NEG if value < -0.05 else TONE_POS if value > 0.05 else TONE_FLAT


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _legend(ax: Any) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(color=TONE_NEG, label="negative day"),
        Patch(color=TONE_FLAT, label="flat day"),
        Patch(color=TONE_POS, label="positive day"),
        Line2D([], [], color="black", marker="|", linestyle="", markersize=10,
               label="previous day"),
        Line2D([], [], color="#555555", marker="D", linestyle="", markersize=4,
               label="7-day mean"),
    ]  # fmt: skip
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=5,
              fontsize=7, frameon=False, handlelength=1.2, columnspacing=1.0)  # fmt: skip


def bars_chart(rows: Sequence[ScopeDay], title: str) -> bytes:
    """Tone per scope: the day (bars), the previous day and the seven-day mean (markers)."""
    fig = _figure(0.32 * max(len(rows), 3) + 1.3)
    ax = fig.add_subplot(1, 1, 1)
    rows = list(rows)[::-1]
    ys = list(range(len(rows)))
    tones = [r.tone for r in rows]
    ax.barh(ys, [t or 0.0 for t in tones], color=[tone_color(t) for t in tones], height=0.6)
    for values, style in (
        ([r.prev_tone for r in rows], {"marker": "|", "s": 200, "color": "black"}),
        ([r.week_tone for r in rows], {"marker": "D", "s": 14, "color": "#555555"}),
    ):
        marks = [(y, v) for y, v in zip(ys, values, strict=True) if v is not None]
        if marks:
            ax.scatter([v for _, v in marks], [y for y, _ in marks], zorder=3, **style)
    ax.set_yticks(ys, [r.scope for r in rows], fontsize=8)
    ax.axvline(0, color="#444444", linewidth=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("mean tone: P(positive) - P(negative)", fontsize=8)
    ax.set_title(title, fontsize=10, pad=18)
    _legend(ax)
    return _png(fig)


def volume_chart(hours: Sequence[HourPoint], title: str) -> bytes:
    """Items per hour and the mean tone per hour; an hour without news has no tone (a gap)."""
    fig = _figure(2.6)
    ax = fig.add_subplot(1, 1, 1)
    xs = [h.start.hour for h in hours]
    ax.bar(xs, [h.items for h in hours], color="#9ecae1", label="items")
    ax.set_xlabel("hour (UTC)", fontsize=8)
    ax.set_ylabel("items", fontsize=8)
    ax.set_xticks(range(0, 24, 3))
    tone_ax = ax.twinx()
    tone_ax.plot(xs, [h.tone if h.tone is not None else float("nan") for h in hours],
                 color="#2c3e50", marker=".", label="mean tone")  # fmt: skip
    tone_ax.set_ylim(-1, 1)
    tone_ax.axhline(0, color="#bbbbbb", linewidth=0.6)
    tone_ax.set_ylabel("tone", fontsize=8)
    handles = ax.get_legend_handles_labels()[0] + tone_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=7)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def render_charts(report: DayReport) -> dict[str, bytes]:
    """PNG bytes per chart name: volume (per hour), topics, tickers."""
    charts = {"volume": volume_chart(report.hours, f"News volume and tone, {report.day}")}
    if report.topics:
        charts["topics"] = bars_chart(report.topics, "Tone per topic")
    if report.tickers:
        charts["tickers"] = bars_chart(report.tickers, "Tone of the busiest tickers")
    return charts
