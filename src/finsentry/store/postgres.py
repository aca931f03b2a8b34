"""The production store: PostgreSQL through psycopg 3 (the database Grafana reads).

A batch is one transaction (``store/batch.py``): items are COPYed into a session temp table and
moved with ``INSERT .. SELECT .. ON CONFLICT (id) DO NOTHING RETURNING id``, so the store learns
which items are new even with several writers; only those add window deltas, COPYed into a
staging table and merged by one additive ``INSERT .. SELECT .. ON CONFLICT .. DO UPDATE``. Rows are
written in key order, so concurrent writers lock them in the same order and do not deadlock.

Connection loss, deadlocks and serialisation failures are retried with exponential backoff; a
batch that still cannot be written raises :class:`StoreUnavailableError`, so the caller does not
commit its source offsets. A retried batch whose first COMMIT did land finds its items present,
adds no deltas, and so counts nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from finsentry.aggregate import WindowRow
from finsentry.schema import DeadLetter, ScoredItem, as_utc
from finsentry.store import columns as c
from finsentry.store.base import StoreUnavailableError
from finsentry.store.migration import migrations
from finsentry.store.queries import SQLStore
from finsentry.store.rows import dead_letter_values, item_values, scored_from_row

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


class PostgresTransaction:
    """The bulk steps of a batch write on one open PostgreSQL transaction: COPY and merges."""

    def __init__(self, conn: Conn, dialect: PostgresDialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(_q(sql), params)

    def insert_new_items(self, items: Sequence[ScoredItem], now: datetime) -> list[ScoredItem]:
        self.dialect.ensure_temp_tables(self.conn)
        with self.conn.cursor() as cur:
            rows = ([v[k] for k in c.ITEM_COLUMNS] for v in (item_values(i, now) for i in items))
            _copy_binary(cur, "items_in", c.ITEM_COLUMNS, ITEM_TYPES, rows)
            cur.execute(
                "INSERT INTO items SELECT * FROM items_in ORDER BY id "
                "ON CONFLICT (id) DO NOTHING RETURNING id"
            )
            fresh = {r[0] for r in cur.fetchall()}
        return [i for i in items if i.id in fresh]

    def insert_ticker_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur:
            _copy_binary(cur, "item_tickers", c.TICKER_COLUMNS, TICKER_TYPES, rows)

    def upsert_windows(self, rows: Sequence[WindowRow]) -> None:
        self.dialect.ensure_temp_tables(self.conn)
        with self.conn.cursor() as cur:
            _copy_binary(cur, "windows_in", c.WINDOW_COLUMNS, WINDOW_TYPES, rows)
            cur.execute(
                f"INSERT INTO window_stats SELECT * FROM windows_in ORDER BY {', '.join(c.WINDOW_KEY)} "
                + c.window_upsert_tail()
            )

    def insert_dead_letters(self, dead: Sequence[DeadLetter]) -> int:
        new = 0
        with self.conn.cursor() as cur:
            for part in c.chunked(dead, 1000):
                cur.execute(
                    _values_sql("dead_letters", c.DEAD_LETTER_COLUMNS, len(part))
                    + " ON CONFLICT (key) DO NOTHING RETURNING key",
                    [v for d in part for v in dead_letter_values(d)],  # type: ignore[arg-type]
                )
                new += len(cur.fetchall())
        return new

    def lock_windows(self) -> None:
        # Writers wait until the rebuild commits, then add their deltas on top of it.
        self.conn.execute("LOCK TABLE window_stats IN SHARE ROW EXCLUSIVE MODE")

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[list[Any]]:
        with self.conn.cursor(name="finsentry_stream") as named:
            named.execute(_q(sql), params)
            while rows := named.fetchmany(5000):
                yield rows


class PostgresDialect:
    """One psycopg connection (threads take turns with whole transactions); transient failures
    (connection loss, deadlocks, serialisation) are retried with exponential backoff."""

    name = "postgres"
    no_limit = None

    def __init__(
        self, url: str, *, retries: int, backoff_s: float, max_backoff_s: float,
        connect_timeout_s: int,
    ) -> None:  # fmt: skip
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self._conn: Conn | None = None
        self._lock = threading.RLock()
        self._exclusive = threading.Lock()
        self._temp_tables = False

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

    def ensure_temp_tables(self, conn: Conn) -> None:
        if not self._temp_tables:
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS items_in (LIKE items) ON COMMIT DELETE ROWS"
            )
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS windows_in (LIKE window_stats) "
                "ON COMMIT DELETE ROWS"
            )
            self._temp_tables = True

    def run(self, work: Callable[[Conn], T], what: str) -> T:
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
                if is_permanent(exc) or attempt >= self.retries:
                    raise _unavailable(exc, what, attempt) from exc
                log.warning("PostgreSQL %s failed (%s); retry %d in %.2fs", what, exc, attempt + 1, delay)  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
            except psycopg.Error:
                self._temp_tables = False  # created in a transaction that rolled back
                raise
        raise AssertionError("unreachable")

    def transact(self, work: Callable[[PostgresTransaction], T], what: str) -> T:
        return self.run(lambda conn: work(PostgresTransaction(conn, self)), what)

    def snapshot(self, work: Callable[[PostgresTransaction], T], what: str) -> T:
        def read(conn: Conn) -> T:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return work(PostgresTransaction(conn, self))

        return self.run(read, what)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.run(lambda conn: conn.execute(_q(sql), params).fetchall(), "query")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A session advisory lock keyed by ``name``, taken with ``pg_try_advisory_lock`` in a
        polling loop (the connection stays free for this process's other threads meanwhile).
        A connection lost while it is held loses the lock; the next step's retry reconnects."""
        key = _lock_key(name)
        with self._exclusive:
            delay = 0.005
            while not self.run(lambda conn: bool(_one(conn, _TRY_LOCK, (key,))), "lock"):
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
            try:
                yield
            finally:
                self.run(lambda conn: _one(conn, "SELECT pg_advisory_unlock(%s)", (key,)), "unlock")

    def ts_in(self, value: datetime | None) -> datetime | None:
        return value

    def ts_out(self, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    def json_in(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def json_out(self, value: Any) -> Any:
        return value

    def scored(self, row: Sequence[Any]) -> ScoredItem:
        v = list(row)
        v[1], v[2] = as_utc(v[1]), as_utc(v[2])
        return scored_from_row(v)

    def schema_version(self) -> int:
        def work(conn: Conn) -> int:
            if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
                return 0
            return int(_one(conn, "SELECT coalesce(max(version), 0) FROM schema_version") or 0)

        return self.run(work, "schema version")

    def migrate(self) -> int:
        def work(conn: Conn) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            current = int(_one(conn, "SELECT coalesce(max(version), 0) FROM schema_version") or 0)
            for migration in migrations(self.name):
                if migration.version > current:
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                    current = migration.version
            return current

        return self.run(work, "migration")

    def close(self) -> None:
        self._drop_connection()


class PostgresStore(SQLStore[PostgresDialect]):
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
        super().__init__(
            PostgresDialect(
                url, retries=retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s,
                connect_timeout_s=connect_timeout_s,
            )
        )  # fmt: skip

    def timescaledb(self) -> bool:
        """Whether window_stats is a TimescaleDB hypertable here."""
        sql = (
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AND "
            "to_regclass('timescaledb_information.hypertables') IS NOT NULL"
        )
        return bool(self.dialect.run(lambda conn: _one(conn, sql), "extension check"))


def _unavailable(exc: psycopg.Error, what: str, attempt: int) -> StoreUnavailableError:
    if is_permanent(exc):
        return StoreUnavailableError(
            f"PostgreSQL refused {what}: {first_line(exc)}. Check FINSENTRY_DB (host, "
            "database, user, password): trying again would not help."
        )
    return StoreUnavailableError(
        f"PostgreSQL {what} failed after {attempt + 1} attempts: {first_line(exc)}. Do not "
        "treat it as written; check that the database is up and FINSENTRY_DB is "
        "right, then run again (replaying the same input is safe)."
    )


# Binary COPY: psycopg then packs each value by its column's type instead of formatting text
# (a batch's ~3,000 window rows went in 4x faster). The types must be the columns' own, as the
# migrations create them; a mismatch fails the COPY ("incorrect binary data format"), never
# stores a wrong value.
ITEM_TYPES = (
    "text", "timestamptz", "timestamptz", "text", "text", "text", "text", "text", "text[]",
    "text[]", "text", "float8", "float8", "float8", "float8", "text", "float8", "text", "bool",
    "text", "bool", "text", "int8", "text", "text",
)  # fmt: skip
TICKER_TYPES = ("text", "text", "timestamptz", "float8", "text", "float8", "float8", "float8", "text")
WINDOW_TYPES = (
    "int4", "timestamptz", "timestamptz", "text", "text", "int8", "int8", "int8", "int8",
    "float8", "int8", "int8",
)  # fmt: skip


def _copy_binary(
    cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:  # fmt: skip
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _values_sql(table: str, columns: Sequence[str], rows: int) -> str:
    """A multi-row ``INSERT .. VALUES (..), (..)`` for ``rows`` rows."""
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)


def _one(conn: Conn, sql: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


_TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"


def _lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for a name (the same in every process)."""
    digest = hashlib.sha256(f"finsentry:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _q(sql: str) -> str:
    """Shared SQL uses ``?`` placeholders; psycopg wants ``%s``."""
    return sql.replace("?", "%s")
