"""Store throughput: scored items/s through aggregate + store vs a raw bulk load of the same rows.

    python benchmarks/store.py [--items 20000] [--batch 500] [--dsn postgresql://...]

For PostgreSQL the baseline is a raw COPY of the same item rows into an unindexed table (same
batches, one transaction each); for SQLite a raw ``executemany`` INSERT into an unindexed table
with the same pragmas (WAL, synchronous=FULL). The store does much more per batch: find the new
items (upsert with RETURNING), per-ticker rows, window deltas at three sizes x four scopes summed
per (window, scope) in each batch and upserted additively in one bulk statement (``executemany``
on SQLite; COPY into a staging table and one merge on PostgreSQL), and its indexes. A second
baseline bulk-loads every row the store writes (items, item_tickers and the summed window rows,
built in the loop) into tables without keys or indexes: the data volume without the upserts. Without ``--dsn`` a throw-away cluster is started with
PostgreSQL's default durability settings (fsync on), from Debian's postgresql package.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finsentry.aggregate import window_delta_rows  # noqa: E402
from finsentry.schema import NewsItem, ScoredItem, TextScore  # noqa: E402
from finsentry.store import columns  # noqa: E402
from finsentry.store.base import BatchWrite  # noqa: E402
from finsentry.store.postgres import PostgresStore  # noqa: E402
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


def timed(label: str, items: Sequence[ScoredItem], size: int, write: object) -> float:
    started = time.perf_counter()
    for batch in tqdm(list(batches(items, size)), desc=label, unit="batch", leave=False):
        write(batch)  # type: ignore[operator]
    return len(items) / (time.perf_counter() - started)


def bench_postgres(dsn: str, items: Sequence[ScoredItem], size: int) -> tuple[float, ...]:
    import psycopg

    store = PostgresStore(dsn)
    store.migrate()
    store_rate = timed(
        "postgres store", items, size, lambda b: store.write_batch(BatchWrite(b, [], SIZES))
    )
    assert store.counts()["items"] == len(items)
    store.close()
    now = datetime.now(UTC)
    cols = ", ".join(columns.ITEM_COLUMNS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_items")
        conn.execute(
            "CREATE TABLE raw_items AS SELECT * FROM items WITH NO DATA"
        )  # same columns, no keys or indexes

        def copy_batch(batch: Sequence[ScoredItem]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(f"COPY raw_items ({cols}) FROM STDIN") as copy:
                    for it in batch:
                        v = item_values(it, now)
                        copy.write_row([v[k] for k in columns.ITEM_COLUMNS])

        raw_rate = timed("postgres raw COPY", items, size, copy_batch)
        row = conn.execute("SELECT count(*) FROM raw_items").fetchone()
        assert row is not None and row[0] == len(items)
        all_rate = postgres_all_rows(conn, items, size, now)
    return store_rate, raw_rate, all_rate


def postgres_all_rows(conn: Any, items: Sequence[ScoredItem], size: int, now: datetime) -> float:
    """COPY every row the store writes (items, item_tickers, summed window deltas) into tables
    without keys or indexes: the data volume alone, no upserts."""
    for table in ("items", "item_tickers", "window_stats"):
        conn.execute(f"DROP TABLE IF EXISTS raw_{table}")
        conn.execute(f"CREATE TABLE raw_{table} AS SELECT * FROM {table} WITH NO DATA")

    def copy_all(batch: Sequence[ScoredItem]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY raw_items ({', '.join(columns.ITEM_COLUMNS)}) FROM STDIN") as copy:
                for it in batch:
                    v = item_values(it, now)
                    copy.write_row([v[k] for k in columns.ITEM_COLUMNS])
            with cur.copy(
                f"COPY raw_item_tickers ({', '.join(columns.TICKER_COLUMNS)}) FROM STDIN"
            ) as copy:
                for it in batch:
                    for ticker_row in ticker_rows(it):
                        copy.write_row(ticker_row)
            with cur.copy(
                f"COPY raw_window_stats ({', '.join(columns.WINDOW_COLUMNS)}) FROM STDIN"
            ) as copy:
                for window_row in window_delta_rows(batch, SIZES):
                    copy.write_row(window_row)

    return timed("postgres raw COPY, all rows", items, size, copy_all)


def bench_sqlite(folder: Path, items: Sequence[ScoredItem], size: int) -> tuple[float, ...]:
    store = SQLiteStore(str(folder / "store.db"))
    store.migrate()
    store_rate = timed(
        "sqlite store", items, size, lambda b: store.write_batch(BatchWrite(b, [], SIZES))
    )
    assert store.counts()["items"] == len(items)
    store.close()
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"CREATE TABLE raw_items ({', '.join(columns.ITEM_COLUMNS)})")
    sql = columns.insert_sql("raw_items", columns.ITEM_COLUMNS, "?")
    now = datetime.now(UTC)

    def insert_batch(batch: Sequence[ScoredItem]) -> None:
        rows = [sqlite_item_row(it, now) for it in batch]
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")

    raw_rate = timed("sqlite raw executemany", items, size, insert_batch)
    all_rate = sqlite_all_rows(conn, items, size)
    conn.close()
    return store_rate, raw_rate, all_rate


def sqlite_all_rows(conn: sqlite3.Connection, items: Sequence[ScoredItem], size: int) -> float:
    """executemany every row the store writes (items, item_tickers, summed window deltas) into
    tables without keys or indexes: the data volume alone, no upserts."""
    tables = {"all_items": columns.ITEM_COLUMNS, "all_tickers": columns.TICKER_COLUMNS,
              "all_windows": columns.WINDOW_COLUMNS}  # fmt: skip
    for table, cols in tables.items():
        conn.execute(f"CREATE TABLE {table} ({', '.join(cols)})")
    sql = {table: columns.insert_sql(table, cols, "?") for table, cols in tables.items()}
    now = datetime.now(UTC)

    def insert_all(batch: Sequence[ScoredItem]) -> None:
        conn.execute("BEGIN")
        conn.executemany(sql["all_items"], [sqlite_item_row(it, now) for it in batch])
        conn.executemany(
            sql["all_tickers"],
            [(r[0], r[1], ts(r[2]), *r[3:]) for it in batch for r in ticker_rows(it)],
        )
        conn.executemany(
            sql["all_windows"],
            [(r[0], ts(r[1]), ts(r[2]), *r[3:]) for r in window_delta_rows(batch, SIZES)],
        )
        conn.execute("COMMIT")

    return timed("sqlite raw executemany, all rows", items, size, insert_all)


def sqlite_item_row(it: ScoredItem, now: datetime) -> list[object]:
    v = item_values(it, now)
    v["published_at"], v["ingested_at"] = ts(v["published_at"]), ts(now)
    v["tickers"], v["input_tickers"] = json.dumps(v["tickers"]), json.dumps(v["input_tickers"])
    return [v[k] for k in columns.ITEM_COLUMNS]


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    from tests.fixtures.postgres import running_postgres

    with running_postgres(durable=True) as server:
        yield server.create_database("bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dsn", help="an empty PostgreSQL database (default: start a cluster)")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    items = synthetic(args.items, args.seed)
    tickers = sum(len(i.tickers) for i in items)
    deltas = sum(len(window_delta_rows(b, SIZES)) for b in batches(items, args.batch))
    print(f"{len(items)} scored items ({tickers} ticker tags), batches of {args.batch}, "
          f"window sizes {SIZES}: {deltas} window upserts")  # fmt: skip
    results: dict[str, tuple[float, ...]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = bench_sqlite(Path(tmp), items, args.batch)
    if not args.skip_postgres:
        with postgres(args.dsn) as dsn:
            results["postgres"] = bench_postgres(dsn, items, args.batch)
    baseline = {"sqlite": "raw executemany", "postgres": "raw COPY"}
    print(f"{'backend':<10} {'store items/s':>14} {'baseline':>16} {'baseline items/s':>17} "
          f"{'ratio':>7} {'all rows items/s':>17} {'ratio':>7}")  # fmt: skip
    for name, (store_rate, raw_rate, all_rate) in results.items():
        print(f"{name:<10} {store_rate:>14,.0f} {baseline[name]:>16} {raw_rate:>17,.0f} "
              f"{store_rate / raw_rate:>7.2f} {all_rate:>17,.0f} {store_rate / all_rate:>7.2f}")  # fmt: skip
    print("baseline: the item rows alone; all rows: items, item_tickers and the summed window "
          "rows the store writes, bulk-loaded into tables without keys or indexes")  # fmt: skip


if __name__ == "__main__":
    main()
