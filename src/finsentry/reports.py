"""The daily report: one self-contained HTML page about a UTC day, readable in an e-mail client.

Numbers come from the store's window statistics (exact sums and counts) and its alerts:

- headline numbers: novel items, duplicates, late items, mean tone, negative share, alerts, each
  with the previous day's value;
- tone per topic and per top tickers (by volume), with charts;
- the biggest movers: tickers whose mean tone changed most against the previous day;
- the alerts of the day with their evidence headlines.

Charts are drawn with matplotlib (no global pyplot state), embedded in the HTML as base64 PNG data
URIs (the file works offline) and also written beside it as PNG files. The e-mail version references
the same PNGs as inline ``cid:`` parts, which e-mail clients show more reliably than data URIs.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from finsentry.config import Settings
from finsentry.inert import web_url
from finsentry.schema import Alert, ScopeKind, WindowStat
from finsentry.store.base import Store

DAY = timedelta(days=1)
TONE_NEG, TONE_POS = "#c0392b", "#1e8449"


@dataclass(frozen=True, slots=True)
class ScopeDay:
    """One scope (everything, a topic, a ticker) on the day and the day before."""

    scope: str
    items: int
    negative: int
    tone: float | None
    prev_items: int
    prev_tone: float | None
    duplicates: int = 0
    late: int = 0

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.items if self.items else None

    @property
    def change(self) -> float | None:
        if self.tone is None or self.prev_tone is None:
            return None
        return self.tone - self.prev_tone


@dataclass(frozen=True, slots=True)
class HourPoint:
    start: datetime
    items: int
    tone: float | None


@dataclass
class DayReport:
    """What the report shows, computed from the store; rendering reads only this."""

    day: date
    window_s: int
    total: ScopeDay
    topics: list[ScopeDay]
    tickers: list[ScopeDay]
    movers: list[ScopeDay]
    hours: list[HourPoint]
    alerts: list[Alert]
    prev_alerts: int
    charts: dict[str, bytes] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)


def report_window(sizes: Sequence[int]) -> int:
    """The window size to read: the largest configured size up to an hour that tiles a day."""
    fits = [s for s in sizes if s <= 3600 and 86400 % s == 0]
    if not fits:
        raise ValueError(f"no window size up to 3600 s that divides a day among {list(sizes)}")
    return max(fits)


Sums = dict[str, tuple[int, int, float, int, int]]  # scope -> count, negative, score sum, dup, late


def _fold(stats: Sequence[WindowStat]) -> Sums:
    out: Sums = {}
    for w in stats:
        n, neg, s, dup, late = out.get(w.scope_value, (0, 0, 0.0, 0, 0))
        out[w.scope_value] = (n + w.count, neg + w.negative, s + w.score_sum, dup + w.duplicates,
                              late + w.late)  # fmt: skip
    return out


def _scope_days(today: Sums, before: Sums) -> list[ScopeDay]:
    days = []
    for scope in sorted(set(today) | set(before)):
        n, neg, s, dup, late = today.get(scope, (0, 0, 0.0, 0, 0))
        pn, _, ps, _, _ = before.get(scope, (0, 0, 0.0, 0, 0))
        days.append(
            ScopeDay(scope, n, neg, s / n if n else None, pn, ps / pn if pn else None, dup, late)
        )
    return days


def build_report(
    store: Store, day: date, window_sizes_s: Sequence[int] = (3600,), *, top: int = 10,
    min_items: int = 3,
) -> DayReport:  # fmt: skip
    """Compute the report for a UTC day from the store's window statistics and alerts."""
    size = report_window(window_sizes_s)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end, prev = start + DAY, start - DAY

    def days(kind: ScopeKind) -> list[ScopeDay]:
        today = _fold(store.window_stats(size, start, end, kind))
        return _scope_days(today, _fold(store.window_stats(size, prev, start, kind)))

    totals = days(ScopeKind.ALL)
    total = totals[0] if totals else ScopeDay("*", 0, 0, None, 0, None)
    topics = sorted(
        (t for t in days(ScopeKind.TOPIC) if t.items), key=lambda t: (-t.items, t.scope)
    )
    tickers = days(ScopeKind.TICKER)
    busiest = sorted((t for t in tickers if t.items), key=lambda t: (-t.items, t.scope))[:top]
    movers = sorted(
        (t for t in tickers if t.items >= min_items and t.prev_items >= min_items),
        key=lambda t: (-abs(t.change or 0.0), t.scope),
    )[:top]
    per_hour: dict[datetime, tuple[int, float]] = {}
    for w in store.window_stats(size, start, end, ScopeKind.ALL):
        hour = w.start.replace(minute=0, second=0, microsecond=0)
        n, s = per_hour.get(hour, (0, 0.0))
        per_hour[hour] = (n + w.count, s + w.score_sum)
    hours = []
    for h in range(24):
        at = start + timedelta(hours=h)
        n, s = per_hour.get(at, (0, 0.0))
        hours.append(HourPoint(at, n, s / n if n else None))
    alerts = store.alerts(since=start, until=end)
    prev_alerts = len(store.alerts(since=prev, until=start))
    report = DayReport(day, size, total, topics, busiest, movers, hours, alerts, prev_alerts)
    report.charts = render_charts(report)
    return report


# -- charts ------------------------------------------------------------------------------------


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # type: ignore[attr-defined]
    return buf.getvalue()


def _tone_color(value: float | None) -> str:
    if value is None:
        return "#bbbbbb"
    return TONE_NEG if value < -0.05 else TONE_POS if value > 0.05 else "#7f8c8d"


def _bars_chart(rows: Sequence[ScopeDay], title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 0.35 * max(len(rows), 3) + 1.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    names = [r.scope for r in rows][::-1]
    tones = [r.tone or 0.0 for r in rows][::-1]
    prev = [r.prev_tone for r in rows][::-1]
    ys = list(range(len(names)))
    ax.barh(ys, tones, color=[_tone_color(t) for t in tones], height=0.6, label="this day")
    marks = [(y, p) for y, p in zip(ys, prev, strict=True) if p is not None]
    if marks:
        ax.scatter([p for _, p in marks], [y for y, _ in marks], marker="|", s=200,
                   color="black", label="previous day", zorder=3)  # fmt: skip
    ax.set_yticks(ys, names, fontsize=8)
    ax.axvline(0, color="#444444", linewidth=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("mean tone: P(positive) - P(negative)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="best", fontsize=7, framealpha=0.9)
    return _png(fig)


def _volume_chart(hours: Sequence[HourPoint], title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = [h.start.hour for h in hours]
    ax.bar(xs, [h.items for h in hours], color="#9ecae1", label="items")
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel("items")
    ax.set_xticks(range(0, 24, 3))
    tone_ax = ax.twinx()
    tone_ax.plot(xs, [h.tone if h.tone is not None else float("nan") for h in hours],
                 color="#2c3e50", marker=".", label="mean tone")  # fmt: skip
    tone_ax.set_ylim(-1, 1)
    tone_ax.axhline(0, color="#bbbbbb", linewidth=0.6)
    tone_ax.set_ylabel("tone")
    ax.set_title(title, fontsize=10)
    return _png(fig)


def render_charts(report: DayReport) -> dict[str, bytes]:
    """PNG bytes per chart name: volume (per hour), topics, tickers."""
    charts = {"volume": _volume_chart(report.hours, f"News volume and tone, {report.day}")}
    if report.topics:
        charts["topics"] = _bars_chart(report.topics, "Tone per topic")
    if report.tickers:
        charts["tickers"] = _bars_chart(report.tickers, "Tone of the busiest tickers")
    return charts


# -- HTML --------------------------------------------------------------------------------------

CELL = "padding:4px 8px;border-bottom:1px solid #e5e5e5;"
HEAD = CELL + "text-align:left;background:#f4f6f7;"


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:+.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _table(table_id: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return f'<p id="{table_id}" style="color:#777">None.</p>'
    head = "".join(f'<th style="{HEAD}">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return (
        f'<table id="{table_id}" role="presentation" cellspacing="0" '
        f'style="border-collapse:collapse;width:100%;font-size:13px">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _tone_cell(value: float | None) -> str:
    return f'<span style="color:{_tone_color(value)}">{_num(value)}</span>'


def _img(name: str, report: DayReport, cid: bool) -> str:
    if name not in report.charts:
        return ""
    src = (
        f"cid:{name}@finsentry"
        if cid
        else "data:image/png;base64," + base64.b64encode(report.charts[name]).decode()
    )
    return (
        f'<img id="chart-{name}" src="{src}" alt="{name} chart" width="640" '
        'style="max-width:100%;height:auto;display:block;margin:8px 0">'
    )


def _scope_rows(rows: Sequence[ScopeDay]) -> list[list[str]]:
    return [
        [
            html.escape(r.scope),
            _num(r.items),
            _tone_cell(r.tone),
            _pct(r.negative_share),
            _tone_cell(r.prev_tone),
            _num(r.change),
        ]  # fmt: skip
        for r in rows
    ]


def _alert_block(alert: Alert) -> str:
    evidence = "".join(
        f'<li><span style="color:{_tone_color(e.score)}">{e.score:+.2f}</span> '
        f"{html.escape(e.published_at.strftime('%H:%M'))} "
        + (
            f'<a href="{html.escape(url)}">{html.escape(e.headline)}</a>'
            if (url := web_url(e.url))  # http(s) only: no javascript: or data: links
            else html.escape(e.headline)
        )
        + "</li>"
        for e in alert.evidence
    )
    return (
        f'<div class="alert" data-alert-id="{alert.id}" style="margin:8px 0;padding:8px;'
        f'border-left:4px solid {TONE_NEG};background:#fdf2f2">'
        f"<b>{html.escape(alert.severity)}</b> {html.escape(alert.rule)} on "
        f"{html.escape(str(alert.scope_kind))} <b>{html.escape(alert.scope_value)}</b>, "
        f"{alert.window_start:%H:%M}–{alert.window_end:%H:%M} UTC: {html.escape(alert.metric)} "
        f"{alert.observed:.3g} (expected {alert.expected:.3g})"
        f'<ul style="margin:4px 0 0 16px;padding:0;font-size:13px">{evidence}</ul></div>'
    )


def render_html(report: DayReport, *, cid_images: bool = False) -> str:
    """The report as one HTML document (inline styles, table layout, images inline)."""
    t = report.total
    headline = [
        ["Novel items", _num(t.items), _num(t.prev_items)],
        ["Duplicates", _num(t.duplicates), ""],
        ["Late items", _num(t.late), ""],
        ["Mean tone", _tone_cell(t.tone), _tone_cell(t.prev_tone)],
        ["Negative share", _pct(t.negative_share), ""],
        ["Alerts", _num(len(report.alerts)), _num(report.prev_alerts)],
    ]
    scope_head = ["", "items", "tone", "negative", "previous day", "change"]
    sections = [
        ('summary', "Headline numbers",
         _table("summary-table", ["", str(report.day), "previous day"], headline)
         + _img("volume", report, cid_images)),
        ("topics", "Tone per topic",
         _img("topics", report, cid_images)
         + _table("topics-table", ["topic", *scope_head[1:]], _scope_rows(report.topics))),
        ("tickers", "Top tickers",
         _img("tickers", report, cid_images)
         + _table("tickers-table", ["ticker", *scope_head[1:]], _scope_rows(report.tickers))),
        ("movers", "Biggest movers vs the previous day",
         _table("movers-table", ["ticker", *scope_head[1:]], _scope_rows(report.movers))),
        ("alerts", f"Alerts ({len(report.alerts)})",
         "".join(_alert_block(a) for a in report.alerts)
         or '<p style="color:#777">No alerts.</p>'),
    ]  # fmt: skip
    body = "".join(
        f'<h2 id="{sid}" style="font-size:17px;margin:24px 0 8px">{html.escape(title)}</h2>{inner}'
        for sid, title, inner in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>finsentry daily report {report.day}</title></head>"
        '<body style="margin:0;padding:16px;background:#ffffff;color:#222;'
        'font-family:Helvetica,Arial,sans-serif">'
        '<div style="max-width:720px;margin:0 auto">'
        f'<h1 style="font-size:21px">finsentry daily report: {report.day} (UTC)</h1>'
        f'<p style="color:#555;font-size:13px">Windows of {report.window_s // 60} min; tone is '
        "P(positive) − P(negative) averaged over novel items.</p>"
        f"{body}</div></body></html>\n"
    )


def write_report(report: DayReport, out: Path) -> list[Path]:
    """Write ``out`` (HTML) and one PNG per chart beside it (``<stem>.<chart>.png``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    paths = [out]
    for name, png in report.charts.items():
        path = out.with_name(f"{out.stem}.{name}.png")
        path.write_bytes(png)
        paths.append(path)
    return paths


def email_message(report: DayReport, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A multipart message: plain-text summary, HTML with the charts as inline ``cid:`` images."""
    msg = EmailMessage()
    t = report.total
    msg["Subject"] = (
        f"finsentry daily report {report.day}: {t.items:,} items, {len(report.alerts)} alerts"
    )
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg.set_content(
        f"finsentry daily report for {report.day} (UTC)\n\n"
        f"Novel items: {t.items:,} (previous day {t.prev_items:,})\n"
        f"Mean tone: {_num(t.tone)} (previous day {_num(t.prev_tone)})\n"
        f"Alerts: {len(report.alerts)}\n\nOpen the HTML part for charts and details.\n"
    )
    msg.add_alternative(render_html(report, cid_images=True), subtype="html")
    html_part = msg.get_body(("html",))
    assert html_part is not None
    for name, png in report.charts.items():
        html_part.add_related(png, "image", "png", cid=f"<{name}@finsentry>",
                              filename=f"{name}.png")  # fmt: skip
    return msg


def smtp_send(settings: Settings, msg: EmailMessage) -> None:
    """Send one message with the SMTP settings (``FINSENTRY_SMTP_*``: host, port, security, login)."""
    from finsentry.alerts.email import EmailNotifier

    EmailNotifier(settings, timeout_s=30.0).send_message(msg)


def send_report(report: DayReport, settings: Settings, recipients: Sequence[str]) -> None:
    """Send the report with the SMTP settings to ``recipients``."""
    if not settings.smtp_host:
        raise ValueError("no SMTP server configured: set FINSENTRY_SMTP_HOST (and _PORT, _USER ...)")
    if not recipients:
        raise ValueError("no recipients: pass --email ADDRESS or set FINSENTRY_MAIL_TO")
    smtp_send(settings, email_message(report, settings.mail_from, recipients))
