"""The embedded default store: one SQLite file in WAL mode.

Each batch write is one ``BEGIN IMMEDIATE`` transaction (several processes may write the same
file; SQLite serialises them). Timestamps are fixed-width ISO-8601 UTC text, so text order is time
order; lists and JSON are stored as JSON text.
"""

from __future__ import annotations

import fcntl
import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from finsentry.aggregate import WindowRow
from finsentry.schema import DeadLetter, ScoredItem, as_utc, utc_now
from finsentry.store import columns as c
from finsentry.store.migration import migrations, statements
from finsentry.store.queries import SQLStore
from finsentry.store.rows import (
    dead_letter_values,
    json_strings,
    scored_from_row,
    ticker_sentiment_json,
)

T = TypeVar("T")
WAL_CHECKPOINT_PAGES = 10_000  # SQLite's default is 1,000 pages of 4 KiB


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


_ITEMS_INSERT = c.insert_sql("items", c.ITEM_COLUMNS, "?", "ON CONFLICT (id) DO NOTHING")
_TICKERS_INSERT = c.insert_sql("item_tickers", c.TICKER_COLUMNS, "?", "ON CONFLICT DO NOTHING")
_WINDOWS_UPSERT = c.insert_sql("window_stats", c.WINDOW_COLUMNS, "?", c.window_upsert_tail())
_DEAD_INSERT = c.insert_sql("dead_letters", c.DEAD_LETTER_COLUMNS, "?", "ON CONFLICT DO NOTHING")


class SQLiteTransaction:
    """The bulk steps of a batch write on one open SQLite transaction: ``executemany``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def insert_new_items(self, items: Sequence[ScoredItem], now: datetime) -> list[ScoredItem]:
        # BEGIN IMMEDIATE holds the write lock: no other writer can add these ids meanwhile
        known = self._known([i.id for i in items])
        new = [i for i in items if i.id not in known]
        ingested_at = ts(now)
        self.conn.executemany(_ITEMS_INSERT, [_item_row(i, ingested_at) for i in new])
        return new

    def _known(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in c.chunked(ids, 500):
            marks = ",".join("?" * len(part))
            sql = f"SELECT id FROM items WHERE id IN ({marks})"  # nosec B608
            found.update(r[0] for r in self.conn.execute(sql, tuple(part)))
        return found

    def insert_ticker_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany(_TICKERS_INSERT, [(r[0], r[1], ts(r[2]), *r[3:]) for r in rows])

    def upsert_windows(self, rows: Sequence[WindowRow]) -> None:
        times = {r[1] for r in rows} | {r[2] for r in rows}  # deltas share starts and ends
        text = {when: as_utc(when).isoformat(timespec="microseconds") for when in times}
        self.conn.executemany(
            _WINDOWS_UPSERT, [(r[0], text[r[1]], text[r[2]], *r[3:]) for r in rows]
        )

    def insert_dead_letters(self, dead: Sequence[DeadLetter]) -> int:
        before = self.conn.total_changes
        rows = [dead_letter_values(d) for d in dead]
        self.conn.executemany(_DEAD_INSERT, [(*r[:7], ts(r[7])) for r in rows])
        return self.conn.total_changes - before

    def lock_windows(self) -> None:
        """``BEGIN IMMEDIATE`` already holds the database's one write lock."""

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[list[Any]]:
        cursor = self.conn.execute(sql, params)
        while rows := cursor.fetchmany(5000):
            yield rows


class SQLiteDialect:
    """One SQLite connection (shared by a process's threads), WAL mode, full durability."""

    name = "sqlite"
    no_limit = -1

    def __init__(self, path: str, busy_timeout_s: float) -> None:
        self._conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.RLock()
        self._exclusive = threading.Lock()
        self.path = path
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        _set_wal(self._conn, busy_timeout_s)
        self._conn.execute("PRAGMA synchronous=FULL")
        # A batch dirties many window pages: checkpoint the WAL every ~40 MB rather than every
        # 4 MB (fewer fsyncs of the database file), and truncate it back to 64 MB after that.
        self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")

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

    def transact(self, work: Callable[[SQLiteTransaction], T], what: str) -> T:
        with self._tx() as conn:
            return work(SQLiteTransaction(conn))

    def snapshot(self, work: Callable[[SQLiteTransaction], T], what: str) -> T:
        # a deferred transaction only reads: in WAL mode it sees one snapshot, writers go on
        with self._lock:
            self._conn.execute("BEGIN DEFERRED")
            try:
                return work(SQLiteTransaction(self._conn))
            finally:
                self._conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """``flock`` on ``<database>-<name>.lock`` (a transaction cannot span the pipeline's
        steps); an in-memory database has one process, so a thread lock is enough."""
        with self._exclusive:
            if self.path == ":memory:":
                yield
                return
            with open(f"{self.path}-{name}.lock", "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def ts_in(self, value: datetime | None) -> str | None:
        return ts(value)

    def ts_out(self, value: str | None) -> datetime | None:
        return parse_ts(value)

    def json_in(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    def json_out(self, value: str) -> Any:
        return json.loads(value)

    def scored(self, row: Sequence[Any]) -> ScoredItem:
        v = list(row)
        v[1], v[2] = parse_ts(v[1]), parse_ts(v[2])
        v[8], v[9] = json.loads(v[8]), json.loads(v[9])
        return scored_from_row(v)

    def schema_version(self) -> int:
        exists = self.query("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'")
        if not exists:
            return 0
        return int(self.query("SELECT coalesce(max(version), 0) FROM schema_version")[0][0])

    def migrate(self) -> int:
        with self._tx() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = self.schema_version()
            for migration in migrations(self.name):
                if migration.version <= current:
                    continue
                for statement in statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    (migration.version, migration.name, ts(utc_now())),
                )
        return self.schema_version()

    def close(self) -> None:
        self._conn.close()


def _set_wal(conn: sqlite3.Connection, patience_s: float) -> None:
    """Switch to WAL mode. The switch needs the database to itself and SQLite answers "database
    is locked" at once, without waiting, while another process opens or migrates the same new
    file (two consumers started together): so it is tried again for ``patience_s``."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


class SQLiteStore(SQLStore[SQLiteDialect]):
    """:class:`finsentry.store.base.Store` on an embedded SQLite file."""

    def __init__(self, url: str, *, busy_timeout_s: float = 60.0) -> None:
        self.url = url
        self.path = sqlite_path(url)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(SQLiteDialect(self.path, busy_timeout_s))


def _item_row(item: ScoredItem, ingested_at: str | None) -> tuple[Any, ...]:
    """An ``items`` row in ``ITEM_COLUMNS`` order as SQLite stores it: ``rows.item_values`` with
    ISO text times, JSON text lists and integer flags, built directly (a batch write spent a
    fifth of its Python time building the dict and adapting it; a test checks both agree)."""
    news, scores = item.item, item.scores
    return (
        news.id, ts(news.published_at), ingested_at, news.source, news.headline, news.body,
        news.url, news.lang, json_strings(item.tickers), json_strings(news.tickers),
        scores.sentiment, scores.negative, scores.neutral, scores.positive, scores.score,
        scores.topic, scores.topic_prob, item.model, int(item.novel), item.duplicate_of,
        int(item.late), news.input, news.position, item.fingerprint, ticker_sentiment_json(item),
    )  # fmt: skip
