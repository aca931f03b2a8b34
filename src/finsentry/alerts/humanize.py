"""Alerts in words a desk reads at a glance: titles, time spans and numbers.

Every message (e-mail, Slack, the daily report, ``finsentry alerts``) words an alert with these
functions, so the same alert reads the same everywhere:

- :func:`alert_title`: ``TSLA: negative news surge``;
- :func:`time_span`: ``Tue 3 Mar, 14:30-14:55 UTC``;
- :func:`observed_text`: ``11 items vs 0.3 usual``, ``73 % negative vs 30 % usual``,
  ``mean tone -0.42 vs +0.05 usual``.

The numbers are the alert's stored ``observed`` and ``expected`` values, only rounded for reading.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from finsentry.schema import as_utc, signed

RULE_LABELS = {
    "volume_spike": "news volume spike",
    "negative_surge": "negative news surge",
    "tone_shift": "tone turning negative",
}
METRIC_LABELS = {"count": "items", "negative_share": "negative share", "mean_score": "mean tone"}


def scope_label(kind: str, value: str) -> str:
    """``TSLA``, ``topic Earnings``, ``source wire`` or ``all news``."""
    if kind == "all":
        return "all news"
    if kind == "ticker":
        return value
    return f"{kind} {value}"


def rule_label(rule: str) -> str:
    """A rule id in words: ``negative_surge`` -> ``negative news surge``."""
    return RULE_LABELS.get(rule, rule.replace("_", " "))


def alert_title(rule: str, scope_kind: str, scope_value: str) -> str:
    """``TSLA: negative news surge``: what happened, and where."""
    return f"{scope_label(scope_kind, scope_value)}: {rule_label(rule)}"


def number(value: float) -> str:
    """A count or a rate as people write it: ``11``, ``0.3``, ``2.5``, ``1,250``."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 0.095 else f"{value:.2f}"


def percent(share: float) -> str:
    """A share in [0, 1] as ``73 %``."""
    return f"{100 * share:.0f} %"


def tone(value: float) -> str:
    """A mean score in [-1, 1] with its sign: ``-0.42``, ``+0.05``."""
    return signed(value)


def observed_text(metric: str, observed: float, expected: float) -> str:
    """What was seen against what is usual, in the alert's own metric."""
    if metric == "negative_share":
        return f"{percent(observed)} negative vs {percent(expected)} usual"
    if metric == "mean_score":
        return f"mean tone {tone(observed)} vs {tone(expected)} usual"
    if metric == "count":
        unit = "item" if round(observed) == 1 else "items"
        return f"{number(observed)} {unit} vs {number(expected)} usual"
    return f"{METRIC_LABELS.get(metric, metric)} {observed:.3g} vs {expected:.3g} usual"


def day(value: datetime) -> str:
    """``Tue 3 Mar`` (UTC)."""
    at = as_utc(value)
    return f"{at:%a} {at.day} {at:%b}"


def clock(value: datetime) -> str:
    """``14:30`` (UTC)."""
    return f"{as_utc(value):%H:%M}"


def time_span(start: datetime, end: datetime) -> str:
    """``Tue 3 Mar, 14:30-14:55 UTC``; a span over midnight names both days."""
    first, last = as_utc(start), as_utc(end)
    if first.date() == (last - timedelta(microseconds=1)).date():  # ending at midnight: same day
        return f"{day(first)}, {clock(first)}-{clock(last)} UTC"
    return f"{day(first)} {clock(first)} - {day(last)} {clock(last)} UTC"


def sentiment_text(sentiment: str, score: float, ticker: str | None = None) -> str:
    """``negative -0.82 towards TSLA`` (or ``... overall`` for a headline's own tone)."""
    towards = f"towards {ticker}" if ticker else "overall"
    return f"{sentiment} {signed(score)} {towards}"
