"""The production store: PostgreSQL through psycopg 3 (the database Grafana reads).

A batch is one transaction: items are COPYed into a session temp table and moved with
``INSERT .. SELECT .. ON CONFLICT (id) DO NOTHING RETURNING id``, so the store learns which items
are new even with several writers; only those add window deltas, merged by an additive
``ON CONFLICT .. DO UPDATE``. Rows are written in key order, so concurrent writers lock them in
the same order and do not deadlock.

Connection loss, deadlocks and serialisation failures are retried with exponential backoff; a
batch that still cannot be written raises :class:`StoreUnavailableError`, so the caller does not
commit its source offsets. A retried batch whose first COMMIT did land finds its items present,
adds no deltas, and so counts nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from finsentry.aggregate import window_deltas
from finsentry.schema import ScoredItem, WindowStat, as_utc, utc_now
from finsentry.store import common as c
from finsentry.store.base import BatchWrite, BatchWriteResult
from finsentry.store.queries import Execute, SharedQueries

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)
MIGRATION_LOCK = 4_2017_5151  # pg_advisory_xact_lock key serialising concurrent migrations


# Connection failures that no retry mends: no such database, bad password, no such role, not
# allowed by pg_hba.conf (SQLSTATE 3D000, 28P01, 28000).
PERMANENT_SQLSTATES = frozenset({"3D000", "28P01", "28000"})
_PERMANENT_WORDS = ("does not exist", "password authentication failed", "no pg_hba.conf entry")


def is_permanent(exc: psycopg.Error) -> bool:
    if exc.sqlstate in PERMANENT_SQLSTATES:
        return True
    return any(word in str(exc) for word in _PERMANENT_WORDS)


def first_line(exc: BaseException) -> str:
    """The gist of a driver error, on one line (psycopg's messages run over several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class PostgresStore(SharedQueries):
    """:class:`finsentry.store.base.Store` on PostgreSQL (plain tables, or TimescaleDB)."""

    def __init__(
        self,
        url: str,
        *,
        retries: int = 8,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
        connect_timeout_s: int = 10,
    ) -> None:
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self._conn: Conn | None = None
        self._lock = threading.RLock()
        self._temp_tables = False

    # --- plumbing --------------------------------------------------------------------------

    def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=self.connect_timeout_s
            )
            conn.execute("SET TIME ZONE 'UTC'")
            self._conn, self._temp_tables = conn, False
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: S110 - it is broken already; we reconnect next
                pass
        self._conn = None

    def _run(self, work: Callable[[Conn], T], what: str) -> T:
        """Run ``work`` in one transaction; retry transient failures, then raise."""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                with self._lock:  # one connection; threads take turns with whole transactions
                    conn = self._connection()
                    with conn.transaction():
                        return work(conn)
            except TRANSIENT as exc:
                self._drop_connection()
                self._temp_tables = False
                if is_permanent(exc):
                    raise c.StoreUnavailableError(
                        f"PostgreSQL refused {what}: {first_line(exc)}. Check FINSENTRY_DB (host, "
                        "database, user, password): trying again would not help."
                    ) from exc
                if attempt >= self.retries:
                    raise c.StoreUnavailableError(
                        f"PostgreSQL {what} failed after {attempt + 1} attempts: "
                        f"{first_line(exc)}. Do not "
                        "treat it as written; check that the database is up and FINSENTRY_DB is "
                        "right, then run again (replaying the same input is safe)."
                    ) from exc
                log.warning("PostgreSQL %s failed (%s); retry %d in %.2fs", what, exc, attempt + 1, delay)  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
            except psycopg.Error:
                self._temp_tables = False  # created in a transaction that rolled back
                raise
        raise AssertionError("unreachable")

    def _transact(self, work: Callable[[Execute], T], what: str) -> T:
        return self._run(lambda conn: work(lambda sql, p: conn.execute(_q(sql), p)), what)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._run(lambda conn: conn.execute(_q(sql), params).fetchall(), "query")

    def _ts_in(self, value: datetime | None) -> datetime | None:
        return value

    def _ts_out(self, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    def _json_in(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def _json_out(self, value: Any) -> Any:
        return value

    def _scored(self, row: Sequence[Any]) -> ScoredItem:
        v = list(row)
        v[1], v[2] = as_utc(v[1]), as_utc(v[2])
        return c.scored_from_row(v)

    def _ensure_temp_tables(self, conn: Conn) -> None:
        if not self._temp_tables:
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS items_in (LIKE items) ON COMMIT DELETE ROWS"
            )
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS windows_in (LIKE window_stats) "
                "ON COMMIT DELETE ROWS"
            )
            self._temp_tables = True

    def schema_version(self) -> int:
        def work(conn: Conn) -> int:
            if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
                return 0
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            return int(row[0]) if row else 0

        return self._run(work, "schema version")

    def migrate(self) -> int:
        def work(conn: Conn) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            for migration in c.migrations("postgres"):
                if migration.version > current:
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                    current = migration.version
            return current

        return self._run(work, "migration")

    def timescaledb(self) -> bool:
        """Whether window_stats is a TimescaleDB hypertable here."""
        sql = (
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AND "
            "to_regclass('timescaledb_information.hypertables') IS NOT NULL"
        )
        return bool(self._run(lambda conn: _one(conn, sql), "extension check"))

    # --- writes ----------------------------------------------------------------------------

    def write_batch(self, batch: BatchWrite) -> BatchWriteResult:
        unique = sorted(c.first_by_id(batch.items), key=lambda i: i.id)
        return self._run(lambda conn: self._write(conn, batch, unique), "batch write")

    def _write(self, conn: Conn, batch: BatchWrite, unique: list[ScoredItem]) -> BatchWriteResult:
        now = utc_now()
        items, too_old = c.split_retained(unique, _state_ts(conn, c.RETENTION_KEY))
        new: list[ScoredItem] = []
        with conn.cursor() as cur:
            if items:
                self._ensure_temp_tables(conn)
                with cur.copy(f"COPY items_in ({c.items_select()}) FROM STDIN") as copy:
                    for item in items:
                        v = c.item_values(item, now)
                        copy.write_row([v[k] for k in c.ITEM_COLUMNS])
                cur.execute(
                    "INSERT INTO items SELECT * FROM items_in ORDER BY id "
                    "ON CONFLICT (id) DO NOTHING RETURNING id"
                )
                fresh = {r[0] for r in cur.fetchall()}
                new = [i for i in items if i.id in fresh]
            if new:
                with cur.copy("COPY item_tickers FROM STDIN") as copy:
                    for item in new:
                        for row in c.ticker_rows(item):
                            copy.write_row(row)
            deltas = window_deltas(new, batch.window_sizes_s)
            self._upsert_windows(conn, cur, deltas)
            new_dead = 0
            for part in c.chunked([*batch.dead_letters, *too_old], 1000):
                cur.execute(
                    _values_sql("dead_letters", c.DEAD_LETTER_COLUMNS, len(part))
                    + " ON CONFLICT (key) DO NOTHING RETURNING key",
                    [v for d in part for v in c.dead_letter_values(d)],
                )
                new_dead += len(cur.fetchall())
            for key, value in sorted(batch.state.items()):
                self._put_state(lambda sql, p: cur.execute(_q(sql), p), key, value)
            if batch.health is not None:
                cur.execute(
                    c.insert_sql("batches", c.BATCH_COLUMNS, "%s"),
                    c.batch_values(batch.health, now),
                )
        return BatchWriteResult(len(new), new_dead, len(deltas))

    def _upsert_windows(
        self, conn: Conn, cur: psycopg.Cursor[Any], stats: Sequence[WindowStat]
    ) -> None:
        if not stats:
            return
        self._ensure_temp_tables(conn)
        with cur.copy(f"COPY windows_in ({', '.join(c.WINDOW_COLUMNS)}) FROM STDIN") as copy:
            for stat in stats:
                copy.write_row(c.window_values(stat))
        cur.execute(
            f"INSERT INTO window_stats SELECT * FROM windows_in ORDER BY {', '.join(c.WINDOW_KEY)} "
            + c.window_upsert_tail()
        )

    # --- maintenance -----------------------------------------------------------------------

    def reaggregate(self, since: datetime, window_sizes_s: Sequence[int]) -> int:
        def work(conn: Conn) -> int:
            # Writers wait until the rebuild commits, then add their deltas on top of it.
            conn.execute("LOCK TABLE window_stats IN SHARE ROW EXCLUSIVE MODE")
            starts = c.reaggregate_starts(since, window_sizes_s, _state_ts(conn, c.RETENTION_KEY))
            for size, start in starts.items():
                conn.execute(
                    "DELETE FROM window_stats WHERE window_size_s = %s AND window_start >= %s",
                    (size, start),
                )
            folder = c.WindowFolder(starts)
            with conn.cursor(name="finsentry_reaggregate") as named:
                named.execute(
                    f"SELECT {c.items_select()} FROM items WHERE published_at >= %s "  # nosec B608
                    "ORDER BY published_at, id",
                    (min(starts.values()),),
                )
                while rows := named.fetchmany(5000):
                    folder.add([self._scored(r) for r in rows])
            stats = folder.stats()
            with conn.cursor() as cur:
                self._upsert_windows(conn, cur, stats)
            return len(stats)

        return self._run(work, "re-aggregation")

    def delete_items_before(self, before: datetime) -> int:
        def work(conn: Conn) -> int:
            conn.execute("DELETE FROM item_tickers WHERE published_at < %s", (before,))
            deleted = conn.execute("DELETE FROM items WHERE published_at < %s", (before,)).rowcount
            marker = _state_ts(conn, c.RETENTION_KEY)
            if marker is None or before > marker:
                self._put_state(
                    lambda sql, p: conn.execute(_q(sql), p),
                    c.RETENTION_KEY,
                    as_utc(before).isoformat(),
                )
            return int(deleted)

        return self._run(work, "retention")

    def close(self) -> None:
        self._drop_connection()


def _values_sql(table: str, columns: Sequence[str], rows: int) -> str:
    """A multi-row ``INSERT .. VALUES (..), (..)`` for ``rows`` rows."""
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)


def _one(conn: Conn, sql: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _state_ts(conn: Conn, key: str) -> datetime | None:
    value = _one(conn, "SELECT value FROM pipeline_state WHERE key = %s", (key,))
    return None if value is None else as_utc(datetime.fromisoformat(str(value)))


def _q(sql: str) -> str:
    """Shared SQL uses ``?`` placeholders; psycopg wants ``%s``."""
    return sql.replace("?", "%s")
