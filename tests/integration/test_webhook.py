"""Signed webhooks to a real HTTP server on loopback: signature, idempotency, retries, restarts."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from finsentry.alerts.channels import IDEMPOTENCY_HEADER, webhook_channel
from finsentry.alerts.engine import notification_payload
from finsentry.alerts.outbox import OutboxSender
from finsentry.alerts.slack import slack_payload
from finsentry.alerts.webhook import sign, verify_signature
from finsentry.config import Settings
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from finsentry.store.base import Notification, Store

SECRET = "whsec_" + base64.b64encode(b"finsentry-test-signing-key-32byt").decode()
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Receiver:
    """A webhook receiver: verifies signatures, drops repeated idempotency keys, can fail."""

    def __init__(self, port: int = 0) -> None:
        self.accepted: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str | None, bool]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers.get(IDEMPOTENCY_HEADER)
                try:  # as a receiver does, with the reference library
                    Webhook(SECRET).verify(body, dict(self.headers.items()))
                    valid = True
                except WebhookVerificationError:
                    valid = False
                receiver.requests.append((key, valid))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                elif not valid or key is None:
                    self.send_response(401)
                else:
                    receiver.accepted.setdefault(key, json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alert(ticker: str = "ACME") -> Alert:
    ev = Evidence("n1", f"{ticker} plunges after fraud probe", T, -0.8, "negative", "https://x/1")
    return Alert(
        "negative_surge", ScopeKind.TICKER, ticker, "negative_share", T, T + timedelta(minutes=5),
        T + timedelta(minutes=16), "critical", 0.9, 0.25, (ev,),
    )  # fmt: skip


def enqueue(store: Store, url: str, ticker: str = "ACME") -> Notification:
    a = alert(ticker)
    n = Notification(a.id, webhook_channel(url), notification_payload([a], {}, None))
    assert store.enqueue_notifications([n]) == 1
    return n


def make(tmp_path: Path, url: str, **extra: Any) -> tuple[Settings, Store]:
    s = Settings(db=str(tmp_path / "w.db"), webhook_urls=url, webhook_secret=SECRET, **extra)
    return s, open_store(s.db)


def test_signatures_follow_standard_webhooks() -> None:
    body = b'{"a":1}'
    stamp = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(SECRET, "msg_1", stamp, body),
    }
    assert Webhook(SECRET).verify(body, headers) == {"a": 1}  # the reference library agrees
    assert verify_signature(SECRET, headers, body, 300, now=stamp + 100)
    assert not verify_signature(SECRET, headers, body, 300, now=stamp + 400)  # too old
    assert not verify_signature(SECRET, headers, b'{"a":2}', 300, now=stamp)
    other = "whsec_" + base64.b64encode(b"another-key").decode()
    assert not verify_signature(other, headers, body, 300, now=stamp)
    assert not verify_signature(SECRET, {**headers, "webhook-id": "msg_2"}, body, now=stamp)
    assert not verify_signature(SECRET, {"webhook-signature": "garbage"}, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"a":2}', headers)


def test_signed_delivery_with_idempotency_key(tmp_path: Path, receiver: Receiver) -> None:
    settings, store = make(tmp_path, receiver.url)
    n = enqueue(store, receiver.url)
    report = OutboxSender(settings, store).drain(5)
    assert report.delivered == 1 and report.failed == 0
    assert receiver.requests == [(n.key, True)]
    body = receiver.accepted[n.key]
    assert body["idempotency_key"] == n.key
    assert body["alerts"][0]["evidence"][0]["headline"] == "ACME plunges after fraud probe"
    assert store.due_notifications(datetime.now(UTC) + timedelta(days=1)) == []
    store.close()


def test_slack_format(tmp_path: Path, receiver: Receiver) -> None:
    settings, store = make(tmp_path, receiver.url, webhook_format="slack")
    n = enqueue(store, receiver.url)
    assert OutboxSender(settings, store).drain(5).delivered == 1
    body = receiver.accepted[n.key]
    assert body["text"].startswith("[critical]")
    assert "<https://x/1|ACME plunges after fraud probe>" in json.dumps(body)
    assert body == slack_payload(n.payload, settings)
    store.close()


def test_server_down_then_500_then_delivered(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    settings, store = make(tmp_path, url)
    n = enqueue(store, url)
    now = [datetime.now(UTC)]
    sender = OutboxSender(settings, store, clock=lambda: now[0], base_delay_s=30)
    down = sender.drain(5)
    assert down.delivered == 0 and down.retrying == 1
    assert store.due_notifications(now[0]) == []  # backed off
    receiver = Receiver(port)
    try:
        receiver.fail_next = 1
        now[0] += timedelta(seconds=31)
        failing = sender.drain(5)
        assert failing.retrying == 1 and receiver.requests == [(n.key, True)]
        assert sender.drain(5).attempted == 0  # not due yet: backoff grew
        now[0] += timedelta(minutes=2)
        ok = sender.drain(5)
        assert ok.delivered == 1
        assert list(receiver.accepted) == [n.key]
        assert len(receiver.requests) == 2
    finally:
        receiver.stop()
    store.close()


def test_backoff_grows_with_jitter(tmp_path: Path) -> None:
    settings, store = make(tmp_path, "http://127.0.0.1:9/")
    sender = OutboxSender(settings, store, base_delay_s=2, max_delay_s=100)
    delays = [sender.backoff(a).total_seconds() for a in range(1, 10)]
    assert 1 <= delays[0] <= 2 and 4 <= delays[2] <= 8 and 50 <= delays[-1] <= 100
    assert len({round(d, 6) for d in delays}) == len(delays)
    store.close()


CRASHING_SENDER = """
import os, sys
from finsentry.alerts.outbox import OutboxSender
from finsentry.config import Settings
from finsentry.store import open_store

settings = Settings(db=sys.argv[1], webhook_urls=sys.argv[2], webhook_secret=sys.argv[3])
store = open_store(settings.db)
def crash(*args, **kwargs):
    os._exit(17)  # the process dies after the POST, before the outbox row is marked
store.mark_notification = crash
OutboxSender(settings, store).drain(5)
"""


def test_restart_with_pending_outbox_delivers_exactly_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    settings, store = make(tmp_path, receiver.url)
    n = enqueue(store, receiver.url)
    store.close()
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_SENDER, settings.db, receiver.url, SECRET],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 17, proc.stderr.decode()
    assert receiver.requests == [(n.key, True)]
    # the restarted process finds the row pending, its attempt counted, due after the backoff
    # (at most FINSENTRY_OUTBOX_BACKOFF_S, 2 s), and sends it again with the same key
    store = open_store(settings.db)
    later = datetime.now(UTC) + timedelta(seconds=settings.outbox_backoff_s + 0.1)
    (pending,) = store.due_notifications(later)
    assert (pending.key, pending.attempts) == (n.key, 1)
    report = OutboxSender(settings, store, clock=lambda: later).drain(5)
    assert report.delivered == 1
    assert OutboxSender(settings, store, clock=lambda: later).drain(5).attempted == 0
    assert [key for key, _ in receiver.requests] == [n.key, n.key]
    assert list(receiver.accepted) == [n.key]  # the receiver's dedup keeps exactly one
    store.close()


def test_run_forever_thread_delivers_and_stops(tmp_path: Path, receiver: Receiver) -> None:
    settings, store = make(tmp_path, receiver.url)
    n = enqueue(store, receiver.url, "BETA")
    stop = threading.Event()
    own = open_store(settings.db)
    thread = threading.Thread(target=OutboxSender(settings, own).run_forever, args=(stop, 0.05))
    thread.start()
    deadline = time.monotonic() + 20
    while n.key not in receiver.accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert n.key in receiver.accepted
    own.close()
    store.close()


def test_a_failing_webhook_leaves_its_url_out_of_logs_store_and_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret_path = "services/T000/B000/s3cretT0ken"
    url = f"http://127.0.0.1:{port}/{secret_path}"
    settings, store = make(tmp_path, url)
    n = enqueue(store, url)
    with caplog.at_level("DEBUG"):
        report = OutboxSender(settings, store).drain(5)
    assert report.attempted == 1 and report.delivered == 0
    stored = store._all("SELECT key, channel, coalesce(last_error, '') FROM notifications")  # type: ignore[attr-defined]
    text = " ".join([caplog.text, *report.errors, *(str(v) for row in stored for v in row)])
    assert "127.0.0.1" in text  # the failure is described...
    assert secret_path not in text and "s3cret" not in text  # ...without the URL's secret
    assert n.key in text
    store.close()
