"""Every store role written once over a :class:`~finsentry.store.dialect.Dialect`.

:class:`SQLStore` holds a dialect (SQLite or PostgreSQL) and implements the roles of
:mod:`finsentry.store.base` with shared SQL (``?`` placeholders); timestamps, JSON and stored item
rows pass through the dialect's adapters. The batch write lives in ``store/batch.py``,
re-aggregation in ``store/reaggregate.py``, retention in ``store/retention.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from finsentry.schema import Alert, DeadLetter, ScopeKind, ScoredItem, WindowStat, utc_now
from finsentry.store import batch as batch_write
from finsentry.store import columns as c
from finsentry.store import dead_letters as dead_sql
from finsentry.store import outbox as outbox_sql
from finsentry.store import reaggregate as reagg
from finsentry.store import retention
from finsentry.store import silences as silence_sql
from finsentry.store.base import (
    BatchWrite,
    BatchWriteResult,
    Notification,
    OutboxEntry,
    Silence,
)
from finsentry.store.check import Problem, check_store
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.rows import (
    alert_from_row,
    alert_values,
    notification_from_row,
    notification_values,
    nul_free,
    window_from_row,
)
from finsentry.store.state import put_state

D = TypeVar("D", bound=Dialect)


class SQLStore(Generic[D]):
    """The :class:`~finsentry.store.base.Store` roles over one SQL dialect."""

    url: str

    def __init__(self, dialect: D) -> None:
        self.dialect = dialect

    # --- plumbing, schema, batch write, maintenance -------------------------------------------

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of a read, for tests and benchmarks that look at tables directly."""
        return self.dialect.query(sql, params)

    def schema_version(self) -> int:
        return self.dialect.schema_version()

    def migrate(self) -> int:
        return self.dialect.migrate()

    def write_batch(self, batch: BatchWrite) -> BatchWriteResult:
        return batch_write.write_batch(self.dialect, batch)

    def reaggregate(
        self,
        since: datetime,
        window_sizes_s: Sequence[int],
        progress: Callable[[int], object] | None = None,
    ) -> int:
        return reagg.rebuild_windows(self.dialect, since, window_sizes_s, progress)

    def delete_items_before(self, before: datetime) -> int:
        return retention.delete_items_before(self.dialect, before)

    def check(self) -> list[Problem]:
        """Integrity problems (``finsentry db check``); an empty list when the store is consistent."""
        return check_store(self.dialect)

    def close(self) -> None:
        self.dialect.close()

    # --- pipeline state --------------------------------------------------------------------

    def get_state(self, key: str) -> Any:
        rows = self._all("SELECT value FROM pipeline_state WHERE key = ?", (nul_free(key),))
        return self.dialect.json_out(rows[0][0]) if rows else None

    def set_state(self, key: str, value: Any) -> None:
        self.dialect.transact(lambda tx: put_state(tx, self.dialect, key, value), "state write")

    def delete_state(self, key: str) -> None:
        self.dialect.transact(
            lambda tx: tx.execute("DELETE FROM pipeline_state WHERE key = ?", (nul_free(key),)),
            "state delete",
        )

    def get_states(self, prefix: str) -> dict[str, Any]:
        rows = self._all("SELECT key, value FROM pipeline_state ORDER BY key")
        return {r[0]: self.dialect.json_out(r[1]) for r in rows if str(r[0]).startswith(prefix)}

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        return self.dialect.exclusive(name)

    # --- windows and items -----------------------------------------------------------------

    def window_stats(
        self,
        size_s: int,
        start: datetime,
        end: datetime,
        scope_kind: ScopeKind | None = None,
        scope_value: str | None = None,
    ) -> list[WindowStat]:
        sql = (
            f"SELECT {c.WINDOW_SELECT} FROM window_stats WHERE window_size_s = ? "
            "AND window_start >= ? AND window_start < ?"
        )
        params: list[Any] = [size_s, self.dialect.ts_in(start), self.dialect.ts_in(end)]
        if scope_kind is not None:
            sql += " AND scope_kind = ?"
            params.append(str(scope_kind))
        if scope_value is not None:
            sql += " AND scope_value = ?"
            params.append(nul_free(scope_value))
        sql += " ORDER BY window_start, scope_kind, scope_value"
        return [
            window_from_row((r[0], self.dialect.ts_out(r[1]), *r[2:]))
            for r in self._all(sql, params)
        ]

    def items_between(
        self,
        start: datetime,
        end: datetime,
        scope_kind: ScopeKind = ScopeKind.ALL,
        scope_value: str = "*",
        limit: int = 1000,
    ) -> list[ScoredItem]:
        where = "i.published_at >= ? AND i.published_at < ?"
        params: list[Any] = [self.dialect.ts_in(start), self.dialect.ts_in(end)]
        join = ""
        kind = ScopeKind(scope_kind)
        if kind is ScopeKind.TICKER:
            join = "JOIN item_tickers t ON t.item_id = i.id"
            where = "t.ticker = ? AND t.published_at >= ? AND t.published_at < ?"
            params.insert(0, nul_free(scope_value))
        elif kind is ScopeKind.TOPIC:
            where += " AND i.topic = ?"
            params.append(nul_free(scope_value))
        elif kind is ScopeKind.SOURCE:
            where += " AND i.source = ?"
            params.append(nul_free(scope_value))
        sql = f"SELECT {c.items_select('i.')} FROM items i {join} WHERE {where} "
        sql += "ORDER BY i.published_at DESC, i.id LIMIT ?"
        return [self.dialect.scored(r) for r in self._all(sql, [*params, limit])]

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        spellings: dict[str, set[str]] = {}  # an id with NUL is stored with U+FFFD in its place
        for item_id in ids:
            spellings.setdefault(nul_free(item_id), set()).add(item_id)
        found: set[str] = set()
        for part in c.chunked(list(spellings), 500):
            marks = ", ".join("?" * len(part))
            for (stored,) in self._all(f"SELECT id FROM items WHERE id IN ({marks})", part):
                found.update(spellings[stored])
        return found

    def fingerprints_since(self, since: datetime) -> list[tuple[str, str, datetime]]:
        rows = self._all(
            "SELECT id, fingerprint, published_at FROM items WHERE published_at >= ? "
            "AND novel = ? AND fingerprint <> '' ORDER BY published_at, id",
            (self.dialect.ts_in(since), True),
        )
        return [(r[0], r[1], cast(datetime, self.dialect.ts_out(r[2]))) for r in rows]  # NOT NULL

    def stored_marks(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        sql = (
            "SELECT id, fingerprint, published_at, novel, duplicate_of FROM items "
            "WHERE published_at >= ? AND fingerprint <> ''"
        )
        params = [self.dialect.ts_in(start)]
        if end is not None:
            sql += " AND published_at < ?"
            params.append(self.dialect.ts_in(end))
        return [self._mark(r) for r in self._all(sql + " ORDER BY published_at, id", params)]

    def items_changed_since(
        self, since: datetime
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        at = self.dialect.ts_in(since)
        rows = self._all(
            "SELECT id, fingerprint, published_at, novel, duplicate_of FROM items "
            "WHERE ingested_at >= ? UNION SELECT id, fingerprint, published_at, novel, "
            "duplicate_of FROM items WHERE marked_at >= ?",
            (at, at),
        )
        return sorted((self._mark(r) for r in rows), key=lambda r: (r[2], r[0]))

    def _mark(self, row: Sequence[Any]) -> tuple[str, str, datetime, bool, str | None]:
        """(id, fingerprint, published_at, novel, duplicate_of) from a row of those columns."""
        return row[0], row[1], cast(datetime, self.dialect.ts_out(row[2])), bool(row[3]), row[4]

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        low, high = self._all("SELECT min(published_at), max(published_at) FROM items")[0]
        return self.dialect.ts_out(low), self.dialect.ts_out(high)

    def counts(self) -> dict[str, int]:
        sql = (
            "SELECT (SELECT count(*) FROM items), "
            "(SELECT coalesce(sum(CASE WHEN novel THEN 1 ELSE 0 END), 0) FROM items), "
            "(SELECT coalesce(sum(CASE WHEN novel THEN 0 ELSE 1 END), 0) FROM items), "
            "(SELECT coalesce(sum(CASE WHEN late THEN 1 ELSE 0 END), 0) FROM items), "
            "(SELECT count(*) FROM dead_letters), (SELECT count(*) FROM alerts), "
            "(SELECT count(*) FROM window_stats)"
        )
        names = ("items", "novel", "duplicates", "late", "dead_letters", "alerts", "windows")
        return dict(zip(names, map(int, self._all(sql)[0]), strict=True))

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        return [dead for dead, _ in dead_sql.rows(self.dialect, replayed=True, limit=limit)]

    def dead_letter_rows(
        self,
        reason: str | None = None,
        since: datetime | None = None,
        replayed: bool = False,
        limit: int | None = None,
    ) -> list[tuple[DeadLetter, datetime | None]]:
        return dead_sql.rows(self.dialect, reason, since, replayed, limit)

    def dead_letter_counts(
        self, reason: str | None = None, since: datetime | None = None, replayed: bool = False
    ) -> dict[str, int]:
        return dead_sql.counts(self.dialect, reason, since, replayed)

    def mark_replayed(self, keys: Sequence[str], at: datetime) -> int:
        return dead_sql.mark_replayed(self.dialect, keys, at)

    def delete_dead_letters_before(self, before: datetime) -> int:
        return dead_sql.delete_before(self.dialect, before)

    # --- alerts ----------------------------------------------------------------------------

    def insert_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        sql = c.insert_sql("alerts", c.ALERT_COLUMNS, "?", "ON CONFLICT DO NOTHING RETURNING id")

        def work(tx: Transaction) -> list[Alert]:
            new: list[Alert] = []
            for alert in alerts:
                v = alert_values(alert)
                for name in ("window_start", "window_end", "fired_at"):
                    v[name] = self.dialect.ts_in(v[name])
                v["evidence"] = self.dialect.json_in(v["evidence"])
                if tx.execute(sql, [v[k] for k in c.ALERT_COLUMNS]).fetchall():
                    new.append(alert)
            return new

        return self.dialect.transact(work, "alert insert") if alerts else []

    def resolve_alert(self, alert_id: str, resolved_at: datetime) -> bool:
        sql = (
            "UPDATE alerts SET status = 'resolved', resolved_at = ? "
            "WHERE id = ? AND status <> 'resolved'"
        )
        params = (self.dialect.ts_in(resolved_at), nul_free(alert_id))
        return self.dialect.transact(
            lambda tx: tx.execute(sql, params).rowcount == 1, "alert update"
        )

    def alerts(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[Alert]:
        sql = f"SELECT {', '.join(c.ALERT_COLUMNS)} FROM alerts WHERE 1 = 1"
        params: list[Any] = []
        if since is not None:
            sql += " AND window_start >= ?"
            params.append(self.dialect.ts_in(since))
        if until is not None:
            sql += " AND window_start < ?"
            params.append(self.dialect.ts_in(until))
        sql += " ORDER BY window_start, fired_at, id LIMIT ?"
        params.append(self.dialect.no_limit if limit is None else limit)
        out = []
        for r in self._all(sql, params):
            row = list(r)
            for i in (5, 6, 7):
                row[i] = self.dialect.ts_out(row[i])
            row[11] = self.dialect.json_out(row[11])
            out.append(alert_from_row(row))
        return out

    # --- outbox -------------------------------------------------------------------------

    def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        now = utc_now()
        sql = c.insert_sql(
            "notifications", c.NOTIFICATION_COLUMNS, "?", "ON CONFLICT DO NOTHING RETURNING key"
        )

        def work(tx: Transaction) -> int:
            new = 0
            for n in notifications:
                row = list(notification_values(n, now))
                row[3] = self.dialect.json_in(row[3])
                row[6], row[8] = self.dialect.ts_in(row[6]), self.dialect.ts_in(row[8])
                new += len(tx.execute(sql, row).fetchall())
            return new

        return self.dialect.transact(work, "outbox write") if notifications else 0

    def due_notifications(self, now: datetime, limit: int = 100) -> list[Notification]:
        rows = self._all(
            f"SELECT {', '.join(c.NOTIFICATION_COLUMNS)} FROM notifications "
            "WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "ORDER BY created_at, key LIMIT ?",
            (self.dialect.ts_in(now), limit),
        )
        return [
            notification_from_row(
                (*r[:3], self.dialect.json_out(r[3]), r[4], r[5], self.dialect.ts_out(r[6]), *r[7:])
            )
            for r in rows
        ]

    def mark_notification(
        self,
        key: str,
        status: str,
        attempts: int,
        next_attempt_at: datetime | None,
        error: str | None,
    ) -> None:
        delivered = self.dialect.ts_in(utc_now()) if status == "delivered" else None
        sql = (
            "UPDATE notifications SET status = ?, attempts = ?, next_attempt_at = ?, "
            "last_error = ?, delivered_at = coalesce(?, delivered_at) WHERE key = ?"
        )
        error = None if error is None else nul_free(error)
        params = (
            status,
            attempts,
            self.dialect.ts_in(next_attempt_at),
            error,
            delivered,
            nul_free(key),
        )
        self.dialect.transact(lambda tx: tx.execute(sql, params), "outbox update")

    def claim_notification(
        self, notification: Notification, attempts: int, next_attempt_at: datetime
    ) -> bool:
        return outbox_sql.claim(self.dialect, notification, attempts, next_attempt_at)

    def outbox(self, status: str | None = None, limit: int | None = None) -> list[OutboxEntry]:
        return outbox_sql.entries(self.dialect, status, limit)

    def retry_notifications(self, key: str | None = None) -> int:
        return outbox_sql.retry(self.dialect, key)

    def purge_notifications(self, before: datetime) -> int:
        return outbox_sql.purge(self.dialect, before)

    # --- silences (store/silences.py) -------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        silence_sql.add_silence(self.dialect, silence)

    def silences(self, not_ended_at: datetime | None = None) -> list[Silence]:
        return silence_sql.silences(self.dialect, not_ended_at)

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        return silence_sql.expire_silence(self.dialect, silence_id, at)

    def silence_for(
        self, scope_kind: str, scope_value: str, rule: str, at: datetime
    ) -> Silence | None:
        return silence_sql.silence_for(self.dialect, scope_kind, scope_value, rule, at)

    def is_muted(self, scope_kind: str, scope_value: str, rule: str, at: datetime) -> bool:
        return self.silence_for(scope_kind, scope_value, rule, at) is not None

    def scope_seen(self, scope_kind: str, scope_value: str) -> bool:
        return silence_sql.scope_seen(self.dialect, scope_kind, scope_value)
