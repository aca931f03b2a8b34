"""The reads and small writes both SQL stores share, written once against a few dialect hooks.

SQL here uses ``?`` placeholders (PostgreSQL's store turns them into ``%s``); timestamps, JSON and
stored item rows pass through the backend's ``_ts_in``/``_ts_out``, ``_json_in``/``_json_out``
and ``_scored``. Batch writes, migrations and re-aggregation stay in each backend, where the
drivers differ (COPY, temp tables, locking).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from finsentry.schema import Alert, DeadLetter, ScopeKind, ScoredItem, WindowStat, utc_now
from finsentry.store import common as c
from finsentry.store.base import Notification

T = TypeVar("T")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


Execute = Callable[[str, Sequence[Any]], Cursor]


class SharedQueries:
    """Mixin: state, window and item reads, alerts, outbox, mutes, dead letters, counts."""

    NO_LIMIT: Any = None

    # --- dialect hooks (each backend provides these) ----------------------------------------

    def _transact(self, work: Callable[[Execute], T], what: str) -> T:
        raise NotImplementedError

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _ts_in(self, value: datetime | None) -> Any:
        raise NotImplementedError

    def _ts_out(self, value: Any) -> Any:
        raise NotImplementedError

    def _json_in(self, value: Any) -> Any:
        raise NotImplementedError

    def _json_out(self, value: Any) -> Any:
        raise NotImplementedError

    def _scored(self, row: Sequence[Any]) -> ScoredItem:
        raise NotImplementedError

    # --- pipeline state --------------------------------------------------------------------

    def _put_state(self, execute: Execute, key: str, value: Any) -> None:
        execute(
            "INSERT INTO pipeline_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, self._json_in(value)),
        )

    def get_state(self, key: str) -> Any:
        rows = self._all("SELECT value FROM pipeline_state WHERE key = ?", (key,))
        return self._json_out(rows[0][0]) if rows else None

    def set_state(self, key: str, value: Any) -> None:
        self._transact(lambda execute: self._put_state(execute, key, value), "state write")

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
        params: list[Any] = [size_s, self._ts_in(start), self._ts_in(end)]
        if scope_kind is not None:
            sql += " AND scope_kind = ?"
            params.append(str(scope_kind))
        if scope_value is not None:
            sql += " AND scope_value = ?"
            params.append(scope_value)
        sql += " ORDER BY window_start, scope_kind, scope_value"
        return [
            c.window_from_row((r[0], self._ts_out(r[1]), *r[2:])) for r in self._all(sql, params)
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
        params: list[Any] = [self._ts_in(start), self._ts_in(end)]
        join = ""
        kind = ScopeKind(scope_kind)
        if kind is ScopeKind.TICKER:
            join = "JOIN item_tickers t ON t.item_id = i.id"
            where = "t.ticker = ? AND t.published_at >= ? AND t.published_at < ?"
            params.insert(0, scope_value)
        elif kind is ScopeKind.TOPIC:
            where += " AND i.topic = ?"
            params.append(scope_value)
        elif kind is ScopeKind.SOURCE:
            where += " AND i.source = ?"
            params.append(scope_value)
        sql = f"SELECT {c.items_select('i.')} FROM items i {join} WHERE {where} "
        sql += "ORDER BY i.published_at DESC, i.id LIMIT ?"
        return [self._scored(r) for r in self._all(sql, [*params, limit])]

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in c.chunked(list(ids), 500):
            marks = ", ".join("?" * len(part))
            found.update(
                r[0] for r in self._all(f"SELECT id FROM items WHERE id IN ({marks})", part)
            )
        return found

    def fingerprints_since(self, since: datetime) -> list[tuple[str, str, datetime]]:
        rows = self._all(
            "SELECT id, fingerprint, published_at FROM items WHERE published_at >= ? "
            "AND novel = ? AND fingerprint <> '' ORDER BY published_at, id",
            (self._ts_in(since), True),
        )
        return [(r[0], r[1], self._ts_out(r[2])) for r in rows]

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        low, high = self._all("SELECT min(published_at), max(published_at) FROM items")[0]
        return self._ts_out(low), self._ts_out(high)

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
        rows = self._all(
            f"SELECT {', '.join(c.DEAD_LETTER_COLUMNS)} FROM dead_letters "
            "ORDER BY received_at, key LIMIT ?",
            (self.NO_LIMIT if limit is None else limit,),
        )
        return [c.dead_letter_from_row((*r[:7], self._ts_out(r[7]))) for r in rows]

    # --- alerts ----------------------------------------------------------------------------

    def insert_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        sql = c.insert_sql("alerts", c.ALERT_COLUMNS, "?", "ON CONFLICT DO NOTHING RETURNING id")

        def work(execute: Execute) -> list[Alert]:
            new: list[Alert] = []
            for alert in alerts:
                v = c.alert_values(alert)
                for name in ("window_start", "window_end", "fired_at"):
                    v[name] = self._ts_in(v[name])
                v["evidence"] = self._json_in(v["evidence"])
                if execute(sql, [v[k] for k in c.ALERT_COLUMNS]).fetchall():
                    new.append(alert)
            return new

        return self._transact(work, "alert insert") if alerts else []

    def resolve_alert(self, alert_id: str, resolved_at: datetime) -> bool:
        sql = (
            "UPDATE alerts SET status = 'resolved', resolved_at = ? "
            "WHERE id = ? AND status <> 'resolved'"
        )
        params = (self._ts_in(resolved_at), alert_id)
        return self._transact(lambda execute: execute(sql, params).rowcount == 1, "alert update")

    def alerts(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[Alert]:
        sql = f"SELECT {', '.join(c.ALERT_COLUMNS)} FROM alerts WHERE 1 = 1"
        params: list[Any] = []
        if since is not None:
            sql += " AND window_start >= ?"
            params.append(self._ts_in(since))
        if until is not None:
            sql += " AND window_start < ?"
            params.append(self._ts_in(until))
        sql += " ORDER BY window_start, fired_at, id LIMIT ?"
        params.append(self.NO_LIMIT if limit is None else limit)
        out = []
        for r in self._all(sql, params):
            row = list(r)
            for i in (5, 6, 7):
                row[i] = self._ts_out(row[i])
            row[11] = self._json_out(row[11])
            out.append(c.alert_from_row(row))
        return out

    # --- outbox and mutes ------------------------------------------------------------------

    def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        now = utc_now()
        sql = c.insert_sql(
            "notifications", c.NOTIFICATION_COLUMNS, "?", "ON CONFLICT DO NOTHING RETURNING key"
        )

        def work(execute: Execute) -> int:
            new = 0
            for n in notifications:
                row = list(c.notification_values(n, now))
                row[3] = self._json_in(row[3])
                row[6], row[8] = self._ts_in(row[6]), self._ts_in(row[8])
                new += len(execute(sql, row).fetchall())
            return new

        return self._transact(work, "outbox write") if notifications else 0

    def due_notifications(self, now: datetime, limit: int = 100) -> list[Notification]:
        rows = self._all(
            f"SELECT {', '.join(c.NOTIFICATION_COLUMNS)} FROM notifications "
            "WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "ORDER BY created_at, key LIMIT ?",
            (self._ts_in(now), limit),
        )
        return [
            c.notification_from_row(
                (*r[:3], self._json_out(r[3]), r[4], r[5], self._ts_out(r[6]), *r[7:])
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
        delivered = self._ts_in(utc_now()) if status == "delivered" else None
        sql = (
            "UPDATE notifications SET status = ?, attempts = ?, next_attempt_at = ?, "
            "last_error = ?, delivered_at = coalesce(?, delivered_at) WHERE key = ?"
        )
        params = (status, attempts, self._ts_in(next_attempt_at), error, delivered, key)
        self._transact(lambda execute: execute(sql, params), "outbox update")

    def is_muted(self, scope_kind: str, scope_value: str, rule: str, at: datetime) -> bool:
        rows = self._all(
            "SELECT 1 FROM mutes WHERE scope_kind = ? AND scope_value = ? "
            "AND (rule IS NULL OR rule = ?) AND until > ? LIMIT 1",
            (str(scope_kind), scope_value, rule, self._ts_in(at)),
        )
        return bool(rows)

    def add_mute(
        self, scope_kind: str, scope_value: str, rule: str | None, until: datetime, reason: str
    ) -> None:
        sql = (
            "INSERT INTO mutes (scope_kind, scope_value, rule, until, reason) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        params = (str(scope_kind), scope_value, rule, self._ts_in(until), reason)
        self._transact(lambda execute: execute(sql, params), "mute write")
