"""An alert's delivery history: the outbox rows that carried it, on every channel.

The alerts of one window travel together in one notification per channel, keyed by the group's
first alert; so an alert's deliveries are the outbox rows whose payload lists it. They are found
among the notifications of the alerts of nearby windows, read through the store's SQL dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from finsentry.schema import Alert
from finsentry.store.base import Store
from finsentry.store.reads import sql_reads

NEARBY = timedelta(days=1)
COLUMNS = "key, alert_id, channel, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row that carries the alert."""

    channel: str
    status: str
    attempts: int
    created_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    key: str


def find_alert(store: Store, alert_id: str) -> list[Alert]:
    """The stored alerts whose id is ``alert_id`` or starts with it (as ``git`` takes ids)."""
    wanted = alert_id.strip().lower()
    if not wanted:
        return []
    found = [a for a in store.alerts() if a.id.startswith(wanted)]
    exact = [a for a in found if a.id == wanted]
    return exact or found


def deliveries(store: Store, alert: Alert) -> list[Delivery]:
    """The outbox rows whose notification carries ``alert``, oldest first."""
    reads = sql_reads(store)
    if reads is None:
        return []
    nearby = store.alerts(since=alert.window_start - NEARBY, until=alert.window_start + NEARBY)
    ids = sorted({a.id for a in nearby} | {alert.id})
    marks = ", ".join("?" for _ in ids)
    rows = reads.query(
        f"SELECT {COLUMNS} FROM notifications WHERE alert_id IN ({marks}) "  # noqa: S608 - placeholders only
        "ORDER BY created_at, key",
        tuple(ids),
    )
    out = []
    for key, lead, channel, payload, status, attempts, next_at, error, created, delivered in rows:
        data = reads.json_out(payload)
        carried = (
            {str(a.get("id")) for a in data.get("alerts", [])} if isinstance(data, dict) else set()
        )
        if alert.id != lead and alert.id not in carried:
            continue
        out.append(
            Delivery(str(channel), str(status), int(attempts), reads.ts_out(created),
                     reads.ts_out(delivered), reads.ts_out(next_at), error, str(key))
        )  # fmt: skip
    return out
