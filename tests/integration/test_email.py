"""Alert e-mail to a real SMTP server (aiosmtpd on a free loopback port)."""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from finsentry.alerts.channels import MAIL_IDEMPOTENCY_HEADER
from finsentry.alerts.email import EmailNotifier
from finsentry.alerts.engine import notification_payload
from finsentry.alerts.outbox import OutboxSender
from finsentry.config import Settings
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from finsentry.store.base import Notification

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USER, PASSWORD = "alerts", "pa55word"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login, data.password))
            ok = data.login == USER.encode() and data.password == PASSWORD.encode()
            return AuthResult(success=ok)
        return AuthResult(success=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=inbox.authenticate, **kwargs
    )
    controller.start()
    return controller


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def alerts() -> list[Alert]:
    ev = (
        Evidence("n1", "ACME plunges after fraud probe", T, -0.82, "negative", "https://x/1"),
        Evidence("n2", "ACME chief executive resigns", T + timedelta(minutes=2), -0.6, "negative"),
    )
    a1 = Alert("negative_surge", ScopeKind.TICKER, "ACME", "negative_share", T,
               T + timedelta(minutes=5), T + timedelta(minutes=16), "critical", 0.9, 0.25, ev)  # fmt: skip
    a2 = Alert("volume_spike", ScopeKind.TICKER, "ACME", "count", T, T + timedelta(minutes=5),
               T + timedelta(minutes=16), "warning", 14.0, 0.4, ev)  # fmt: skip
    return [a1, a2]


def notification() -> Notification:
    group = alerts()
    series = [
        [(T - timedelta(minutes=5 * i)).isoformat(), i % 3, i % 2, 0.1 - 0.01 * i]
        for i in range(20, -1, -1)
    ]
    series[-1] = [T.isoformat(), 14, 12, -0.7]
    extras = {a.id: {"span": 1, "series": series} for a in group}
    return Notification(group[0].id, "email", notification_payload(group, extras, "http://grafana"))


def parts(raw: bytes) -> tuple[Message, dict[str, list[Message]]]:
    msg = email.message_from_bytes(raw)
    found: dict[str, list[Message]] = {}
    for part in msg.walk():
        found.setdefault(part.get_content_type(), []).append(part)
    return msg, found


def check_message(raw: bytes, n: Notification) -> None:
    msg, found = parts(raw)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg[MAIL_IDEMPOTENCY_HEADER] == n.key
    assert "ACME" in msg["Subject"] and "(+1 more)" in msg["Subject"]
    plain = found["text/plain"][0].get_payload(decode=True).decode()
    html = found["text/html"][0].get_payload(decode=True).decode()
    for text in (plain, html):
        assert "ACME plunges after fraud probe" in text
        assert "ACME chief executive resigns" in text
        assert "news volume spike" in text and "negative news surge" in text
    assert 'href="https://x/1"' in html
    images = found["image/png"]
    assert len(images) == 2
    for image in images:
        data = image.get_payload(decode=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
        cid = image["Content-ID"].strip("<>")
        assert f"cid:{cid}" in html


def test_plain_smtp_with_login_receives_the_alert_mail(tmp_path: Path) -> None:
    inbox = Inbox()
    controller = start(inbox, auth_require_tls=False)
    try:
        settings = Settings(
            db=str(tmp_path / "e.db"), smtp_host="127.0.0.1", smtp_port=controller.port,
            smtp_security="none", smtp_user=USER, smtp_password=PASSWORD,
            mail_to="desk@example.com,risk@example.com",
        )  # type: ignore[arg-type]  # fmt: skip
        n = notification()
        EmailNotifier(settings).send(n)
    finally:
        controller.stop()
    assert inbox.logins == [(USER.encode(), PASSWORD.encode())]
    assert len(inbox.messages) == 1
    rcpts, raw = inbox.messages[0]
    assert rcpts == ["desk@example.com", "risk@example.com"]
    check_message(raw, n)


def test_starttls_and_outbox_delivery(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = start(inbox, tls_context=server_ctx, require_starttls=True)
    try:
        settings = Settings(
            db=str(tmp_path / "e.db"), smtp_host="127.0.0.1", smtp_port=controller.port,
            smtp_security="starttls", smtp_user=USER, smtp_password=PASSWORD,
            mail_to="desk@example.com",
        )  # type: ignore[arg-type]  # fmt: skip
        client_ctx = ssl.create_default_context(cafile=str(cert))
        store = open_store(settings.db)
        n = notification()
        assert store.enqueue_notifications([n]) == 1
        notifier = EmailNotifier(settings, ssl_context=client_ctx)
        report = OutboxSender(settings, store, notifiers={"email": notifier}).drain(20)
        assert report.delivered == 1, report.errors
        # without trusting the server's certificate the mail is not sent, and is retried later
        assert store.enqueue_notifications([Notification("other", "email", n.payload)]) == 1
        strict = OutboxSender(settings, store)  # default context: self-signed cert is refused
        failed = strict.drain(20)
        assert failed.retrying == 1 and "certificate" in failed.errors[0].lower()
        store.close()
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    check_message(inbox.messages[0][1], n)


def test_wrong_password_is_a_delivery_error(tmp_path: Path) -> None:
    inbox = Inbox()
    controller = start(inbox, auth_require_tls=False)
    try:
        settings = Settings(
            db=str(tmp_path / "e.db"), smtp_host="127.0.0.1", smtp_port=controller.port,
            smtp_security="none", smtp_user=USER, smtp_password="wrong", mail_to="a@example.com",
        )  # type: ignore[arg-type]  # fmt: skip
        store = open_store(settings.db)
        store.enqueue_notifications([notification()])
        notifier = EmailNotifier(settings, timeout_s=3)
        report = OutboxSender(settings, store, notifiers={"email": notifier}).drain(10)
        assert report.delivered == 0 and report.retrying == 1
        assert "SMTP" in report.errors[0]
        assert PASSWORD not in report.errors[0] and "wrong" not in report.errors[0]
        store.close()
    finally:
        controller.stop()
    assert inbox.messages == []


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    yield
