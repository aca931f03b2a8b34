"""The PostgreSQL store against a real server (the ``postgres_server`` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from finsentry.aggregate import merge_stats, window_deltas
from finsentry.schema import DeadLetter, ScopeKind
from finsentry.store import open_store
from finsentry.store.base import BatchWrite, Store
from finsentry.store.postgres import PostgresStore
from finsentry.store.sqlite import SQLiteStore
from tests.unit import test_store_check as check_contract
from tests.unit import test_store_sqlite as contract
from tests.unit.test_store_sqlite import SIZES, T0, all_windows, scored

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_dsn)
    store.migrate()
    yield store
    store.close()


def test_migrate_is_idempotent_and_plain_path_indexes(postgres_dsn: str) -> None:
    store = open_store(postgres_dsn)
    assert isinstance(store, PostgresStore) and isinstance(store, Store)
    version = store.migrate()
    assert version == store.migrate() == store.schema_version() >= 2
    assert not store.timescaledb()  # TimescaleDB is not installed here: plain tables
    with psycopg.connect(postgres_dsn) as conn:
        indexes = dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).fetchall()
        )
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'items'"
            ).fetchall()
        )
    assert "USING brin (published_at)" in indexes["items_published_at_brin"]
    assert "USING brin (window_start)" in indexes["window_stats_start_brin"]
    assert "(scope_kind, scope_value, window_size_s, window_start)" in indexes["window_stats_scope"]
    assert types["published_at"] == "timestamp with time zone"
    assert types["tickers"] == "ARRAY"
    store.close()


def test_round_trips(pg: PostgresStore) -> None:
    contract.test_round_trips(pg)  # type: ignore[arg-type]


def test_sentiment_towards_each_ticker(pg: PostgresStore) -> None:
    contract.test_sentiment_towards_each_ticker_is_stored_and_read_back(pg)  # type: ignore[arg-type]
    rows = pg._all(  # the columns Grafana and the report read
        "SELECT ticker, sentiment, basis FROM item_tickers WHERE item_id = 'id-7' ORDER BY ticker"
    )
    assert [tuple(r) for r in rows] == [
        ("AAPL", "positive", "entity"),
        ("MSFT", "negative", "entity"),
    ]


def test_outbox_operations(pg: PostgresStore) -> None:
    from tests.unit.test_outbox_store import outbox_contract

    outbox_contract(pg)


def test_items_between_scopes(pg: PostgresStore) -> None:
    contract.test_items_between_scopes(pg)  # type: ignore[arg-type]


def test_write_is_idempotent(pg: PostgresStore) -> None:
    contract.test_write_is_idempotent_and_counts_new_only(pg)  # type: ignore[arg-type]


def test_reaggregate_and_retention(pg: PostgresStore, postgres_dsn: str) -> None:
    items = [scored(i, minutes=i * 7, late=i % 2 == 0) for i in range(30)]
    pg.write_batch(BatchWrite(items, [], SIZES))
    before = all_windows(pg)
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("UPDATE window_stats SET count = count + 5, late = 0")
    assert all_windows(pg) != before
    assert pg.reaggregate(T0 - timedelta(days=1), SIZES) == len(before)
    assert all_windows(pg) == before

    cut = T0 + timedelta(hours=1)
    deleted = pg.delete_items_before(cut)
    assert deleted == sum(1 for i in items if i.published_at < cut) > 0
    assert pg.counts()["items"] == 30 - deleted
    assert all_windows(pg) == before
    with pytest.raises(ValueError, match="retention"):
        pg.reaggregate(T0, SIZES)
    # a replay of deleted items is dead-lettered, not counted a second time
    result = pg.write_batch(BatchWrite(items, [], SIZES))
    assert result.new_items == 0 and result.new_dead_letters == deleted
    assert all_windows(pg) == before
    assert {d.reason_code for d in pg.dead_letters()} == {"before_retention"}


def test_two_writers_and_replay_match_one_pass(
    postgres_dsn_factory: Callable[[], str],
) -> None:
    items = [scored(i, minutes=i * 0.5, neg=(i % 5) / 6, novel=i % 4 != 1) for i in range(60)]
    one = PostgresStore(postgres_dsn_factory())
    one.migrate()
    one.write_batch(BatchWrite(items, [], SIZES))
    dsn = postgres_dsn_factory()
    a, b = PostgresStore(dsn), PostgresStore(dsn)
    a.migrate()
    b.migrate()
    a.write_batch(BatchWrite(items[::2], [], SIZES))
    b.write_batch(BatchWrite(items[1::2], [], SIZES))
    a.write_batch(BatchWrite(items[10:50], [], SIZES))  # replay of a slice
    expected = merge_stats(window_deltas(items, SIZES))
    assert all_windows(one) == expected
    assert all_windows(a) == expected
    hourly = a.window_stats(3600, T0 - timedelta(hours=1), T0 + timedelta(hours=2), ScopeKind.ALL)
    assert sum(w.count for w in hourly) == sum(1 for i in items if i.novel)
    for s in (one, a, b):
        s.close()


def test_dead_letters_keyed(pg: PostgresStore) -> None:
    dead = [DeadLetter(f"x{i}".encode(), "bad_json", "bad", "f", "f", i) for i in range(3)]
    assert pg.write_batch(BatchWrite([], dead, SIZES)).new_dead_letters == 3
    assert pg.write_batch(BatchWrite([], dead + dead, SIZES)).new_dead_letters == 0
    assert [d.raw for d in pg.dead_letters()] == [b"x0", b"x1", b"x2"]


def test_dead_letters_listed_and_marked_replayed(pg: PostgresStore) -> None:
    contract.test_dead_letters_listed_and_marked_replayed(pg)  # type: ignore[arg-type]
    assert pg.delete_dead_letters_before(contract.T0 + timedelta(minutes=1, seconds=1)) == 2
    assert [d.raw for d in pg.dead_letters()] == [b"x2"]


def test_a_missing_database_is_not_retried(postgres_dsn: str) -> None:
    """ "Database does not exist" is final: one attempt, a message that says so."""
    import time

    from finsentry.store import StoreUnavailableError

    missing = postgres_dsn.rsplit("/", 1)[0] + "/no_such_database"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="does not exist.*would not help"):
        PostgresStore(missing, retries=8).migrate()
    assert time.monotonic() - started < 5  # 8 retries with backoff would take half a minute


@pytest.mark.parametrize("target", ["missing database", "closed port"])
def test_read_only_commands_fail_fast_on_one_line(postgres_dsn: str, target: str) -> None:
    import socket
    import time

    from click.testing import CliRunner

    from finsentry.cli import main

    if target == "closed port":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"postgresql://finsentry@127.0.0.1:{port}/finsentry"
    else:
        url = postgres_dsn.rsplit("/", 1)[0] + "/no_such_database"
    started = time.monotonic()
    result = CliRunner().invoke(main, ["alerts", "--db", url])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: PostgreSQL")
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_nul_in_text_is_stored_like_sqlite(pg: PostgresStore, tmp_path: Path) -> None:
    contract.test_nul_in_text_is_stored_as_a_replacement_character(pg)  # type: ignore[arg-type]
    lite = SQLiteStore(str(tmp_path / "same.db"))
    lite.migrate()
    contract.test_nul_in_text_is_stored_as_a_replacement_character(lite)
    span = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert pg.items_between(*span) == lite.items_between(*span)
    assert all_windows(pg) == all_windows(lite)
    lite.close()


def test_every_backend_fills_each_role(pg: PostgresStore) -> None:
    contract.test_every_backend_fills_each_role(pg)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "test_a_consistent_store_has_no_problems",
        "test_each_broken_window_is_reported",
        "test_item_tickers_out_of_step_with_items_are_reported",
        "test_watermark_inputs_that_do_not_add_up_are_reported",
        "test_workers_left_running_misnamed_or_ahead_of_the_clock_are_reported",
        "test_outbox_rows_in_impossible_states_are_reported",
    ],
)
def test_db_check_reports_each_break(pg: PostgresStore, name: str) -> None:
    getattr(check_contract, name)(pg)


def test_db_check_cli_on_postgres(pg: PostgresStore, postgres_dsn: str) -> None:
    from click.testing import CliRunner

    from finsentry.cli.db import db

    check_contract.healthy(pg)
    assert CliRunner().invoke(db, ["check", "--db", postgres_dsn]).exit_code == 0
    check_contract.execute(pg, "DELETE FROM item_tickers WHERE item_id = 'id-1'")
    bad = CliRunner().invoke(db, ["check", "--db", postgres_dsn])
    assert bad.exit_code == 1
    assert "tickers: item 'id-1' names 'MSFT' but has no item_tickers row for it" in bad.stdout


def test_db_check_passes_a_store_the_pipeline_wrote(postgres_dsn: str, tmp_path: Path) -> None:
    from finsentry.app.simulate import simulate
    from finsentry.config import Settings
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run_files
    from tests.fixtures.scorers import LexiconScorer

    stream = tmp_path / "news.jsonl"
    simulate(stream, hours=8, seed=5, incidents=1)
    settings = Settings(db=postgres_dsn)
    store = PostgresStore(postgres_dsn)
    store.migrate()
    pipe = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    totals = run_files([stream], settings, pipeline=pipe, batch_size=97)
    assert totals.processed > 100 and store.counts()["alerts"] >= 1
    assert [str(p) for p in store.check()] == []
    pipe.close()


def test_db_check_reads_one_snapshot(pg: PostgresStore, postgres_dsn: str) -> None:
    other = PostgresStore(postgres_dsn)
    check_contract.check_reads_one_snapshot(pg, other)
    other.close()


def test_binary_copy_types_are_the_columns_types(pg: PostgresStore, postgres_dsn: str) -> None:
    """Batch writes COPY in binary with declared types: they must be the migrated columns'."""
    from finsentry.store import columns
    from finsentry.store.postgres import ITEM_TYPES, TICKER_TYPES, WINDOW_TYPES

    names = {"float8": "double precision", "int8": "bigint", "int4": "integer", "bool": "boolean",
             "timestamptz": "timestamp with time zone", "text[]": "text[]", "text": "text"}  # fmt: skip
    sql = (
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
    )
    with psycopg.connect(postgres_dsn) as conn:
        for table, cols, types in (
            ("items", columns.ITEM_COLUMNS, ITEM_TYPES),
            ("item_tickers", columns.TICKER_COLUMNS, TICKER_TYPES),
            ("window_stats", columns.WINDOW_COLUMNS, WINDOW_TYPES),
        ):
            actual = dict(conn.execute(sql, (table,)).fetchall())
            assert [actual[c] for c in cols] == [names[t] for t in types], table
