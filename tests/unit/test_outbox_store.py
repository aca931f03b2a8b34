"""The store's outbox operations (listing, claims, retry, purge) and the sender's per-channel
backoff, over a real embedded store; ``test_postgres_store`` runs the same contract on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.alerts.errors import DeliveryError
from finsentry.alerts.outbox import OutboxSender
from finsentry.config import Settings
from finsentry.store import open_store
from finsentry.store.base import Notification, Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(str(tmp_path / "o.db"))
    yield s
    s.close()


def outbox_contract(store: Store) -> None:
    a, b = Notification("a1", "email", {"title": "A"}), Notification("b1", "email", {"title": "B"})
    assert store.enqueue_notifications([a, b]) == 2
    assert [e.notification.key for e in store.outbox()] == [a.key, b.key]
    # a claim counts the attempt and schedules the next one, once: a second sender loses
    assert store.claim_notification(a, 1, T0 + timedelta(minutes=1))
    assert not store.claim_notification(a, 1, T0 + timedelta(minutes=1))
    assert [n.key for n in store.due_notifications(T0)] == [b.key]
    store.mark_notification(a.key, "failed", 1, None, "SMTP 550")
    store.mark_notification(b.key, "delivered", 1, None, None)
    (failed,) = store.outbox("failed")
    assert (failed.notification.last_error, failed.notification.attempts) == ("SMTP 550", 1)
    (done,) = store.outbox("delivered")
    assert done.delivered_at is not None and done.created_at is not None
    assert store.retry_notifications(b.key) == 0  # delivered: left alone
    assert store.retry_notifications(None) == 1
    (again,) = store.due_notifications(T0)
    assert (again.key, again.status, again.attempts, again.next_attempt_at) == (
        a.key,
        "pending",
        0,
        None,
    )
    assert store.purge_notifications(done.created_at - timedelta(seconds=1)) == 0
    assert store.purge_notifications(done.created_at + timedelta(seconds=1)) == 1  # pending kept
    assert [e.notification.key for e in store.outbox()] == [a.key]


def test_outbox_operations(store: Store) -> None:
    outbox_contract(store)


class Flaky:
    """A notifier that fails every send (a server that is down) and counts them."""

    channel = "webhook:down"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification.key)
        raise DeliveryError("connection refused")

    def close(self) -> None:
        pass


class Fine(Flaky):
    channel = "webhook:up"

    def send(self, notification: Notification) -> None:
        self.sent.append(notification.key)


def test_a_failing_channel_holds_its_rows_and_the_others_go_on(store: Store) -> None:
    rows = [
        Notification(f"a{i}", ch, {}) for i in range(5) for ch in ("webhook:down", "webhook:up")
    ]
    store.enqueue_notifications(rows)
    down, up = Flaky(), Fine()
    now = [T0]
    settings = Settings(db=":memory:", outbox_max_attempts=3)  # type: ignore[arg-type]
    sender = OutboxSender(settings, store, clock=lambda: now[0],
                          notifiers={"webhook:down": down, "webhook:up": up})  # fmt: skip
    report = sender.drain(5)
    assert len(up.sent) == 5 and report.delivered == 5
    assert len(down.sent) == 1 and (report.retrying, report.deferred) == (1, 4)  # one try, not 5
    assert sender.drain(5).attempted == 0  # all wait for the channel's retry time
    for _ in range(20):
        now[0] += timedelta(hours=1)
        sender.drain(5)
    failed = store.outbox("failed")
    assert len(failed) == 5 and all(e.notification.attempts == 3 for e in failed)
    assert all(e.notification.last_error == "connection refused" for e in failed)
    assert len(down.sent) == 15  # 5 rows x 3 attempts, never more
