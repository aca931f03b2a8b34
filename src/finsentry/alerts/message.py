"""What an alert message says, whatever carries it: e-mail (HTML and text) and Slack.

:func:`message_view` turns a stored notification payload (the alerts of one window, their
evidence and series, as :func:`finsentry.alerts.engine.notification_payload` writes them) and the
settings into a :class:`MessageView`: titles, human times and numbers, evidence headlines with
their sentiment towards the ticker, the link to the Grafana dashboard over the alert's time range
and the command that silences the scope. Templates only lay it out.

Untrusted text (headlines, URLs, scope names) is cleaned of control and bidi characters here;
URLs other than http(s) are dropped (:func:`finsentry.inert.web_url`); each medium escapes the rest
(HTML: autoescape, Slack: :func:`finsentry.inert.for_slack`, shell: :func:`shlex.quote`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from finsentry.alerts import humanize
from finsentry.config import Settings
from finsentry.inert import for_terminal, web_url

SILENCE_FOR = "2h"
LINK_MARGIN = timedelta(hours=1)
TICKER_DASHBOARD, OVERVIEW_DASHBOARD = "finsentry-ticker", "finsentry-overview"


@dataclass(frozen=True, slots=True)
class EvidenceView:
    headline: str
    url: str | None
    published: str  # HH:MM UTC
    sentiment: str
    score: float
    towards: str  # "negative -0.82 towards TSLA"


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """One window of the chart, for the plain-text part: ``*`` marks the alert's span."""

    marker: str
    time: str
    count: int
    negative: int
    tone: str  # "-0.42", or "no news" for an empty window


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    title: str
    severity: str
    scope: str  # kind:value, as the CLI takes it
    scope_name: str  # "TSLA", "topic Earnings", "all news"
    when: str
    numbers: str
    span_start: datetime
    span_end: datetime
    step_s: float
    series: list[list[Any]]
    rows: list[SeriesRow]
    evidence: list[EvidenceView]
    dashboard_url: str | None
    silence_command: str


@dataclass(frozen=True, slots=True)
class MessageView:
    subject: str
    title: str
    severity: str
    when: str
    alerts: list[AlertView]
    dashboard_url: str | None


def grafana_link(
    base: str | None, kind: str, value: str, start: datetime, end: datetime
) -> str | None:
    """The Grafana dashboard of the scope over ``start``-``end`` with an hour either side: the
    ticker dashboard for a ticker, the overview filtered to a topic or source, else the overview."""
    if not base:
        return None
    ms = (
        f"from={int((start - LINK_MARGIN).timestamp() * 1000)}"
        f"&to={int((end + LINK_MARGIN).timestamp() * 1000)}"
    )
    root = base.rstrip("/")
    if kind == "ticker":
        return f"{root}/d/{TICKER_DASHBOARD}?var-ticker={quote(value, safe='')}&{ms}"
    if kind in ("topic", "source"):
        return f"{root}/d/{OVERVIEW_DASHBOARD}?var-{kind}={quote(value, safe='')}&{ms}"
    return f"{root}/d/{OVERVIEW_DASHBOARD}?{ms}"


def silence_command(kind: str, value: str, duration: str = SILENCE_FOR) -> str:
    """The shell command that silences the scope (safe to paste: the scope is shell-quoted)."""
    scope = "all" if kind == "all" else f"{kind}:{value}"
    return f"finsentry silence add --scope {shlex.quote(scope)} --for {duration}"


def links_base(settings: Settings) -> str | None:
    """Where readers open Grafana: ``FINSENTRY_PUBLIC_URL`` when set (Grafana as readers reach
    it, e.g. behind a proxy), else ``FINSENTRY_GRAFANA_URL``; only an http(s) URL."""
    return web_url(settings.public_url or settings.grafana_url)


def _evidence(data: dict[str, Any], ticker: str | None) -> EvidenceView:
    published = datetime.fromisoformat(str(data["published_at"]))
    score = float(data["score"])
    sentiment = str(data["sentiment"])
    return EvidenceView(
        headline=for_terminal(str(data["headline"])),
        url=web_url(data.get("url")),
        published=humanize.clock(published),
        sentiment=sentiment,
        score=score,
        towards=humanize.sentiment_text(sentiment, score, ticker),
    )


def series_rows(
    series: list[list[Any]], span_start: datetime, span_end: datetime
) -> list[SeriesRow]:
    """The chart's windows as text rows (the same numbers as the chart)."""
    rows = []
    for start_iso, count, negative, mean in series:
        start = datetime.fromisoformat(str(start_iso))
        marker = "*" if span_start <= start < span_end else " "
        shown = humanize.tone(float(mean)) if int(count) else "no news"
        rows.append(SeriesRow(marker, humanize.clock(start), int(count), int(negative), shown))
    return rows


def alert_view(data: dict[str, Any], base: str | None, step_s: int) -> AlertView:
    """One alert of a payload, in words; ``step_s`` is the detection window size. The alert's
    span is its ``span`` windows ending at its ``window_end``."""
    kind, value = str(data["scope_kind"]), for_terminal(str(data["scope_value"]))
    end = datetime.fromisoformat(str(data["window_end"]))
    step = timedelta(seconds=step_s)
    span_start = min(
        end - int(data.get("span", 1)) * step, datetime.fromisoformat(str(data["window_start"]))
    )
    ticker = value if kind == "ticker" else None
    series = list(data.get("series") or [])
    return AlertView(
        id=str(data["id"]),
        title=humanize.alert_title(str(data["rule"]), kind, value),
        severity=str(data["severity"]),
        scope="all" if kind == "all" else f"{kind}:{value}",
        scope_name=humanize.scope_label(kind, value),
        when=humanize.time_span(span_start, end),
        numbers=humanize.observed_text(
            str(data["metric"]), float(data["observed"]), float(data["expected"])
        ),
        span_start=span_start,
        span_end=end,
        step_s=step.total_seconds(),
        series=series,
        rows=series_rows(series, span_start, end),
        evidence=[_evidence(e, ticker) for e in data.get("evidence", [])],
        dashboard_url=grafana_link(base, kind, value, span_start, end),
        silence_command=silence_command(kind, value),
    )


def message_view(payload: dict[str, Any], settings: Settings) -> MessageView:
    """The message for one notification payload."""
    base = links_base(settings)
    alerts = [alert_view(a, base, settings.detect_window_s) for a in payload.get("alerts", [])]
    if not alerts:
        raise ValueError("a notification payload without alerts")
    lead = alerts[0]
    title = lead.title if len(alerts) == 1 else f"{lead.title} (+{len(alerts) - 1} more)"
    compact_when = lead.when.replace(", ", " ", 1)
    return MessageView(
        subject=f"[{lead.severity}] {title}, {compact_when}",
        title=title,
        severity=lead.severity,
        when=lead.when,
        alerts=alerts,
        dashboard_url=web_url(payload.get("dashboard_url")) or base,
    )
