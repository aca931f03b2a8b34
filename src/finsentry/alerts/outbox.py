"""The outbox sender: delivers stored notifications at least once, with backoff and jitter.

The engine writes every notification to the store (``notifications``) before anything is sent;
:meth:`OutboxSender.drain` sends the due ones. A failure schedules the next attempt after an
exponential backoff with jitter (``base * 2**(attempts-1)``, capped, then scaled by a random
factor in [0.5, 1]); a permanent failure (HTTP 4xx, no recipients) or ``max_attempts`` failures mark
the row ``failed``. Because rows are in the store, pending notifications survive a restart; because
every delivery carries its idempotency key (alert id + channel), receivers can drop the repeats that
at-least-once delivery implies. Delivery errors never propagate: the pipeline is never blocked by a
mail server or webhook receiver.

With SQLite, give the background thread of :meth:`run_forever` a store of its own
(``open_store(settings.db)``): a connection must not be shared by two threads mid-transaction.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from finsentry.alerts.webhook import DeliveryError, WebhookNotifier
from finsentry.config import Settings
from finsentry.schema import utc_now
from finsentry.store.base import Notification, Store

log = logging.getLogger(__name__)


class ChannelSender(Protocol):
    def __call__(self, notification: Notification) -> None: ...


@dataclass(slots=True)
class DrainReport:
    """What one :meth:`OutboxSender.drain` did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class OutboxSender:
    """Sends due outbox rows through the e-mail and webhook notifiers."""

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
        senders: dict[str, ChannelSender] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()  # jitter only: not security relevant
        self._senders = dict(senders or {})
        self._webhook: WebhookNotifier | None = None

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next attempt after ``attempts`` failures (exponential, jittered)."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=delay * (0.5 + 0.5 * self.rng.random()))

    def _sender(self, channel: str) -> ChannelSender:
        if channel in self._senders:
            return self._senders[channel]
        if channel == "email":
            from finsentry.alerts.email import EmailNotifier

            sender: ChannelSender = EmailNotifier(self.settings).send
        elif channel.startswith("webhook:"):
            from finsentry.alerts.engine import webhook_channel

            urls = {webhook_channel(u): u for u in self.settings.webhook_urls}
            # notifications queued before channels were hashed are named by their URL
            urls.update({f"webhook:{u}": u for u in self.settings.webhook_urls})
            if channel not in urls:
                raise DeliveryError(
                    f"{channel} is no longer in FINSENTRY_WEBHOOK_URLS", permanent=True
                )
            if self._webhook is None:
                self._webhook = WebhookNotifier(self.settings)
            webhook, url = self._webhook, urls[channel]

            def sender(notification: Notification) -> None:
                webhook.send(url, notification)

        else:
            raise DeliveryError(f"unknown channel {channel!r}", permanent=True)
        self._senders[channel] = sender
        return sender

    def _deliver(self, notification: Notification, report: DrainReport) -> None:
        report.attempted += 1
        attempts = notification.attempts + 1
        try:
            self._sender(notification.channel)(notification)
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
        if self._webhook is not None:
            self._webhook.close()
