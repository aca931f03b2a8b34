"""Outbox operations against real servers on loopback (aiosmtpd, an HTTP receiver): finsentry
outbox list/retry/purge and finsentry deliver; a mail server that confirms after the client's
timeout (bounded by backoff and the attempt limit, one Message-ID); a sender killed with SIGKILL
mid-send (the retry carries the same Message-ID / webhook-id)."""

from __future__ import annotations

import asyncio
import email
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from click.testing import CliRunner

from finsentry.alerts.channels import MAIL_IDEMPOTENCY_HEADER
from finsentry.alerts.email import EmailNotifier, message_id
from finsentry.alerts.outbox import OutboxSender
from finsentry.cli import main
from finsentry.config import Settings
from finsentry.store import open_store
from tests.integration.test_email import Inbox, free_port, notification, start
from tests.integration.test_webhook import SECRET, enqueue


class SlowInbox(Inbox):
    """Takes every message, then confirms it only after ``delay_s`` (0: at once)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        await asyncio.sleep(self.delay_s)
        return "250 Message accepted"


def headers(inbox: Inbox) -> list[tuple[str, str]]:
    out = []
    for _rcpt, raw in inbox.messages:
        msg = email.message_from_bytes(raw)
        out.append((msg["Message-ID"], msg[MAIL_IDEMPOTENCY_HEADER]))
    return out


def mail_env(db: str, port: int, **extra: str) -> dict[str, str]:
    return {
        "FINSENTRY_DB": db, "FINSENTRY_SMTP_HOST": "127.0.0.1", "FINSENTRY_SMTP_PORT": str(port),
        "FINSENTRY_SMTP_SECURITY": "none", "FINSENTRY_MAIL_TO": "desk@example.com", **extra,
    }  # fmt: skip


def mail_settings(db: str, port: int, **extra: Any) -> Settings:
    return Settings(
        db=db, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
        mail_to="desk@example.com", **extra,
    )  # type: ignore[arg-type]  # fmt: skip


def test_outbox_commands_list_retry_purge_and_deliver(tmp_path: Path) -> None:
    db = str(tmp_path / "o.db")
    store = open_store(db)
    n = notification()
    store.enqueue_notifications([n])
    store.close()
    runner = CliRunner()
    port = free_port()  # nothing listens yet: the server is down
    env = mail_env(db, port, FINSENTRY_OUTBOX_MAX_ATTEMPTS="1")
    down = runner.invoke(main, ["deliver"], env=env)
    assert down.exit_code == 0 and "failed 1" in down.stdout and "Connection refused" in down.stderr
    failed = runner.invoke(main, ["outbox", "list", "--status", "failed"], env=env).stdout
    assert n.key in failed and "attempts 1" in failed and "last error: SMTP 127.0.0.1" in failed
    assert (
        "no pending notifications"
        in runner.invoke(main, ["outbox", "list", "--status", "pending"], env=env).stdout
    )

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)  # the server comes up
    controller.start()
    try:
        ambiguous = runner.invoke(main, ["outbox", "retry"], env=env)
        assert ambiguous.exit_code == 2 and "give one notification ID or --all" in ambiguous.stderr
        again = runner.invoke(main, ["outbox", "retry", n.key[:8]], env=env)
        assert again.exit_code == 0 and "1 notification(s) due now" in again.stdout
        sent = runner.invoke(main, ["deliver", "--json"], env=env)
        assert json.loads(sent.stdout)["delivered"] == 1
    finally:
        controller.stop()
    assert headers(inbox) == [(message_id(n.key), n.key)]
    (row,) = [json.loads(x) for x in runner.invoke(
        main, ["outbox", "list", "--json"], env=env).stdout.splitlines()]  # fmt: skip
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    done = runner.invoke(main, ["outbox", "retry", n.key], env=env)
    assert done.exit_code == 1 and "delivered already" in done.stderr
    kept = runner.invoke(main, ["outbox", "purge", "--older-than", "1d"], env=env)
    assert "purged 0 notification(s)" in kept.stdout
    purged = runner.invoke(main, ["outbox", "purge", "--older-than", "0s"], env=env)
    assert "purged 1 notification(s)" in purged.stdout
    assert "the outbox is empty" in runner.invoke(main, ["outbox", "list"], env=env).stdout


def test_a_server_that_confirms_after_the_timeout_gets_a_bounded_number_of_copies(
    tmp_path: Path,
) -> None:
    inbox = SlowInbox(delay_s=1.5)
    controller = start(inbox, auth_require_tls=False)
    try:
        settings = mail_settings(str(tmp_path / "s.db"), controller.port, outbox_max_attempts=4)
        store = open_store(settings.db)
        n = notification()
        store.enqueue_notifications([n])
        now = [datetime.now(UTC)]
        sender = OutboxSender(settings, store, clock=lambda: now[0],
                              notifiers={"email": EmailNotifier(settings, timeout_s=0.4)})  # fmt: skip
        first = sender.drain(5)
        assert (first.attempted, first.retrying) == (1, 1)
        assert sender.drain(5).attempted == 0  # the same run again: backoff, no second copy
        for _ in range(10):  # ten more runs, each after the longest backoff
            now[0] += timedelta(seconds=settings.outbox_max_backoff_s + 1)
            sender.drain(5)
        time.sleep(inbox.delay_s)
        (row,) = store.outbox()
        store.close()
    finally:
        controller.stop()
    assert (row.notification.status, row.notification.attempts) == ("failed", 4)
    assert "timed out" in (row.notification.last_error or "")
    assert headers(inbox) == [(message_id(n.key), n.key)] * 4  # one id: clients merge them


KILLABLE_DELIVER = """
import sys
from finsentry.cli import main
sys.argv = ["finsentry", "deliver", "--max-seconds", "120"]
main()
"""


def _run_and_kill(env: dict[str, str], received: list[Any]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_DELIVER],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not received and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert received, proc.stderr.read().decode() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)  # mid-send: the server has the message, not confirmed
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_mid_send_then_the_retry_carries_the_same_message_id(tmp_path: Path) -> None:
    inbox = SlowInbox(delay_s=60)
    controller = start(inbox, auth_require_tls=False)
    db = str(tmp_path / "k.db")
    try:
        store = open_store(db)
        n = notification()
        store.enqueue_notifications([n])
        store.close()
        _run_and_kill(mail_env(db, controller.port), inbox.messages)
        store = open_store(db)
        (row,) = store.outbox()
        assert (row.notification.status, row.notification.attempts) == ("pending", 1)
        assert store.due_notifications(datetime.now(UTC)) == []  # not at once: backoff
        inbox.delay_s = 0
        settings = mail_settings(db, controller.port)
        later = datetime.now(UTC) + timedelta(seconds=settings.outbox_backoff_s + 0.1)
        assert OutboxSender(settings, store, clock=lambda: later).drain(5).delivered == 1
        store.close()
    finally:
        controller.stop()
    assert headers(inbox) == [(message_id(n.key), n.key)] * 2


class HangingReceiver:
    """Records each POST's webhook-id; hangs without answering while ``hang`` is set."""

    def __init__(self) -> None:
        self.ids: list[str | None] = []
        self.hang = threading.Event()
        self.hang.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.ids.append(self.headers.get("webhook-id"))
                while outer.hang.is_set() and len(outer.ids) == 1:
                    time.sleep(0.05)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.hang.clear()
        self.server.shutdown()
        self.server.server_close()


def test_kill_9_mid_webhook_then_the_retry_carries_the_same_webhook_id(tmp_path: Path) -> None:
    receiver = HangingReceiver()
    db = str(tmp_path / "h.db")
    try:
        store = open_store(db)
        n = enqueue(store, receiver.url)
        store.close()
        env = {"FINSENTRY_DB": db, "FINSENTRY_WEBHOOK_URLS": receiver.url,
               "FINSENTRY_WEBHOOK_SECRET": SECRET}  # fmt: skip
        _run_and_kill(env, receiver.ids)
        receiver.hang.clear()
        settings = Settings(db=db, webhook_urls=receiver.url, webhook_secret=SECRET)  # type: ignore[arg-type]
        store = open_store(db)
        later = datetime.now(UTC) + timedelta(seconds=settings.outbox_backoff_s + 0.1)
        assert OutboxSender(settings, store, clock=lambda: later).drain(5).delivered == 1
        (row,) = store.outbox()
        store.close()
    finally:
        receiver.stop()
    assert (row.notification.status, row.notification.attempts) == ("delivered", 2)
    assert receiver.ids == [n.key, n.key]


def test_deliver_loop_sends_what_comes_later_and_stops_on_sigterm(tmp_path: Path) -> None:
    inbox = Inbox()
    controller = start(inbox, auth_require_tls=False)
    db = str(tmp_path / "l.db")
    open_store(db).close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "finsentry", "deliver", "--loop", "--interval", "0.2"],
        env={**os.environ, **mail_env(db, controller.port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)  # the loop is running with an empty outbox
        store = open_store(db)
        n = notification()
        store.enqueue_notifications([n])  # queued while it runs, as the pipeline would
        store.close()
        deadline = time.monotonic() + 30
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None  # still looping after sending
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        controller.stop()
    assert proc.returncode == 0, err.decode()
    assert headers(inbox) == [(message_id(n.key), n.key)]
    assert "delivered 1" in out.decode()
