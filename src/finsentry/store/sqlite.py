"""The embedded default store: one SQLite file in WAL mode.

Each :meth:`SQLiteStore.write_batch` is one ``BEGIN IMMEDIATE`` transaction (several processes may
write the same file; SQLite serialises them). Timestamps are fixed-width ISO-8601 UTC text, so text
order is time order; lists and JSON are stored as JSON text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from finsentry.aggregate import window_deltas
from finsentry.schema import Alert, DeadLetter, ScopeKind, ScoredItem, WindowStat, as_utc, utc_now
from finsentry.store import common as c
from finsentry.store.base import BatchWrite, BatchWriteResult, Notification

RETENTION_KEY = c.RETENTION_KEY


def ts(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else as_utc(datetime.fromisoformat(value))


def _must_ts(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def sqlite_path(url: str) -> str:
    """A filesystem path from ``sqlite:///path``, ``sqlite://`` (memory) or a bare path."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        return (
            rest[1:] if rest.startswith("/") and not rest.startswith("//") else rest or ":memory:"
        )
    return url


class SQLiteStore:
    """:class:`finsentry.store.base.Store` on an embedded SQLite file."""

    def __init__(self, url: str, *, busy_timeout_s: float = 60.0) -> None:
        self.url = url
        self.path = sqlite_path(url)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")

    # --- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:  # one connection, shared by the threads of one process
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def schema_version(self) -> int:
        exists = self._all("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'")
        if not exists:
            return 0
        return int(self._all("SELECT coalesce(max(version), 0) FROM schema_version")[0][0])

    def migrate(self) -> int:
        with self._tx() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = self.schema_version()
            for migration in c.migrations("sqlite"):
                if migration.version <= current:
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    (migration.version, migration.name, ts(utc_now())),
                )
        return self.schema_version()

    # --- writes ----------------------------------------------------------------------------

    def write_batch(self, batch: BatchWrite) -> BatchWriteResult:
        now = utc_now()
        with self._tx() as conn:
            items, too_old = c.split_retained(
                c.first_by_id(batch.items), _state_ts(conn, RETENTION_KEY)
            )
            known = self._known(conn, [i.id for i in items])
            new = [i for i in items if i.id not in known]
            conn.executemany(
                c.insert_sql("items", c.ITEM_COLUMNS, "?", "ON CONFLICT (id) DO NOTHING"),
                [_item_row(i, now) for i in new],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO item_tickers VALUES (?, ?, ?, ?, ?)",
                [(r[0], r[1], ts(r[2]), r[3], r[4]) for i in new for r in c.ticker_rows(i)],
            )
            deltas = window_deltas(new, batch.window_sizes_s)
            self._upsert_windows(conn, deltas)
            before = conn.total_changes
            conn.executemany(
                c.insert_sql("dead_letters", c.DEAD_LETTER_COLUMNS, "?", "ON CONFLICT DO NOTHING"),
                [_with_ts(c.dead_letter_values(d), 7) for d in [*batch.dead_letters, *too_old]],
            )
            new_dead = conn.total_changes - before
            for key, value in batch.state.items():
                self._put_state(conn, key, value)
            if batch.health is not None:
                conn.execute(
                    c.insert_sql("batches", c.BATCH_COLUMNS, "?"),
                    _with_ts(c.batch_values(batch.health, now), 0),
                )
        return BatchWriteResult(len(new), new_dead, len(deltas))

    @staticmethod
    def _known(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in c.chunked(ids, 500):
            marks = ",".join("?" * len(part))
            rows = conn.execute(f"SELECT id FROM items WHERE id IN ({marks})", tuple(part))
            found.update(r[0] for r in rows)
        return found

    @staticmethod
    def _upsert_windows(conn: sqlite3.Connection, stats: Sequence[WindowStat]) -> None:
        text: dict[datetime, str | None] = {}  # many deltas share a start or an end

        def cached(value: datetime) -> str | None:
            found = text.get(value)
            if found is None:
                found = text[value] = ts(value)
            return found

        conn.executemany(
            c.insert_sql("window_stats", c.WINDOW_COLUMNS, "?", c.window_upsert_tail()),
            [
                (
                    s.size_s,
                    cached(s.start),
                    cached(s.end),
                    str(s.scope_kind),
                    s.scope_value,
                    s.count,
                    s.negative,
                    s.neutral,
                    s.positive,
                    s.score_sum,
                    s.duplicates,
                    s.late,
                )
                for s in stats
            ],  # fmt: skip
        )

    @staticmethod
    def _put_state(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO pipeline_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, sort_keys=True)),
        )

    def get_state(self, key: str) -> Any:
        rows = self._all("SELECT value FROM pipeline_state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_state(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            self._put_state(conn, key, value)

    # --- reads -----------------------------------------------------------------------------

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
        params: list[Any] = [size_s, ts(start), ts(end)]
        if scope_kind is not None:
            sql += " AND scope_kind = ?"
            params.append(str(scope_kind))
        if scope_value is not None:
            sql += " AND scope_value = ?"
            params.append(scope_value)
        sql += " ORDER BY window_start, scope_kind, scope_value"
        return [c.window_from_row((r[0], parse_ts(r[1]), *r[2:])) for r in self._all(sql, params)]

    def items_between(
        self,
        start: datetime,
        end: datetime,
        scope_kind: ScopeKind = ScopeKind.ALL,
        scope_value: str = "*",
        limit: int = 1000,
    ) -> list[ScoredItem]:
        cols = c.items_select("i.")
        where = "i.published_at >= ? AND i.published_at < ?"
        params: list[Any] = [ts(start), ts(end)]
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
        sql = f"SELECT {cols} FROM items i {join} WHERE {where} "
        sql += "ORDER BY i.published_at DESC, i.id LIMIT ?"
        return [_scored(r) for r in self._all(sql, [*params, limit])]

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        with self._lock:
            return self._known(self._conn, list(ids))

    def fingerprints_since(self, since: datetime) -> list[tuple[str, str, datetime]]:
        rows = self._all(
            "SELECT id, fingerprint, published_at FROM items WHERE published_at >= ? "
            "AND novel = 1 AND fingerprint != '' ORDER BY published_at, id",
            (ts(since),),
        )
        return [(r[0], r[1], as_utc(datetime.fromisoformat(r[2]))) for r in rows]

    # --- alerts and outbox -----------------------------------------------------------------

    def insert_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        sql = c.insert_sql("alerts", c.ALERT_COLUMNS, "?", "ON CONFLICT DO NOTHING")
        new: list[Alert] = []
        with self._tx() as conn:
            for alert in alerts:
                v = c.alert_values(alert)
                for name in ("window_start", "window_end", "fired_at"):
                    v[name] = ts(v[name])
                v["evidence"] = json.dumps(v["evidence"])
                if conn.execute(sql, [v[k] for k in c.ALERT_COLUMNS]).rowcount == 1:
                    new.append(alert)
        return new

    def resolve_alert(self, alert_id: str, resolved_at: datetime) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE alerts SET status = 'resolved', resolved_at = ? "
                "WHERE id = ? AND status != 'resolved'",
                (ts(resolved_at), alert_id),
            )
            return cur.rowcount == 1

    def alerts(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[Alert]:
        sql = f"SELECT {', '.join(c.ALERT_COLUMNS)} FROM alerts WHERE 1 = 1"
        params: list[Any] = []
        if since is not None:
            sql += " AND window_start >= ?"
            params.append(ts(since))
        if until is not None:
            sql += " AND window_start < ?"
            params.append(ts(until))
        sql += " ORDER BY window_start, fired_at, id LIMIT ?"
        params.append(-1 if limit is None else limit)
        out = []
        for r in self._all(sql, params):
            row = list(r)
            for i in (5, 6, 7):
                row[i] = parse_ts(row[i])
            row[11] = json.loads(row[11])
            out.append(c.alert_from_row(row))
        return out

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        rows = self._all(
            f"SELECT {', '.join(c.DEAD_LETTER_COLUMNS)} FROM dead_letters "
            "ORDER BY received_at, key LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [c.dead_letter_from_row((*r[:7], parse_ts(r[7]))) for r in rows]

    def counts(self) -> dict[str, int]:
        items = self._all(
            "SELECT count(*), coalesce(sum(novel), 0), coalesce(sum(1 - novel), 0), "
            "coalesce(sum(late), 0) FROM items"
        )[0]
        out = dict(zip(("items", "novel", "duplicates", "late"), map(int, items), strict=True))
        for name, table in (("dead_letters", "dead_letters"), ("alerts", "alerts")):
            out[name] = int(self._all(f"SELECT count(*) FROM {table}")[0][0])
        out["windows"] = int(self._all("SELECT count(*) FROM window_stats")[0][0])
        return out

    def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        now = utc_now()
        sql = c.insert_sql("notifications", c.NOTIFICATION_COLUMNS, "?", "ON CONFLICT DO NOTHING")
        with self._tx() as conn:
            before = conn.total_changes
            for n in notifications:
                row = list(c.notification_values(n, now))
                row[3] = json.dumps(row[3], sort_keys=True)
                row[6], row[8] = ts(row[6]), ts(row[8])
                conn.execute(sql, row)
            return conn.total_changes - before

    def due_notifications(self, now: datetime, limit: int = 100) -> list[Notification]:
        rows = self._all(
            f"SELECT {', '.join(c.NOTIFICATION_COLUMNS)} FROM notifications "
            "WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
            "ORDER BY created_at, key LIMIT ?",
            (ts(now), limit),
        )
        return [
            c.notification_from_row((*r[:3], json.loads(r[3]), r[4], r[5], parse_ts(r[6]), *r[7:]))
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
        delivered = ts(utc_now()) if status == "delivered" else None
        with self._tx() as conn:
            conn.execute(
                "UPDATE notifications SET status = ?, attempts = ?, next_attempt_at = ?, "
                "last_error = ?, delivered_at = coalesce(?, delivered_at) WHERE key = ?",
                (status, attempts, ts(next_attempt_at), error, delivered, key),
            )

    def is_muted(self, scope_kind: str, scope_value: str, rule: str, at: datetime) -> bool:
        rows = self._all(
            "SELECT 1 FROM mutes WHERE scope_kind = ? AND scope_value = ? "
            "AND (rule IS NULL OR rule = ?) AND until > ? LIMIT 1",
            (str(scope_kind), scope_value, rule, ts(at)),
        )
        return bool(rows)

    def add_mute(
        self, scope_kind: str, scope_value: str, rule: str | None, until: datetime, reason: str
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO mutes (scope_kind, scope_value, rule, until, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (str(scope_kind), scope_value, rule, ts(until), reason),
            )

    # --- maintenance -----------------------------------------------------------------------

    def reaggregate(self, since: datetime, window_sizes_s: Sequence[int]) -> int:
        with self._tx() as conn:
            marker = _state_ts(conn, RETENTION_KEY)
            starts = c.reaggregate_starts(since, window_sizes_s, marker)
            for size, start in starts.items():
                conn.execute(
                    "DELETE FROM window_stats WHERE window_size_s = ? AND window_start >= ?",
                    (size, ts(start)),
                )
            cur = conn.execute(
                f"SELECT {c.items_select()} FROM items WHERE published_at >= ? "
                "ORDER BY published_at, id",
                (ts(min(starts.values())),),
            )
            folder = c.WindowFolder(starts)
            while rows := cur.fetchmany(5000):
                folder.add([_scored(r) for r in rows])
            stats = folder.stats()
            self._upsert_windows(conn, stats)
            return len(stats)

    def delete_items_before(self, before: datetime) -> int:
        with self._tx() as conn:
            conn.execute("DELETE FROM item_tickers WHERE published_at < ?", (ts(before),))
            deleted = conn.execute("DELETE FROM items WHERE published_at < ?", (ts(before),))
            marker = _state_ts(conn, RETENTION_KEY)
            if marker is None or before > marker:
                self._put_state(conn, RETENTION_KEY, _must_ts(before))
            return int(deleted.rowcount)

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        low, high = self._all("SELECT min(published_at), max(published_at) FROM items")[0]
        return parse_ts(low), parse_ts(high)

    def close(self) -> None:
        self._conn.close()


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (ours hold no ';' inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _with_ts(values: Sequence[Any], *positions: int) -> tuple[Any, ...]:
    out = list(values)
    for p in positions:
        out[p] = ts(out[p])
    return tuple(out)


def _item_row(item: ScoredItem, now: datetime) -> list[Any]:
    v = c.item_values(item, now)
    v["published_at"], v["ingested_at"] = ts(v["published_at"]), ts(v["ingested_at"])
    v["tickers"], v["input_tickers"] = json.dumps(v["tickers"]), json.dumps(v["input_tickers"])
    v["novel"], v["late"] = int(v["novel"]), int(v["late"])
    return [v[k] for k in c.ITEM_COLUMNS]


def _scored(row: Sequence[Any]) -> ScoredItem:
    v = list(row)
    v[1], v[2] = parse_ts(v[1]), parse_ts(v[2])
    v[8], v[9] = json.loads(v[8]), json.loads(v[9])
    return c.scored_from_row(v)


def _state_ts(conn: sqlite3.Connection, key: str) -> datetime | None:
    row = conn.execute("SELECT value FROM pipeline_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else as_utc(datetime.fromisoformat(json.loads(row[0])))
