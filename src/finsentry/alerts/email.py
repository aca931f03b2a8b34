"""Alert e-mail over SMTP: plain text + HTML with the evidence and an inline chart.

Security is ``settings.smtp_security``: ``starttls`` (upgrade a plain connection, the default on
port 587), ``ssl`` (implicit TLS, usually port 465) or ``none`` (a local relay). ``smtp_user`` and
``smtp_password`` log in when set. The message is ``multipart/alternative``: a plain-text part and a
``multipart/related`` HTML part whose chart images are referenced by ``cid:``.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from finsentry.alerts.channels import EMAIL, MAIL_IDEMPOTENCY_HEADER
from finsentry.alerts.charts import series_chart_png
from finsentry.alerts.errors import DeliveryError, NotifierConfigError
from finsentry.config import Settings
from finsentry.inert import web_url
from finsentry.schema import utc_now
from finsentry.store.base import Notification

MAX_CHARTS = 3


def _plain(payload: dict[str, Any]) -> str:
    lines = [payload["title"], ""]
    for alert in payload.get("alerts", []):
        lines.append(alert.get("summary", alert["rule"]))
        lines.append(f"  window {alert['window_start']} - {alert['window_end']} (UTC)")
        lines.append(f"  observed {alert['observed']}, expected {alert['expected']}")
        for ev in alert.get("evidence", []):
            url = web_url(ev.get("url"))
            link = f" <{url}>" if url else ""
            lines.append(f"  - [{ev['sentiment']} {ev['score']:+.2f}] {ev['headline']}{link}")
        lines.append("")
    if payload.get("dashboard_url"):
        lines.append(f"Dashboard: {payload['dashboard_url']}")
    lines.append("-- finsentry")
    return "\n".join(lines)


def _html(payload: dict[str, Any], cids: dict[str, str]) -> str:
    esc = html.escape
    parts = [f"<html><body><h2>{esc(payload['title'])}</h2>"]
    for alert in payload.get("alerts", []):
        parts.append(f"<h3>{esc(alert.get('summary', alert['rule']))}</h3>")
        parts.append(
            f"<p>Window {esc(alert['window_start'])} &ndash; {esc(alert['window_end'])} UTC; "
            f"observed <b>{esc(str(alert['observed']))}</b>, "
            f"expected {esc(str(alert['expected']))}.</p>"
        )
        cid = cids.get(alert["id"])
        if cid:
            parts.append(f'<p><img src="cid:{cid}" alt="series around the alert" width="600"></p>')
        parts.append("<ul>")
        for ev in alert.get("evidence", []):
            headline = esc(ev["headline"])
            url = web_url(ev.get("url"))
            if url:  # http(s) only: no javascript: or data: link reaches a mail client
                headline = f'<a href="{esc(url, quote=True)}">{headline}</a>'
            parts.append(f"<li>{headline} <small>({esc(ev['sentiment'])}, {ev['score']:+.2f}, "
                         f"{esc(ev['published_at'])})</small></li>")  # fmt: skip
        parts.append("</ul>")
    if payload.get("dashboard_url"):
        url = esc(payload["dashboard_url"], quote=True)
        parts.append(f'<p><a href="{url}">Open the dashboard</a></p>')
    parts.append("<p><small>finsentry</small></p></body></html>")
    return "\n".join(parts)


def build_message(settings: Settings, notification: Notification) -> EmailMessage:
    """The alert e-mail for one notification (its payload holds the alert group)."""
    payload = notification.payload
    msg = EmailMessage()
    msg["Subject"] = f"finsentry: {payload['title']}"
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(settings.mail_to)
    msg["Date"] = format_datetime(utc_now())
    msg["Message-ID"] = make_msgid(idstring=notification.alert_id, domain="finsentry")
    msg[MAIL_IDEMPOTENCY_HEADER] = notification.key
    charts: dict[str, tuple[str, bytes]] = {}
    for alert in payload.get("alerts", [])[:MAX_CHARTS]:
        if alert.get("series"):
            png = series_chart_png(alert["series"], alert.get("summary", ""), alert["window_start"])
            cid = make_msgid(idstring=f"chart{len(charts)}", domain="finsentry")[1:-1]
            charts[alert["id"]] = (cid, png)
    msg.set_content(_plain(payload))
    msg.add_alternative(_html(payload, {k: v[0] for k, v in charts.items()}), subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    if not isinstance(html_part, EmailMessage):
        raise TypeError("the HTML alternative is not a MIME part")
    for cid, png in charts.values():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    return msg


class EmailNotifier:
    """Sends alert e-mail with the SMTP settings; raises :class:`DeliveryError` on failure."""

    channel = EMAIL

    def __init__(
        self,
        settings: Settings,
        timeout_s: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not settings.smtp_host:
            raise NotifierConfigError(
                "e-mail needs an SMTP server: set FINSENTRY_SMTP_HOST (and FINSENTRY_SMTP_PORT, "
                "FINSENTRY_SMTP_SECURITY, FINSENTRY_SMTP_USER/PASSWORD as your server needs)"
            )
        if settings.smtp_security not in ("starttls", "ssl", "none"):
            raise NotifierConfigError("FINSENTRY_SMTP_SECURITY must be starttls, ssl or none")
        self.settings = settings
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        host = s.smtp_host or ""
        if s.smtp_security == "ssl":
            return smtplib.SMTP_SSL(
                host, s.smtp_port, timeout=self.timeout_s, context=self.ssl_context
            )
        smtp = smtplib.SMTP(host, s.smtp_port, timeout=self.timeout_s)
        if s.smtp_security == "starttls":
            smtp.starttls(context=self.ssl_context)
        return smtp

    def send(self, notification: Notification) -> None:
        if not self.settings.mail_to:
            raise DeliveryError("no recipients: set FINSENTRY_MAIL_TO", permanent=True)
        self.send_message(build_message(self.settings, notification))

    def send_message(self, message: EmailMessage) -> None:
        """Send a ready message (to its own To: addresses) with the SMTP settings."""
        s = self.settings
        try:
            with self._connect() as smtp:
                if s.smtp_user:
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    smtp.login(s.smtp_user, password)
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused for {s.smtp_user}: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: every send opens and closes its own SMTP connection."""
