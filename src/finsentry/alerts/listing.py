"""Stored alerts as ``finsentry alerts`` prints them: a table, CSV, JSON lines, or one in detail.

Every string that came from the news (scope names, headlines, URLs) is made inert for where it
goes: control and bidi characters removed for the terminal, only http(s) links, and CSV cells that
a spreadsheet would run as a formula (starting with ``= + - @``) prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from finsentry.alerts import humanize
from finsentry.alerts.history import Delivery
from finsentry.inert import for_terminal, web_url
from finsentry.schema import Alert, AlertStatus, iso, signed

FORMATS = ("table", "json", "csv")
CSV_COLUMNS = (
    "id", "window_start", "window_end", "scope_kind", "scope_value", "rule", "title", "severity",
    "status", "metric", "observed", "expected", "summary", "fired_at", "evidence",
)  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def scope_text(alert: Alert) -> str:
    """``ticker:TSLA``, ``topic:Earnings`` or ``all``: the form ``--scope`` takes."""
    kind = str(alert.scope_kind)
    return "all" if kind == "all" else f"{kind}:{for_terminal(alert.scope_value)}"


def title(alert: Alert) -> str:
    return for_terminal(humanize.alert_title(alert.rule, str(alert.scope_kind), alert.scope_value))


def numbers(alert: Alert) -> str:
    return humanize.observed_text(alert.metric, alert.observed, alert.expected)


def when(alert: Alert) -> str:
    return humanize.time_span(alert.window_start, alert.window_end)


def table_lines(alerts: Sequence[Alert], evidence: int = 3) -> Iterable[str]:
    """One line per alert (id, time, title, numbers, severity, status), and its top headlines."""
    for alert in alerts:
        yield (
            f"{alert.id}  {when(alert)}  {title(alert)}  {numbers(alert)}  "
            f"[{alert.severity}, {alert.status}]"
        )
        for ev in alert.evidence[:evidence]:
            url = web_url(ev.url)
            link = f"  {for_terminal(url)}" if url else ""
            yield f"    {signed(ev.score)} {for_terminal(ev.headline)}{link}"


def json_lines(alerts: Sequence[Alert]) -> Iterable[str]:
    """The documented ``--json`` shape (:meth:`Alert.to_json`), one object per line."""
    for alert in alerts:
        yield json.dumps(alert.to_json(), ensure_ascii=False)


def _cell(value: object) -> object:
    if isinstance(value, str):
        text = for_terminal(value)
        return "'" + text if text.startswith(FORMULA_START) else text
    return value


def csv_text(alerts: Sequence[Alert]) -> str:
    """CSV with a header row; times ISO-8601 UTC, evidence as the number of headlines."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in alerts:
        row = (
            a.id, iso(a.window_start), iso(a.window_end), str(a.scope_kind), a.scope_value,
            a.rule, title(a), a.severity, str(a.status), a.metric, a.observed, a.expected,
            numbers(a), iso(a.fired_at), len(a.evidence),
        )  # fmt: skip
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def detail_lines(alert: Alert, history: Sequence[Delivery]) -> Iterable[str]:
    """One alert in full: what, when, numbers, every evidence headline, every delivery."""
    yield title(alert)
    yield f"  id        {alert.id}"
    yield f"  rule      {alert.rule} ({humanize.rule_label(alert.rule)})"
    yield f"  scope     {scope_text(alert)}"
    yield f"  window    {when(alert)}  ({iso(alert.window_start)} - {iso(alert.window_end)})"
    yield f"  numbers   {numbers(alert)}  (observed {alert.observed:g}, expected {alert.expected:g})"
    yield f"  severity  {alert.severity}"
    yield f"  status    {alert.status}"
    yield f"  fired at  {iso(alert.fired_at)} (wall clock)"
    ticker = alert.scope_value if str(alert.scope_kind) == "ticker" else None
    yield f"evidence ({len(alert.evidence)})"
    for ev in alert.evidence:
        yield (
            f"  {humanize.clock(ev.published_at)}  "
            f"{humanize.sentiment_text(ev.sentiment, ev.score, for_terminal(ticker) if ticker else None)}"
            f"  {for_terminal(ev.headline)}"
        )
        url = web_url(ev.url)
        if url:
            yield f"         {for_terminal(url)}"
    yield f"deliveries ({len(history)})"
    if not history and alert.status == AlertStatus.SILENCED:
        yield "  none: silenced when it fired (`finsentry silence list --all`), so not sent"
    elif not history:
        yield "  none: no channel was configured when it fired, or it is not in the outbox"
    for d in history:
        at = iso(d.delivered_at) if d.delivered_at else "-"
        line = f"  {d.channel}  {d.status}  attempts {d.attempts}  delivered {at}"
        if d.status == "pending" and d.next_attempt_at is not None:
            line += f"  next attempt {iso(d.next_attempt_at)}"
        yield line
        if d.last_error:
            yield f"    last error: {for_terminal(d.last_error)}"
