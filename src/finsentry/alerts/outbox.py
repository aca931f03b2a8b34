"""The outbox sender: delivers stored notifications at least once, with backoff per channel.

The engine writes every notification to the store (``notifications``) before anything is sent;
:meth:`OutboxSender.drain` sends the due ones. Before each send the sender *claims* the row: the
attempt is counted and the next attempt scheduled (exponential backoff with jitter,
``outbox_backoff_s * 2**(attempts-1)`` capped at ``outbox_max_backoff_s``, scaled by a random factor
in [0.5, 1]) in one conditional update. So a sender killed mid-send, or a mail server that accepts a
message but confirms after the client's timeout, cannot cause more than one send per backoff
period, nor more than ``outbox_max_attempts`` in all; after that the row is ``failed`` with its last
error. When a channel fails, its other due rows in the same drain wait with it (per-channel
backoff), so a server that is down is not hammered once per queued alert. A permanent failure
(HTTP 4xx, no recipients) marks the row ``failed`` at once.

Delivery is at least once: every send of a row carries the same idempotency key (alert id +
channel) as its e-mail Message-ID and ``X-Finsentry-Idempotency-Key``, or its ``webhook-id``, so
mail clients and receivers merge or drop the repeats. Pending rows survive a restart. Delivery
errors never propagate: the pipeline is never blocked by a mail server or webhook receiver.

Each channel is served by a notifier of :mod:`finsentry.alerts.notifiers`, built from the settings
on first use. :class:`finsentry.alerts.delivery.AlertDelivery` runs :meth:`OutboxSender.run_forever`
in a background thread with a store connection of its own (with SQLite a connection must not be
shared by two threads mid-transaction); ``finsentry deliver`` runs it alone.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from finsentry.alerts.errors import DeliveryError
from finsentry.alerts.notifiers import Notifier, NotifierRegistry
from finsentry.config import Settings
from finsentry.schema import utc_now
from finsentry.store.base import Notification, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DrainReport:
    """What one :meth:`OutboxSender.drain` did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0  # left for later because their channel had just failed
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted, "delivered": self.delivered, "retrying": self.retrying,
            "failed": self.failed, "deferred": self.deferred, "errors": list(self.errors),
        }  # fmt: skip


class OutboxSender:
    """Sends due outbox rows through the notifier of each row's channel.

    ``notifiers`` are ready-made notifiers by channel name; the others come from the registry.
    The backoff and attempt limits default to the settings (``FINSENTRY_OUTBOX_*``).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime] = utc_now,
        *,
        base_delay_s: float | None = None,
        max_delay_s: float | None = None,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.base_delay_s = base_delay_s or settings.outbox_backoff_s
        self.max_delay_s = max_delay_s or settings.outbox_max_backoff_s
        self.max_attempts = max_attempts or settings.outbox_max_attempts
        self.rng = rng or random.Random()  # jitter only: not security relevant
        self.notifiers = NotifierRegistry(settings, notifiers)

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next attempt after ``attempts`` attempts (exponential, jittered)."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=delay * (0.5 + 0.5 * self.rng.random()))

    def _deliver(
        self, notification: Notification, report: DrainReport, held: dict[str, datetime]
    ) -> None:
        key, channel = notification.key, notification.channel
        if channel in held:  # the channel just failed: this row waits with it
            report.deferred += 1
            self.store.mark_notification(
                key, "pending", notification.attempts, held[channel], notification.last_error
            )
            return
        if notification.attempts >= self.max_attempts:  # the sender stopped during the last ones
            error = notification.last_error or "no confirmation (the sender stopped mid-send)"
            report.failed += 1
            self.store.mark_notification(key, "failed", notification.attempts, None, error)
            return
        attempts = notification.attempts + 1
        retry_at = self.clock() + self.backoff(attempts)
        if not self.store.claim_notification(notification, attempts, retry_at):
            return  # another sender claimed it
        report.attempted += 1
        try:
            self.notifiers.get(channel).send(notification)
        except Exception as exc:  # a notifier failure must never reach the pipeline
            self._failed(notification, attempts, retry_at, exc, report)
            if not (isinstance(exc, DeliveryError) and exc.permanent):
                held[channel] = retry_at
            return
        report.delivered += 1
        self.store.mark_notification(key, "delivered", attempts, None, None)

    def _failed(
        self,
        notification: Notification,
        attempts: int,
        retry_at: datetime,
        exc: Exception,
        report: DrainReport,
    ) -> None:
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        message = str(exc) or type(exc).__name__
        key = notification.key
        report.errors.append(f"{key}: {message}")
        if permanent or attempts >= self.max_attempts:
            report.failed += 1
            log.error("notification %s failed for good after %d attempt(s): %s", key, attempts,
                      message)  # fmt: skip
            self.store.mark_notification(key, "failed", attempts, None, message)
        else:
            report.retrying += 1
            log.warning("notification %s failed (attempt %d): %s", key, attempts, message)
            self.store.mark_notification(key, "pending", attempts, retry_at, message)

    def drain(self, max_seconds: float = 10.0) -> DrainReport:
        """Send the due notifications for at most about ``max_seconds``; never raises for them."""
        report = DrainReport()
        deadline = time.monotonic() + max_seconds
        held: dict[str, datetime] = {}  # channels that failed in this drain: their retry time
        try:
            while time.monotonic() < deadline:
                due = self.store.due_notifications(self.clock(), limit=50)
                if not due:
                    break
                for notification in due:
                    if time.monotonic() >= deadline:
                        break
                    self._deliver(notification, report, held)
        except Exception as exc:  # the store itself failed: report, try again next time
            log.exception("outbox drain stopped")
            report.errors.append(f"store: {exc}")
        return report

    def run_forever(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Drain until ``stop`` is set (the background thread of the streaming consumer)."""
        while not stop.is_set():
            self.drain(max_seconds=max(interval_s, 1.0) * 5)
            stop.wait(interval_s)

    def close(self) -> None:
        self.notifiers.close()
