"""The daily report as HTML (``report.html.j2``, CSS inlined), plain text (``report.txt.j2``), files
and e-mail.

The HTML is one self-contained page: charts embedded as base64 PNG data URIs (the file works
offline) and also written beside it as PNG files. The e-mail references the same PNGs as inline
``cid:`` parts, which e-mail clients show more reliably than data URIs; its plain-text part carries
every number and alert of the HTML. Untrusted text is escaped by the template engine (HTML) or
cleaned of control and bidi characters (text); only http(s) links are kept.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from finsentry.alerts import humanize
from finsentry.alerts.render import render_html as render_template_html
from finsentry.alerts.render import render_text
from finsentry.app.reports.data import DayReport, ScopeDay
from finsentry.app.reports.queries import day_ranges
from finsentry.config import Settings
from finsentry.inert import for_terminal, web_url
from finsentry.schema import Alert, signed


@dataclass(frozen=True, slots=True)
class AlertLine:
    id: str
    title: str
    severity: str
    when: str
    numbers: str
    evidence: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class AlertGroup:
    scope: str
    alerts: list[AlertLine]


def _num(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _tone(value: float | None) -> str:
    return "–" if value is None else signed(value, 3)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def tone_class(value: float | None) -> str:
    if value is None:
        return "none"
    return "neg" if value < -0.05 else "pos" if value > 0.05 else "flat"


def summary_rows(report: DayReport) -> list[tuple[str, str, str]]:
    """(label, the day, the previous day) for the headline numbers."""
    t = report.total
    return [
        ("Novel items", _num(t.items), _num(t.prev_items)),
        ("Duplicates", _num(t.duplicates), _num(t.prev_duplicates)),
        ("Late items", _num(t.late), _num(t.prev_late)),
        ("Mean tone", _tone(t.tone), _tone(t.prev_tone)),
        ("Negative share", _pct(t.negative_share), _pct(t.prev_negative_share)),
        ("Alerts", _num(len(report.alerts)), _num(report.prev_alerts)),
    ]


def scope_row(r: ScopeDay) -> dict[str, Any]:
    """One table row of a topic or ticker, every number as shown."""
    return {
        "scope": for_terminal(r.scope), "count": _num(r.items), "tone": _tone(r.tone),
        "tone_class": tone_class(r.tone), "negative": _pct(r.negative_share),
        "prev_tone": _tone(r.prev_tone), "prev_class": tone_class(r.prev_tone),
        "change": _tone(r.change), "week_tone": _tone(r.week_tone),
        "week_change": _tone(r.week_change),
    }  # fmt: skip


def alert_groups(alerts: Sequence[Alert]) -> list[AlertGroup]:
    """The day's alerts grouped by scope (busiest scope first), each with a human title."""
    by_scope: dict[tuple[str, str], list[AlertLine]] = defaultdict(list)
    for a in alerts:
        evidence = [
            {"time": humanize.clock(e.published_at), "headline": for_terminal(e.headline),
             "url": web_url(e.url), "tone": signed(e.score), "tone_class": tone_class(e.score)}
            for e in a.evidence
        ]  # fmt: skip
        by_scope[(str(a.scope_kind), a.scope_value)].append(
            AlertLine(a.id, humanize.rule_label(a.rule), a.severity,
                      humanize.time_span(a.window_start, a.window_end),
                      humanize.observed_text(a.metric, a.observed, a.expected), evidence)
        )  # fmt: skip
    order = sorted(by_scope, key=lambda k: (-len(by_scope[k]), k))
    return [
        AlertGroup(for_terminal(humanize.scope_label(kind, value)), by_scope[(kind, value)])
        for kind, value in order
    ]


def context(report: DayReport, chart_src: dict[str, str]) -> dict[str, Any]:
    """Everything the report templates show, as display strings."""
    ranges = [
        a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}"
        for a, b in day_ranges(report.days_with_data)
    ]
    return {
        "report": report,
        "day_label": f"{humanize.day(report.start)} {report.day.year}",
        "summary": summary_rows(report),
        "topics": [scope_row(r) for r in report.topics],
        "tickers": [scope_row(r) for r in report.tickers],
        "movers": [scope_row(r) for r in report.movers],
        "changes": [dict(scope_row(c.day), kind=c.kind) for c in report.changes],
        "groups": alert_groups(report.alerts),
        "charts": chart_src,
        "no_data": report.total.items == 0,
        "data_days": ranges[-10:],
        "models": ", ".join(f"{for_terminal(m)} ({n:,} items)" for m, n in report.models)
        or "none (no items)",
        "generated": report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_html(report: DayReport, *, cid_images: bool = False) -> str:
    """The report as one HTML document (CSS inlined, images inline or as ``cid:``)."""
    src = {
        name: f"cid:{name}@finsentry"
        if cid_images
        else "data:image/png;base64," + base64.b64encode(png).decode()
        for name, png in report.charts.items()
    }
    return render_template_html("report.html.j2", **context(report, src))


def render_plain(report: DayReport) -> str:
    """The report as plain text: the same numbers, changes and alerts as the HTML."""
    return render_text("report.txt.j2", **context(report, {}))


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
    """A multipart message: the plain-text report, HTML with the charts as inline images."""
    msg = EmailMessage()
    t = report.total
    msg["Subject"] = (
        f"finsentry daily report {report.day}: {t.items:,} items, {len(report.alerts)} alerts"
    )
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg.set_content(render_plain(report))
    msg.add_alternative(render_html(report, cid_images=True), subtype="html")
    html_part = msg.get_body(("html",))
    if html_part is None:
        raise TypeError("the HTML alternative is missing")
    for name, png in report.charts.items():
        html_part.add_related(png, "image", "png", cid=f"<{name}@finsentry>",
                              filename=f"{name}.png")  # fmt: skip
    return msg


SMTP_HINT = (
    "e-mail needs an SMTP server: set FINSENTRY_SMTP_HOST (and FINSENTRY_SMTP_PORT, "
    "FINSENTRY_SMTP_SECURITY=starttls|ssl|none, FINSENTRY_SMTP_USER and FINSENTRY_SMTP_PASSWORD "
    "if it needs a login, FINSENTRY_MAIL_FROM for the sender)"
)


def smtp_send(settings: Settings, msg: EmailMessage) -> None:
    """Send one message with the SMTP settings (``FINSENTRY_SMTP_*``: host, port, security, login)."""
    from finsentry.alerts.email import EmailNotifier

    EmailNotifier(settings, timeout_s=30.0).send_message(msg)


def check_mail_settings(settings: Settings, recipients: Sequence[str]) -> None:
    """Raise ValueError saying what to set when the report cannot be e-mailed."""
    if not settings.smtp_host:
        raise ValueError(SMTP_HINT)
    if not recipients:
        raise ValueError("no recipients: pass --email ADDRESS or set FINSENTRY_MAIL_TO")


def send_report(report: DayReport, settings: Settings, recipients: Sequence[str]) -> None:
    """Send the report with the SMTP settings to ``recipients``."""
    check_mail_settings(settings, recipients)
    smtp_send(settings, email_message(report, settings.mail_from, recipients))
