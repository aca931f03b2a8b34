"""The embedded default store: one SQLite file in WAL mode.

Each :meth:`SQLiteStore.write_batch` is one ``BEGIN IMMEDIATE`` transaction (several processes may
write the same file; SQLite serialises them). Timestamps are fixed-width ISO-8601 UTC text, so text
order is time order; lists and JSON are stored as JSON text.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from finsentry.aggregate import window_deltas
from finsentry.schema import ScoredItem, WindowStat, as_utc, utc_now
from finsentry.store import common as c
from finsentry.store.base import BatchWrite, BatchWriteResult
from finsentry.store.queries import Execute, SharedQueries

T = TypeVar("T")

RETENTION_KEY = c.RETENTION_KEY


def ts(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else _parse_ts(value)


@functools.lru_cache(maxsize=8192)
def _parse_ts(value: str) -> datetime:
    # Window starts repeat across every scope of a window: the detectors read tens of thousands
    # of rows per evaluation with a few thousand distinct starts, so parsing is cached
    # (datetimes are immutable).
    return as_utc(datetime.fromisoformat(value))


def _must_ts(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def sqlite_path(url: str) -> str:
    """A file path from a store URL, as SQLAlchemy spells them.

    ``sqlite:///rel/x.db`` is relative, ``sqlite:////abs/x.db`` absolute, ``sqlite://`` is in
    memory; anything else is taken as a plain path.
    """
    if not url.startswith("sqlite://"):
        return url
    rest = url[len("sqlite://") :]
    if not rest:
        return ":memory:"
    return rest[1:] if rest.startswith("/") else rest


class SQLiteStore(SharedQueries):
    """:class:`finsentry.store.base.Store` on an embedded SQLite file."""

    NO_LIMIT = -1

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

    def _transact(self, work: Callable[[Execute], T], what: str) -> T:
        with self._tx() as conn:
            return work(conn.execute)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _ts_in(self, value: datetime | None) -> str | None:
        return ts(value)

    def _ts_out(self, value: str | None) -> datetime | None:
        return parse_ts(value)

    def _json_in(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    def _json_out(self, value: str) -> Any:
        return json.loads(value)

    def _scored(self, row: Sequence[Any]) -> ScoredItem:
        return _scored(row)

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
                "INSERT OR IGNORE INTO item_tickers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r[0], r[1], ts(r[2]), *r[3:]) for i in new for r in c.ticker_rows(i)],
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
                self._put_state(conn.execute, key, value)
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
            sql = f"SELECT id FROM items WHERE id IN ({marks})"  # nosec B608
            rows = conn.execute(sql, tuple(part))
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
                f"SELECT {c.items_select()} FROM items WHERE published_at >= ? "  # nosec B608
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
                self._put_state(conn.execute, RETENTION_KEY, _must_ts(before))
            return int(deleted.rowcount)

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
