"""Alert e-mail over SMTP: a complete plain-text part + HTML (templates ``alert.txt.j2`` and
``alert.html.j2``, CSS inlined) with the evidence and an inline chart.

Security is ``settings.smtp_security``: ``starttls`` (upgrade a plain connection, the default on
port 587), ``ssl`` (implicit TLS, usually port 465) or ``none`` (a local relay). ``smtp_user`` and
``smtp_password`` log in when set. The message is ``multipart/alternative``: a plain-text part and a
``multipart/related`` HTML part whose chart images are referenced by ``cid:``.
"""

from __future__ import annotations

import base64
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from finsentry.alerts.channels import EMAIL, MAIL_IDEMPOTENCY_HEADER
from finsentry.alerts.charts import series_chart_png
from finsentry.alerts.errors import DeliveryError, NotifierConfigError
from finsentry.alerts.message import AlertView, MessageView, message_view
from finsentry.alerts.render import render_html, render_text
from finsentry.config import Settings
from finsentry.schema import utc_now
from finsentry.store.base import Notification

MAX_CHARTS = 3


def alert_charts(view: MessageView) -> dict[str, bytes]:
    """The PNG chart of each of the first :data:`MAX_CHARTS` alerts that carry a series."""
    charts: dict[str, bytes] = {}
    for alert in view.alerts:
        if alert.series and len(charts) < MAX_CHARTS:
            charts[alert.id] = _chart(alert)
    return charts


def _chart(alert: AlertView) -> bytes:
    return series_chart_png(alert.series, alert.span_start, alert.span_end, alert.step_s)


def render_parts(
    settings: Settings, notification: Notification, chart_src: dict[str, str]
) -> tuple[MessageView, str, str]:
    """(view, plain text, HTML with its CSS inlined) of the alert e-mail; ``chart_src`` is the
    ``src`` of each alert's chart image (``cid:...`` in the e-mail, a data URI in a preview)."""
    view = message_view(notification.payload, settings)
    sent_at = utc_now().strftime("%a %d %b %Y %H:%M UTC")
    text = render_text("alert.txt.j2", view=view, sent_at=sent_at)
    html = render_html("alert.html.j2", view=view, charts=chart_src, sent_at=sent_at)
    return view, text, html


def preview_html(settings: Settings, notification: Notification) -> str:
    """The HTML part as a standalone page, charts as data URIs (for a browser or a test)."""
    view = message_view(notification.payload, settings)
    src = {
        alert_id: "data:image/png;base64," + base64.b64encode(png).decode()
        for alert_id, png in alert_charts(view).items()
    }
    return render_parts(settings, notification, src)[2]


def message_id(idempotency_key: str) -> str:
    """The Message-ID of a notification's e-mail, derived from its idempotency key: the same on
    every attempt, so mail clients merge the copies that at-least-once delivery can produce."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@finsentry>"


def build_message(settings: Settings, notification: Notification) -> EmailMessage:
    """The alert e-mail for one notification (its payload holds the alert group): a complete
    plain-text part and an HTML part whose charts are inline ``cid:`` images."""
    charts = alert_charts(message_view(notification.payload, settings))
    cids = {alert_id: make_msgid(idstring=f"chart{i}", domain="finsentry")[1:-1]
            for i, alert_id in enumerate(charts)}  # fmt: skip
    view, text, html = render_parts(
        settings, notification, {k: f"cid:{v}" for k, v in cids.items()}
    )
    msg = EmailMessage()
    msg["Subject"] = f"finsentry: {view.subject}"
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(settings.mail_to)
    msg["Date"] = format_datetime(utc_now())
    msg["Message-ID"] = message_id(notification.key)
    msg[MAIL_IDEMPOTENCY_HEADER] = notification.key
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    if not isinstance(html_part, EmailMessage):
        raise TypeError("the HTML alternative is not a MIME part")
    for alert_id, png in charts.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cids[alert_id]}>")
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
