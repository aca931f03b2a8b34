"""Outbox operations in the store (``notifications``), written once over a dialect: listing,
claiming a row before a send, manual retries and purging old rows.

A sender *claims* a row before it sends: the attempt is counted and the next attempt scheduled in
the same conditional update, so a sender killed mid-send (or a slow server that confirms after the
client gave up) cannot make a row re-sent more often than the backoff and the maximum of attempts
allow, and two senders never send the same attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finsentry.store.base import Notification, OutboxEntry
from finsentry.store.columns import NOTIFICATION_COLUMNS
from finsentry.store.dialect import Dialect
from finsentry.store.rows import notification_from_row, nul_free

_SELECT = f"SELECT {', '.join(NOTIFICATION_COLUMNS)}, delivered_at FROM notifications"


def entries(dialect: Dialect, status: str | None, limit: int | None) -> list[OutboxEntry]:
    sql, params = _SELECT, list[Any]()
    if status is not None:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY created_at, key LIMIT ?"
    params.append(dialect.no_limit if limit is None else limit)
    out = []
    for r in dialect.query(sql, params):
        row = (*r[:3], dialect.json_out(r[3]), r[4], r[5], dialect.ts_out(r[6]), *r[7:9])
        out.append(
            OutboxEntry(notification_from_row(row), dialect.ts_out(r[8]), dialect.ts_out(r[9]))
        )
    return out


def claim(dialect: Dialect, n: Notification, attempts: int, next_attempt_at: datetime) -> bool:
    """Count an attempt of a pending row still as ``n`` saw it; False when another sender (or a
    manual change) got there first."""
    sql = (
        "UPDATE notifications SET attempts = ?, next_attempt_at = ? "
        "WHERE key = ? AND status = 'pending' AND attempts = ?"
    )
    params = (attempts, dialect.ts_in(next_attempt_at), nul_free(n.key), n.attempts)
    return dialect.transact(lambda tx: tx.execute(sql, params).rowcount == 1, "outbox claim")


def retry(dialect: Dialect, key: str | None) -> int:
    """Make failed rows (and pending ones waiting for their backoff) due now, with a fresh count
    of attempts: one row by key, or all when ``key`` is None. Delivered rows stay as they are."""
    sql = (
        "UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = NULL "
        "WHERE status IN ('pending', 'failed')"
    )
    params: tuple[str, ...] = ()
    if key is not None:
        sql += " AND key = ?"
        params = (nul_free(key),)
    return dialect.transact(lambda tx: tx.execute(sql, params).rowcount, "outbox retry")


def purge(dialect: Dialect, before: datetime) -> int:
    """Delete delivered and failed rows created before a time; pending rows are never purged."""
    sql = "DELETE FROM notifications WHERE status IN ('delivered', 'failed') AND created_at < ?"
    params = (dialect.ts_in(before),)
    return dialect.transact(lambda tx: tx.execute(sql, params).rowcount, "outbox purge")
