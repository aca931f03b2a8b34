"""The delivery loop: the outbox sent from a background thread while the pipeline runs, or
drained once on its own (:func:`drain_outbox`, for ``finsentry deliver`` and Airflow).

Detection only writes notifications to the outbox (:mod:`finsentry.alerts.outbox`); this thread
delivers them, so a slow or broken mail server or webhook receiver never holds up the pipeline.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from finsentry.config import Settings

if TYPE_CHECKING:
    from finsentry.alerts.outbox import DrainReport


def drain_outbox(settings: Settings, max_seconds: float = 60.0) -> DrainReport:
    """Send the due notifications once, for at most about ``max_seconds`` (``finsentry deliver``,
    the Airflow outbox task): for deployments where no pipeline runs between batches."""
    from finsentry.alerts.outbox import OutboxSender
    from finsentry.store import open_store

    store = open_store(settings.db)
    sender = OutboxSender(settings, store)
    try:
        return sender.drain(max_seconds=max_seconds)
    finally:
        sender.close()
        store.close()


class AlertDelivery:
    """Sends the outbox in a background thread, with a store connection of its own.

    On stop it makes one last bounded attempt; what is still undelivered stays in the outbox for
    the next run.
    """

    def __init__(self, settings: Settings, final_drain_s: float = 10.0) -> None:
        self.settings = settings
        self.final_drain_s = final_drain_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="finsentry-outbox", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from finsentry.alerts.outbox import OutboxSender
        from finsentry.store import open_store

        store = open_store(self.settings.db)
        sender = OutboxSender(self.settings, store)
        try:
            sender.run_forever(self._stop, interval_s=1.0)
            sender.drain(max_seconds=self.final_drain_s)
        finally:
            sender.close()
            store.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.final_drain_s + 30.0)
