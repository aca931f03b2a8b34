"""Small PNG charts of a scope's window series around an alert, for e-mail."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def series_chart_png(series: Sequence[Sequence[Any]], title: str, highlight: str | None) -> bytes:
    """A 6x2.4 inch PNG: items per window (bars, negative ones darker) and the mean score (line).

    ``series`` rows are ``[window start ISO, count, negative, mean score]`` as the engine stores
    them in a notification payload; ``highlight`` is the ISO start of the alert window.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    starts = [datetime.fromisoformat(str(row[0])) for row in series]
    counts = [float(row[1]) for row in series]
    negatives = [float(row[2]) for row in series]
    means = [float(row[3]) for row in series]
    fig = Figure(figsize=(6, 2.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(starts)))
    colors = ["#d62728" if row[0] == highlight else "#9ecae1" for row in series]
    ax.bar(xs, counts, color=colors, label="items")
    ax.bar(xs, negatives, color="#555555", width=0.5, label="negative")
    ax.set_ylabel("items / window")
    ax.set_title(title, fontsize=9)
    ticks = xs[:: max(1, len(xs) // 6)]
    ax.set_xticks(ticks, [starts[i].strftime("%H:%M") for i in ticks], fontsize=7)
    twin = ax.twinx()
    twin.plot(xs, means, color="#2ca02c", linewidth=1.2, label="mean score")
    twin.set_ylim(-1.05, 1.05)
    twin.set_ylabel("mean score", fontsize=7)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
