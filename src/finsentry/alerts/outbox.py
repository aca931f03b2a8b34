"""The outbox sender: delivers stored notifications at least once, with backoff and jitter.

The engine writes every notification to the store (``notifications``) before anything is sent;
:meth:`OutboxSender.drain` sends the due ones. A failure schedules the next attempt after an
exponential backoff with jitter (``base * 2**(attempts-1)``, capped, then scaled by a random
factor in [0.5, 1]); a permanent failure (HTTP 4xx, no recipients) or ``max_attempts`` failures mark
the row ``failed``. Because rows are in the store, pending notifications survive a restart; because
every delivery carries its idempotency key (alert id + channel), receivers can drop the repeats that
at-least-once delivery implies. Delivery errors never propagate: the pipeline is never blocked by a
mail server or webhook receiver.

Each channel is served by a notifier of :mod:`finsentry.alerts.notifiers`, built from the settings
on first use. :class:`finsentry.alerts.delivery.AlertDelivery` runs :meth:`OutboxSender.run_forever`
in a background thread with a store connection of its own (with SQLite a connection must not be
shared by two threads mid-transaction).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    errors: list[str] = field(default_factory=list)


class OutboxSender:
    """Sends due outbox rows through the notifier of each row's channel.

    ``notifiers`` are ready-made notifiers by channel name; the others come from the registry.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime] = utc_now,
        *,
        base_delay_s: float = 2.0,
        max_delay_s: float = 900.0,
        max_attempts: int = 12,
        rng: random.Random | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()  # jitter only: not security relevant
        self.notifiers = NotifierRegistry(settings, notifiers)

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next attempt after ``attempts`` failures (exponential, jittered)."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=delay * (0.5 + 0.5 * self.rng.random()))

    def _deliver(self, notification: Notification, report: DrainReport) -> None:
        report.attempted += 1
        attempts = notification.attempts + 1
        try:
            self.notifiers.get(notification.channel).send(notification)
        except Exception as exc:  # a notifier failure must never reach the pipeline
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            message = str(exc) or type(exc).__name__
            report.errors.append(f"{notification.key}: {message}")
            if permanent or attempts >= self.max_attempts:
                report.failed += 1
                log.error("notification %s failed for good: %s", notification.key, message)
                self.store.mark_notification(notification.key, "failed", attempts, None, message)
            else:
                report.retrying += 1
                retry_at = self.clock() + self.backoff(attempts)
                log.warning(
                    "notification %s failed (attempt %d): %s", notification.key, attempts, message
                )
                self.store.mark_notification(
                    notification.key, "pending", attempts, retry_at, message
                )
            return
        report.delivered += 1
        self.store.mark_notification(notification.key, "delivered", attempts, None, None)

    def drain(self, max_seconds: float = 10.0) -> DrainReport:
        """Send the due notifications for at most about ``max_seconds``; never raises for them."""
        report = DrainReport()
        deadline = time.monotonic() + max_seconds
        try:
            while time.monotonic() < deadline:
                due = self.store.due_notifications(self.clock(), limit=50)
                if not due:
                    break
                for notification in due:
                    if time.monotonic() >= deadline:
                        break
                    self._deliver(notification, report)
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
