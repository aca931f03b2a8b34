"""Connection attempts to a channel that stays down: the outbox sender with the default settings.

    .venv/bin/python benchmarks/outbox_backoff.py --alerts 20 --hours 3 --every 10

``--alerts`` notifications are queued for one webhook channel whose server refuses every send; the
sender drains every ``--every`` seconds of simulated time for ``--hours``. Printed: how many sends
reached the server, and the notifications by status. With per-channel backoff one notification
probes the channel per backoff period; before it (commit 4b6ad46) every queued notification was
retried on its own schedule: 240 sends for 20 alerts over 3 hours.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.alerts.errors import DeliveryError
from finsentry.alerts.outbox import OutboxSender
from finsentry.config import Settings
from finsentry.store import open_store
from finsentry.store.base import Notification

CHANNEL = "webhook:down"


class DownServer:
    """A notifier whose server refuses every connection; counts the attempts."""

    channel = CHANNEL

    def __init__(self) -> None:
        self.sends = 0

    def send(self, notification: Notification) -> None:
        self.sends += 1
        raise DeliveryError("connection refused")

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between drains")
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # the expected failures
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "outbox.db"))  # type: ignore[call-arg]
        store = open_store(settings.db)
        queued = [Notification(f"alert{i:03d}", CHANNEL, {}) for i in range(args.alerts)]
        store.enqueue_notifications(queued)
        server, now = DownServer(), [datetime(2026, 3, 2, tzinfo=UTC)]
        sender = OutboxSender(settings, store, clock=lambda: now[0], rng=random.Random(1),
                              notifiers={CHANNEL: server})  # fmt: skip
        for _ in range(int(args.hours * 3600 / args.every)):
            sender.drain(max_seconds=5)
            now[0] += timedelta(seconds=args.every)
        states = {s: len(store.outbox(s)) for s in ("pending", "failed", "delivered")}
        store.close()
    print(f"{args.alerts} alerts, server down for {args.hours:g} h, a drain every {args.every:g} s")
    print(f"sends that reached the server: {server.sends}")
    print("notifications: " + ", ".join(f"{k} {v}" for k, v in states.items()))


if __name__ == "__main__":
    main()
