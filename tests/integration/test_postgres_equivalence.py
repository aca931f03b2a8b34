"""SQLite and PostgreSQL agree exactly; replays, writers and restarts change no totals."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finsentry.aggregate import merge_stats, window_deltas
from finsentry.schema import NewsItem, ScoredItem, TextScore
from finsentry.store.base import BatchWrite, Store, StoreUnavailableError
from finsentry.store.postgres import PostgresStore
from finsentry.store.sqlite import SQLiteStore
from tests.fixtures.postgres import PostgresServer
from tests.unit.test_store_sqlite import SIZES, T0, all_windows

pytestmark = pytest.mark.postgres

TABLES = "items, item_tickers, window_stats, dead_letters, pipeline_state, batches"


def item(i: int, offset_s: int, neg: float, pos: float, tickers: tuple[str, ...], topic: str,
         source: str, novel: bool, late: bool) -> ScoredItem:  # fmt: skip
    news = NewsItem(id=f"it{i}", published_at=T0 + timedelta(seconds=offset_s), source=source,
                    headline=f"headline {i}", input="in", position=i)  # fmt: skip
    neutral = max(0.0, 1.0 - neg - pos)
    return ScoredItem(
        news, TextScore(neg, neutral, pos, topic, 0.5), "m", tickers, novel, None, late
    )


def stream(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[list[ScoredItem]]:
    one = st.tuples(
        st.integers(0, 4 * 3600),
        st.floats(0, 0.6, allow_nan=False),
        st.floats(0, 0.4, allow_nan=False),
        st.lists(st.sampled_from(["AAPL", "MSFT", "SAP", "NESN"]), max_size=3, unique=True),
        st.sampled_from(["earnings", "macro", "m&a"]),
        st.sampled_from(["wire", "blog", "rss"]),
        st.booleans(),
        st.booleans(),
    )
    return st.lists(one, min_size=min_size, max_size=max_size).map(
        lambda rows: [item(i, *r[:3], tuple(r[3]), *r[4:]) for i, r in enumerate(rows)]
    )


def write_in_batches(store: Store, items: list[ScoredItem], cuts: list[int]) -> None:
    bounds = [0, *sorted(c % (len(items) + 1) for c in cuts), len(items)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        store.write_batch(BatchWrite(items[lo:hi], [], SIZES))


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_dsn, backoff_s=0.1)
    store.migrate()
    yield store
    store.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=stream(),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 1000), max_size=5),
    replay=st.lists(st.integers(0, 1000), max_size=3),
)
def test_sqlite_and_postgres_windows_identical(
    pg: PostgresStore, items: list[ScoredItem], order: random.Random, cuts: list[int],
    replay: list[int],
) -> None:  # fmt: skip
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES}")
    lite = SQLiteStore(":memory:")
    lite.migrate()
    shuffled = list(items)
    order.shuffle(shuffled)
    for store in (lite, pg):
        write_in_batches(store, shuffled, cuts)
        write_in_batches(store, shuffled[: len(shuffled) // 2], replay)  # a replay of a prefix
    expected = merge_stats(window_deltas(items, SIZES))
    in_sqlite = all_windows(lite)
    assert in_sqlite == expected  # exact: counts and float sums
    assert all_windows(pg) == in_sqlite
    assert pg.counts() == lite.counts()
    lite.close()


def test_restart_during_writes_loses_and_doubles_nothing(
    postgres_server: PostgresServer, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server crashes while a batch transaction is open; the writer retries and completes."""
    rnd = random.Random(7)
    items = [
        item(
            i,
            rnd.randrange(0, 6 * 3600),
            rnd.random() * 0.6,
            rnd.random() * 0.4,
            tuple(rnd.sample(["AAPL", "MSFT", "SAP"], rnd.randrange(0, 3))),
            "macro",
            "wire",
            rnd.random() < 0.8,
            rnd.random() < 0.1,
        )  # fmt: skip
        for i in range(2000)
    ]
    store = PostgresStore(postgres_dsn, retries=12, backoff_s=0.1, max_backoff_s=1.0)
    store.migrate()
    for k in range(0, 500, 50):
        store.write_batch(BatchWrite(items[k : k + 50], [], SIZES))
    # Hold window_stats so the next batch stops half-way (items inserted, windows not yet).
    blocker = psycopg.connect(postgres_dsn)
    blocker.execute("LOCK TABLE window_stats IN ACCESS EXCLUSIVE MODE")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for k in range(500, len(items), 50):
                store.write_batch(BatchWrite(items[k : k + 50], [], SIZES))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    caplog.set_level("WARNING", logger="finsentry.store.postgres")
    thread = threading.Thread(target=writer)
    thread.start()
    with psycopg.connect(postgres_dsn, autocommit=True) as watch:
        for _ in range(600):
            waiting = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0] > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the writer never blocked on window_stats")
    postgres_server.restart("immediate")  # crash: the open batch transaction is lost
    blocker.close()
    thread.join(300)
    assert not thread.is_alive() and not errors, errors
    assert any("retry" in r.getMessage() for r in caplog.records), "no retry happened"
    assert store.counts()["items"] == len(items)
    assert all_windows(store) == merge_stats(window_deltas(items, SIZES))
    assert store.check() == []  # finsentry db check after the fault
    store.close()


def test_unreachable_database_raises_and_replay_completes(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    items = [item(i, i * 30, 0.5, 0.2, ("AAPL",), "macro", "wire", True, False) for i in range(40)]
    store = PostgresStore(postgres_dsn, retries=2, backoff_s=0.05)
    store.migrate()
    store.write_batch(BatchWrite(items[:20], [], SIZES))
    postgres_server.stop("fast")
    try:
        with pytest.raises(StoreUnavailableError, match="after 3 attempts"):
            store.write_batch(BatchWrite(items[20:], [], SIZES))
    finally:
        postgres_server.start()
    # the caller did not commit offsets, so the source replays everything after the last flush
    store.write_batch(BatchWrite(items[10:], [], SIZES))
    assert store.counts()["items"] == 40
    assert all_windows(store) == merge_stats(window_deltas(items, SIZES))
    assert store.check() == []
    store.close()


def test_lost_commit_acknowledgement_is_retried_without_double_count(
    pg: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COMMIT lands but the client sees the connection drop: the retry must add nothing."""
    items = [item(i, i * 45, 0.1, 0.7, ("SAP",), "earnings", "rss", True, False) for i in range(30)]
    real = pg.dialect._connection
    dropped: list[bool] = []

    def flaky_connection() -> Any:
        conn = real()
        if dropped:
            return conn

        class AckLost:
            def __getattr__(self, name: str) -> Any:
                return getattr(conn, name)

            @contextmanager
            def transaction(self) -> Iterator[None]:
                with conn.transaction():
                    yield
                dropped.append(True)  # committed; now pretend the reply never arrived
                raise psycopg.OperationalError("server closed the connection unexpectedly")

        return AckLost()

    monkeypatch.setattr(pg.dialect, "_connection", flaky_connection)
    result = pg.write_batch(BatchWrite(items, [], SIZES))
    assert dropped == [True]
    assert result.new_items == 0  # the retry found everything already written
    assert pg.counts()["items"] == 30
    assert all_windows(pg) == merge_stats(window_deltas(items, SIZES))
    assert pg.check() == []


def test_concurrent_writers_with_overlap_count_each_item_once(postgres_dsn: str) -> None:
    """Four consumers write overlapping, shuffled slices at the same time (a rebalance replay)."""
    rnd = random.Random(3)
    items = [
        item(
            i,
            rnd.randrange(0, 2 * 3600),
            rnd.random() * 0.6,
            rnd.random() * 0.4,
            tuple(rnd.sample(["AAPL", "MSFT", "SAP"], rnd.randrange(0, 3))),
            "macro",
            rnd.choice(["wire", "rss"]),
            rnd.random() < 0.8,
            rnd.random() < 0.1,
        )  # fmt: skip
        for i in range(1200)
    ]
    PostgresStore(postgres_dsn).migrate()
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def consumer(seed: int) -> None:
        store = PostgresStore(postgres_dsn, backoff_s=0.05)
        mine = random.Random(seed).sample(items, 700)  # slices overlap heavily
        try:
            barrier.wait(30)
            for k in range(0, len(mine), 40):
                store.write_batch(BatchWrite(mine[k : k + 40], [], SIZES))
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=consumer, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    check = PostgresStore(postgres_dsn)
    written = {s.id for seed in range(4) for s in random.Random(seed).sample(items, 700)}
    expected_items = [s for s in items if s.id in written]
    assert check.counts()["items"] == len(expected_items)
    assert all_windows(check) == merge_stats(window_deltas(expected_items, SIZES))
    assert check.check() == []
    check.close()
