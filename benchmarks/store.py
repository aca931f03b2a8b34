"""Store throughput: scored items/s through aggregate + store vs raw bulk loads, in one run.

    python benchmarks/store.py [--items 20000] [--batch 500] [--repeat 3] [--dsn postgresql://...]

The store path (``Store.write_batch``, one transaction per batch): find the new items (upsert
with RETURNING on PostgreSQL, an id look-up under the write lock on SQLite), their
``item_tickers`` rows, window deltas at three sizes x four scopes summed per (window, scope) in
the batch and upserted additively in one bulk statement (``executemany`` on SQLite; COPY into a
staging table and one merge on PostgreSQL), and the tables' keys and indexes.

Two baselines, same batches, one transaction each, same durability (SQLite: WAL,
synchronous=FULL; PostgreSQL: fsync on), rows built before the clock starts so only the load is
timed (PostgreSQL: binary COPY, as the store's own; SQLite: ``executemany`` of plain INSERTs):

- *item rows*: the items alone, into one table without keys or indexes;
- *same rows*: exactly the rows the store writes for the batch (items, ``item_tickers`` rows and
  the summed window rows), into three tables without keys or indexes.

``--repeat`` rounds, each running the three writers in a rotated order into fresh tables (a new
SQLite file, a new PostgreSQL database); the summary gives the median and range of each rate and
of each round's ratios. Without ``--dsn`` a throw-away cluster is started with PostgreSQL's
default durability settings, from Debian's postgresql package (``--dsn``: a database this user
may create databases from; the rounds' databases are dropped at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finsentry.aggregate import window_delta_rows  # noqa: E402
from finsentry.schema import NewsItem, ScoredItem, TextScore  # noqa: E402
from finsentry.store import columns  # noqa: E402
from finsentry.store.base import BatchWrite  # noqa: E402
from finsentry.store.postgres import (  # noqa: E402
    ITEM_TYPES,
    TICKER_TYPES,
    WINDOW_TYPES,
    PostgresStore,
)
from finsentry.store.rows import item_values, ticker_rows  # noqa: E402
from finsentry.store.sqlite import SQLiteStore, ts  # noqa: E402

SIZES = (60, 300, 3600)
TICKERS = [f"T{i:03d}" for i in range(300)]
TOPICS = [f"topic{i}" for i in range(20)]
SOURCES = ["reuters", "bloomberg", "dowjones", "rss", "blog", "pr"]


def synthetic(n: int, seed: int) -> list[ScoredItem]:
    """Scored items over two days, 0-3 tickers each, a fifth of them duplicates."""
    rnd = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    out = []
    for i in range(n):
        neg, pos = rnd.random() * 0.6, rnd.random() * 0.4
        news = NewsItem(
            id=f"bench-{seed}-{i}",
            published_at=start + timedelta(seconds=i * 172800 / n + rnd.random()),
            source=rnd.choice(SOURCES),
            headline=f"Company {rnd.choice(TICKERS)} reports quarter number {i} with a long headline",
            body="Body text of moderate length. " * 8,
            url=f"https://news.example/{i}",
            input="bench",
            position=i,
        )
        tickers = tuple(rnd.sample(TICKERS, rnd.choice([0, 1, 1, 2, 3])))
        out.append(
            ScoredItem(
                news,
                TextScore(neg, 1 - neg - pos, pos, rnd.choice(TOPICS), 0.8),
                "bench@1",
                tickers,
                rnd.random() > 0.2,
                None,
                rnd.random() < 0.05,
                f"fp{i}",
            )  # fmt: skip
        )
    return out


def batches(items: Sequence[ScoredItem], size: int) -> Iterator[Sequence[ScoredItem]]:
    for k in range(0, len(items), size):
        yield items[k : k + size]


@dataclass
class BatchRows:
    """What the store writes for one batch, as plain rows (Python values, the store's columns)."""

    items: list[list[Any]]
    tickers: list[tuple[Any, ...]]
    windows: list[tuple[Any, ...]]


def batch_rows(items: Sequence[ScoredItem], size: int) -> list[BatchRows]:
    now = datetime.now(UTC)
    out = []
    for batch in batches(items, size):
        values = [item_values(it, now) for it in batch]
        out.append(
            BatchRows(
                [[v[k] for k in columns.ITEM_COLUMNS] for v in values],
                [row for it in batch for row in ticker_rows(it)],
                list(window_delta_rows(batch, SIZES)),
            )
        )
    return out


def sqlite_form(rows: list[BatchRows]) -> list[BatchRows]:
    """The same rows as SQLite stores them (ISO text times, JSON text lists, integer flags)."""
    at = {name: i for i, name in enumerate(columns.ITEM_COLUMNS)}
    out = []
    for b in rows:
        items = []
        for r in b.items:
            r = list(r)
            for name in ("published_at", "ingested_at"):
                r[at[name]] = ts(r[at[name]])
            for name in ("tickers", "input_tickers"):
                r[at[name]] = json.dumps(r[at[name]])
            r[at["novel"]], r[at["late"]] = int(r[at["novel"]]), int(r[at["late"]])
            items.append(r)
        tickers = [(t[0], t[1], ts(t[2]), *t[3:]) for t in b.tickers]
        windows = [(w[0], ts(w[1]), ts(w[2]), *w[3:]) for w in b.windows]
        out.append(BatchRows(items, tickers, windows))
    return out


def timed(label: str, batches_: Sequence[Any], write: Callable[[Any], object], n: int) -> float:
    started = time.perf_counter()
    for batch in tqdm(batches_, desc=label, unit="batch", leave=False):
        write(batch)
    return n / (time.perf_counter() - started)


RAW_TABLES = {"items": columns.ITEM_COLUMNS, "item_tickers": columns.TICKER_COLUMNS,
              "window_stats": columns.WINDOW_COLUMNS}  # fmt: skip
COPY_TYPES = {"items": ITEM_TYPES, "item_tickers": TICKER_TYPES, "window_stats": WINDOW_TYPES}
WRITERS = ("store", "item rows", "same rows")


def postgres_round(dsn: str, items: Sequence[ScoredItem], rows: list[BatchRows], size: int,
                   order: Sequence[str]) -> dict[str, float]:  # fmt: skip
    import psycopg

    store = PostgresStore(dsn)
    store.migrate()
    rates: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in RAW_TABLES:  # same column types as the store's tables, no keys or indexes
            conn.execute(f"CREATE TABLE raw_{table} AS SELECT * FROM {table} WITH NO DATA")
            conn.execute(f"CREATE TABLE only_{table} AS SELECT * FROM {table} WITH NO DATA")

        def copy(cur: Any, table: str, data: Sequence[Sequence[Any]]) -> None:
            base = table.split("_", 1)[1]  # binary COPY with the column types, as the store does
            with cur.copy(f"COPY {table} ({', '.join(RAW_TABLES[base])}) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(list(COPY_TYPES[base]))
                for row in data:
                    cp.write_row(row)

        def copy_items(b: BatchRows) -> None:
            with conn.transaction(), conn.cursor() as cur:
                copy(cur, "only_items", b.items)

        def copy_all(b: BatchRows) -> None:
            with conn.transaction(), conn.cursor() as cur:
                copy(cur, "raw_items", b.items)
                copy(cur, "raw_item_tickers", b.tickers)
                copy(cur, "raw_window_stats", b.windows)

        for writer in order:
            if writer == "store":
                rates[writer] = timed("postgres store", list(batches(items, size)),
                                      lambda b: store.write_batch(BatchWrite(b, [], SIZES)), len(items))  # fmt: skip
                assert store.counts()["items"] == len(items)
            elif writer == "item rows":
                rates[writer] = timed("postgres COPY, item rows", rows, copy_items, len(items))
            else:
                rates[writer] = timed("postgres COPY, same rows", rows, copy_all, len(items))
        counted = conn.execute("SELECT count(*) FROM raw_window_stats").fetchone()
        assert counted is not None and counted[0] == sum(len(b.windows) for b in rows)
    store.close()
    return rates


def sqlite_round(folder: Path, items: Sequence[ScoredItem], rows: list[BatchRows], size: int,
                 order: Sequence[str]) -> dict[str, float]:  # fmt: skip
    store = SQLiteStore(str(folder / "store.db"))
    store.migrate()
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    sql = {}
    for table, cols in RAW_TABLES.items():
        for prefix in ("raw_", "only_"):
            conn.execute(f"CREATE TABLE {prefix}{table} ({', '.join(cols)})")
            sql[prefix + table] = columns.insert_sql(prefix + table, cols, "?")

    def insert_items(b: BatchRows) -> None:
        conn.execute("BEGIN")
        conn.executemany(sql["only_items"], b.items)
        conn.execute("COMMIT")

    def insert_all(b: BatchRows) -> None:
        conn.execute("BEGIN")
        conn.executemany(sql["raw_items"], b.items)
        conn.executemany(sql["raw_item_tickers"], b.tickers)
        conn.executemany(sql["raw_window_stats"], b.windows)
        conn.execute("COMMIT")

    rates: dict[str, float] = {}
    for writer in order:
        if writer == "store":
            rates[writer] = timed("sqlite store", list(batches(items, size)),
                                  lambda b: store.write_batch(BatchWrite(b, [], SIZES)), len(items))  # fmt: skip
            assert store.counts()["items"] == len(items)
        elif writer == "item rows":
            rates[writer] = timed("sqlite executemany, item rows", rows, insert_items, len(items))
        else:
            rates[writer] = timed("sqlite executemany, same rows", rows, insert_all, len(items))
    store.close()
    conn.close()
    return rates


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases: on the given server, or on a throw-away cluster."""
    if not dsn:
        from tests.fixtures.postgres import running_postgres

        with running_postgres(durable=True) as server:
            yield server.create_database
        return
    import psycopg

    made: list[str] = []

    def create() -> str:
        name = f"finsentry_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return psycopg.conninfo.make_conninfo(dsn, dbname=name)

    try:
        yield create
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def spread(values: Sequence[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def report(name: str, rounds: Sequence[dict[str, float]]) -> None:
    rates = {w: [r[w] for r in rounds] for w in WRITERS}
    print(f"{name}, items/s over {len(rounds)} rounds, median (min-max):")
    for writer in WRITERS:
        print(f"  {writer:<10} {spread(rates[writer], ',.0f')}")
    for base in ("item rows", "same rows"):
        ratios = [r["store"] / r[base] for r in rounds]
        print(f"  store / raw load of the {base}: {spread(ratios, '.2f')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each runs every writer)")
    parser.add_argument("--dsn", help="a PostgreSQL server to create throw-away databases on")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    items = synthetic(args.items, args.seed)
    rows = batch_rows(items, args.batch)
    lite = sqlite_form(rows)
    tickers = sum(len(b.tickers) for b in rows)
    windows = sum(len(b.windows) for b in rows)
    print(f"{len(items)} scored items, batches of {args.batch}, window sizes {SIZES}: the store "
          f"writes {len(items)} items, {tickers} item_tickers rows and {windows} window upserts "
          f"({(len(items) + tickers + windows) / len(items):.1f} rows an item)")  # fmt: skip
    orders = [WRITERS[k % 3 :] + WRITERS[: k % 3] for k in range(args.repeat)]
    sqlite_rounds = []
    for order in orders:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_rounds.append(sqlite_round(Path(tmp), items, lite, args.batch, order))
    report("SQLite", sqlite_rounds)
    if not args.skip_postgres:
        with postgres(args.dsn) as new_database:
            pg_rounds = [postgres_round(new_database(), items, rows, args.batch, order)
                         for order in orders]  # fmt: skip
        report("PostgreSQL", pg_rounds)
    print("item rows: the items alone; same rows: items, item_tickers and the summed window rows "
          "the store writes; both bulk-loaded into tables without keys or indexes, rows built "
          "before the clock starts. Target: store >= 0.5 of the raw load.")  # fmt: skip


if __name__ == "__main__":
    main()
