from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.aggregate import merge_stats, window_deltas
from finsentry.schema import (
    Alert,
    AlertStatus,
    DeadLetter,
    Evidence,
    NewsItem,
    ScopeKind,
    ScoredItem,
    SentimentBasis,
    TargetSentiment,
    TextScore,
)
from finsentry.store import open_store
from finsentry.store.base import BatchHealth, BatchWrite, Notification, Silence, Store
from finsentry.store.sqlite import SQLiteStore, sqlite_path

T0 = datetime(2026, 3, 2, 9, 30, 17, 250_000, tzinfo=UTC)
SIZES = (60, 300, 3600)


def scored(i: int, minutes: float = 0.0, **kw: object) -> ScoredItem:
    news = NewsItem(
        id=f"id-{i}",
        published_at=T0 + timedelta(minutes=minutes),
        source=str(kw.pop("source", "wire")),
        headline=f"Headline {i}",
        body=kw.pop("body", None),  # type: ignore[arg-type]
        url=f"https://example.test/{i}",
        tickers=("AAPL",),
        lang="en",
        input="file.jsonl",
        position=i,
    )
    neg = float(kw.pop("neg", 0.1))
    return ScoredItem(
        item=news,
        scores=TextScore(neg, 0.2, 0.8 - neg, str(kw.pop("topic", "earnings")), 0.75),
        model="finsentry-test@1",
        tickers=tuple(kw.pop("tickers", ("AAPL", "MSFT"))),  # type: ignore[arg-type]
        novel=bool(kw.pop("novel", True)),
        duplicate_of=kw.pop("duplicate_of", None),  # type: ignore[arg-type]
        late=bool(kw.pop("late", False)),
        fingerprint=f"fp{i}",
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(str(tmp_path / "sub" / "f.db"))
    s.migrate()
    return s


def all_windows(store: Store) -> dict[object, object]:
    far = T0 + timedelta(days=2)
    start = T0 - timedelta(days=2)
    return {w.key: w for size in SIZES for w in store.window_stats(size, start, far)}


def test_open_store_urls_and_migrate_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    s1 = open_store(f"sqlite:///{path}")
    assert isinstance(s1, SQLiteStore) and isinstance(s1, Store)
    version = s1.migrate()
    assert version >= 1 and s1.migrate() == version
    s1.close()
    s2 = open_store(str(path))
    assert isinstance(s2, SQLiteStore) and s2.path == str(path)
    assert s2.schema_version() == version
    rows = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert rows[0] == "wal"
    s2.close()


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:////var/lib/f.db") == "/var/lib/f.db"
    assert sqlite_path("sqlite:///data/f.db") == "data/f.db"
    assert sqlite_path("sqlite://") == ":memory:"
    assert sqlite_path("./f.db") == "./f.db"


def test_write_is_idempotent_and_counts_new_only(store: SQLiteStore) -> None:
    items = [scored(i, minutes=i) for i in range(5)]
    dead = [DeadLetter(b"{bad", "bad_json", "not JSON", "file", "file.jsonl", 9)]
    first = store.write_batch(BatchWrite(items, dead, SIZES, state={"k": {"a": 1}}))
    assert (first.new_items, first.new_dead_letters) == (5, 1)
    before = all_windows(store)
    again = store.write_batch(BatchWrite(items + [items[0]], dead, SIZES))
    assert (again.new_items, again.new_dead_letters, again.windows_touched) == (0, 0, 0)
    assert all_windows(store) == before
    assert store.counts()["items"] == 5 and store.counts()["dead_letters"] == 1
    assert store.get_state("k") == {"a": 1}


def test_windows_merge_additively_across_batch_splits(tmp_path: Path) -> None:
    items = [
        scored(i, minutes=i * 0.7, neg=(i % 4) / 5, novel=i % 3 != 0, late=i % 5 == 0)
        for i in range(40)
    ]
    one = SQLiteStore(str(tmp_path / "one.db"))
    one.migrate()
    one.write_batch(BatchWrite(items, [], SIZES))
    split = SQLiteStore(str(tmp_path / "split.db"))
    split.migrate()
    for part in (items[25:], items[:7], items[7:25], items[3:30]):
        split.write_batch(BatchWrite(part, [], SIZES))
    expected = merge_stats(window_deltas(items, SIZES))
    assert all_windows(one) == expected
    assert all_windows(split) == expected
    totals = split.window_stats(
        3600, T0 - timedelta(hours=1), T0 + timedelta(hours=2), ScopeKind.ALL
    )
    assert sum(w.count for w in totals) == sum(1 for i in items if i.novel)
    assert sum(w.duplicates for w in totals) == sum(1 for i in items if not i.novel)
    assert sum(w.late for w in totals) == sum(1 for i in items if i.late)
    counts = split.counts()
    assert counts["novel"] + counts["duplicates"] == counts["items"] == 40


def test_round_trips(store: SQLiteStore) -> None:
    items = [
        scored(1, body="Body text", tickers=("SAP",)),
        scored(2, minutes=3, novel=False, duplicate_of="id-1", late=True, tickers=()),
    ]
    dl = DeadLetter(b"\xff\xfe raw", "bad_utf8", "invalid UTF-8", "kafka", "news/0", 42, T0)
    store.write_batch(
        BatchWrite(items, [dl], SIZES, health=BatchHealth("file", 3, 2, 1, 1, 1, 5.0, 9.0, 1.5))
    )
    got = store.items_between(T0 - timedelta(minutes=1), T0 + timedelta(minutes=10))
    assert got == list(reversed(items))  # most recent first, every field equal
    assert got[0].published_at.tzinfo is not None
    assert store.dead_letters() == [dl]
    assert store.fingerprints_since(T0) == [("id-1", "fp1", T0)]
    assert store.known_ids(["id-1", "nope"]) == {"id-1"}

    ev = Evidence("id-1", "Headline 1", T0, -0.5, "negative", "https://x.test", False)
    alert = Alert(
        "tone", ScopeKind.TICKER, "SAP", "negative_share", T0, T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=6), "high", 0.8, 0.1, (ev,),
    )  # fmt: skip
    assert store.insert_alerts([alert, alert]) == [alert]
    assert store.insert_alerts([alert]) == []
    assert store.alerts() == [alert]
    assert store.alerts(since=T0 + timedelta(seconds=1)) == []
    assert store.resolve_alert(alert.id, T0 + timedelta(hours=1))
    assert not store.resolve_alert(alert.id, T0 + timedelta(hours=1))
    assert store.alerts()[0].status is AlertStatus.RESOLVED

    n = Notification(alert.id, "webhook:https://h.test", {"a": [1, 2]})
    assert store.enqueue_notifications([n, n]) == 1
    assert store.due_notifications(T0) == [n]
    later = T0 + timedelta(minutes=5)
    store.mark_notification(n.key, "pending", 1, later, "timeout")
    assert store.due_notifications(T0) == []
    (due,) = store.due_notifications(later)
    assert (due.attempts, due.next_attempt_at, due.last_error) == (1, later, "timeout")
    store.mark_notification(n.key, "delivered", 2, None, None)
    assert store.due_notifications(later) == []

    hour = T0 + timedelta(hours=1)
    store.add_silence(Silence("s1", "ticker", "SAP", None, T0, hour, "earnings day", "ops"))
    store.add_silence(Silence("s2", "topic", "macro", "volume", T0, hour, "noisy", "ops"))
    assert store.is_muted("ticker", "SAP", "tone", T0)
    assert not store.is_muted("ticker", "SAP", "tone", T0 + timedelta(hours=2))
    assert not store.is_muted("ticker", "SAP", "tone", T0 - timedelta(seconds=1))  # not started
    assert store.is_muted("topic", "macro", "volume", T0)
    assert not store.is_muted("topic", "macro", "tone", T0)
    store.set_state("wm", {"inputs": {"a": "x"}})
    assert store.get_state("wm") == {"inputs": {"a": "x"}}
    assert store.get_state("missing") is None


def test_items_between_scopes(store: SQLiteStore) -> None:
    items = [
        scored(1, tickers=("AAPL",), topic="earnings", source="wire"),
        scored(2, minutes=1, tickers=("MSFT",), topic="macro", source="blog"),
        scored(3, minutes=2, tickers=("AAPL", "MSFT"), topic="macro", source="wire"),
    ]
    store.write_batch(BatchWrite(items, [], SIZES))
    lo, hi = T0, T0 + timedelta(minutes=10)

    def ids(kind: ScopeKind, value: str, limit: int = 100) -> list[str]:
        return [i.id for i in store.items_between(lo, hi, kind, value, limit)]

    assert ids(ScopeKind.ALL, "*") == ["id-3", "id-2", "id-1"]
    assert ids(ScopeKind.ALL, "*", limit=1) == ["id-3"]
    assert ids(ScopeKind.TICKER, "AAPL") == ["id-3", "id-1"]
    assert ids(ScopeKind.TOPIC, "macro") == ["id-3", "id-2"]
    assert ids(ScopeKind.SOURCE, "blog") == ["id-2"]
    assert store.items_between(lo, T0 + timedelta(minutes=1)) == [items[0]]  # end exclusive


def test_reaggregate_rebuilds_and_retention_keeps_windows(store: SQLiteStore) -> None:
    items = [scored(i, minutes=i * 7, late=i % 2 == 0) for i in range(30)]
    store.write_batch(BatchWrite(items, [], SIZES))
    before = all_windows(store)
    # damage the windows, then rebuild them from the items
    store._all("UPDATE window_stats SET count = count + 5")
    read: list[int] = []
    written = store.reaggregate(T0 - timedelta(days=1), SIZES, read.append)
    assert written == len(before)
    assert all_windows(store) == before
    assert sum(read) == 30  # every stored item reported to the progress bar, chunk by chunk

    cut = T0 + timedelta(hours=1)
    deleted = store.delete_items_before(cut)
    assert deleted == sum(1 for i in items if i.published_at < cut)
    assert store.counts()["items"] == 30 - deleted
    assert all_windows(store) == before  # window statistics are kept
    with pytest.raises(ValueError, match="retention"):
        store.reaggregate(T0, SIZES)
    store.reaggregate(cut, SIZES)
    assert all_windows(store) == before  # windows straddling the cut were left alone


def test_two_writers_same_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    a, b = SQLiteStore(path), SQLiteStore(path)
    a.migrate()
    b.migrate()
    items = [scored(i, minutes=i) for i in range(20)]
    a.write_batch(BatchWrite(items[:12], [], SIZES))
    b.write_batch(BatchWrite(items[8:], [], SIZES))
    assert all_windows(a) == merge_stats(window_deltas(items, SIZES))


def test_sentiment_towards_each_ticker_is_stored_and_read_back(store: Store) -> None:
    """item_tickers and the ticker windows carry the sentiment towards each ticker; re-aggregation
    rebuilds the same windows from the stored items."""
    base = scored(7, minutes=1, neg=0.1)  # headline: positive
    towards = (
        TargetSentiment("AAPL", 0.05, 0.1, 0.85),
        TargetSentiment("MSFT", 0.9, 0.07, 0.03),  # negative towards MSFT
    )
    item = replace(base, scores=replace(base.scores, targets=towards))
    store.write_batch(BatchWrite([item], [], SIZES))
    got = store.items_between(T0, T0 + timedelta(minutes=5), ScopeKind.TICKER, "MSFT")
    assert got == [item]
    assert got[0].towards("MSFT").sentiment == "negative"
    assert got[0].towards("AAPL").sentiment == "positive"
    windows = {
        (w.scope_kind, w.scope_value): w
        for w in store.window_stats(300, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    }
    msft, aapl = windows[(ScopeKind.TICKER, "MSFT")], windows[(ScopeKind.TICKER, "AAPL")]
    assert (msft.negative, msft.positive) == (1, 0)
    assert (aapl.negative, aapl.positive) == (0, 1)
    assert windows[(ScopeKind.ALL, "*")].positive == 1  # the headline's sentiment
    assert msft.score_sum == pytest.approx(0.03 - 0.9, abs=1e-6)
    before = all_windows(store)
    store.reaggregate(T0 - timedelta(hours=2), SIZES)
    assert all_windows(store) == before


def test_upgrading_a_store_backfills_ticker_rows_with_the_headline_sentiment(
    tmp_path: Path,
) -> None:
    """A store written before per-ticker sentiment: migration 0002 gives its item_tickers rows the
    headline's probabilities, marked basis 'headline'."""
    from finsentry.store.columns import ITEM_COLUMNS
    from finsentry.store.migration import migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    first = migrations("sqlite")[0]
    assert first.version == 1
    conn.executescript(first.sql)
    conn.execute(
        "CREATE TABLE schema_version "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    conn.execute(
        "INSERT INTO schema_version VALUES (1, ?, '2026-01-01T00:00:00+00:00')", (first.name,)
    )
    columns = [c for c in ITEM_COLUMNS if c != "ticker_sentiment"]
    values = {c: 0 for c in columns} | {
        "id": "old-1", "published_at": "2026-03-02T09:00:00+00:00",
        "ingested_at": "2026-03-02T09:00:01+00:00", "source": "wire", "headline": "Old news",
        "body": None, "url": None, "lang": "en", "tickers": '["AAPL"]', "input_tickers": "[]",
        "sentiment": "negative", "p_negative": 0.7, "p_neutral": 0.2, "p_positive": 0.1,
        "score": -0.6, "topic": "Earnings", "topic_prob": 0.9, "model": "old@1",
        "duplicate_of": None, "input": "f", "fingerprint": "",
    }  # fmt: skip
    conn.execute(
        f"INSERT INTO items ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [values[c] for c in columns],
    )
    conn.execute(
        "INSERT INTO item_tickers VALUES ('old-1', 'AAPL', '2026-03-02T09:00:00+00:00', -0.6, "
        "'negative')"
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    assert store.migrate() >= 2
    row = store._all("SELECT p_negative, p_neutral, p_positive, basis FROM item_tickers")[0]
    assert tuple(row) == (0.7, 0.2, 0.1, "headline")
    (item,) = store.items_between(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert item.towards("AAPL").basis == "headline" and item.towards("AAPL").negative == 0.7
    store.close()


def test_every_backend_fills_each_role(store: SQLiteStore) -> None:
    from finsentry.store import (
        AlertLedger,
        BatchSink,
        Maintenance,
        Outbox,
        PipelineState,
        WindowReader,
    )

    for role in (BatchSink, PipelineState, WindowReader, AlertLedger, Outbox, Maintenance, Store):
        assert isinstance(store, role), role.__name__


def test_nul_in_text_is_stored_as_a_replacement_character(store: Store) -> None:
    """PostgreSQL rejects NUL in text and JSON: both stores replace it by U+FFFD on writing, so
    they hold the same strings (raw dead-letter bytes are kept as they came)."""
    base = scored(1, minutes=1, tickers=("AA\x00PL",), topic="ear\x00nings", source="wi\x00re",
                  body="a\x00b")  # fmt: skip
    item = replace(base, item=replace(base.item, id="id-\x00", headline="Head\x00line"))
    dead = DeadLetter(b"raw\x00bytes", "bad_json", "bad \x00 json", "src\x00", "in\x00", 3)
    result = store.write_batch(BatchWrite([item], [dead], SIZES, state={"k\x00": ["v\x00"]}))
    assert (result.new_items, result.new_dead_letters) == (1, 1)
    (got,) = store.items_between(T0, T0 + timedelta(minutes=5))
    assert (got.id, got.item.headline, got.item.body) == ("id-\ufffd", "Head\ufffdline", "a\ufffdb")
    assert (got.tickers, got.scores.topic, got.item.source) == (
        ("AA\ufffdPL",),
        "ear\ufffdnings",
        "wi\ufffdre",
    )
    scopes = {
        (w.scope_kind, w.scope_value) for w in store.window_stats(60, T0, T0 + timedelta(hours=1))
    }
    assert scopes == {
        (ScopeKind.ALL, "*"), (ScopeKind.TICKER, "AA\ufffdPL"),
        (ScopeKind.TOPIC, "ear\ufffdnings"), (ScopeKind.SOURCE, "wi\ufffdre"),
    }  # fmt: skip
    (letter,) = store.dead_letters()
    assert letter.raw == b"raw\x00bytes" and letter.reason == "bad \ufffd json"
    assert (letter.source, letter.input) == ("src\ufffd", "in\ufffd")
    assert store.get_state("k\ufffd") == ["v\ufffd"]
    store.enqueue_notifications([Notification("a1", "email", {"headline": "x\x00y"})])
    (queued,) = store.due_notifications(T0 + timedelta(days=3650))
    assert queued.payload == {"headline": "x\ufffdy"}
    again = store.write_batch(BatchWrite([item], [dead], SIZES))  # a replay adds nothing
    assert (again.new_items, again.new_dead_letters) == (0, 0)
    # look-ups by a spelling with NUL find the stored text (PostgreSQL would refuse the NUL)
    assert store.known_ids(["id-\x00", "id-2"]) == {"id-\x00"}
    assert store.items_between(T0, T0 + timedelta(minutes=5), ScopeKind.TICKER, "AA\x00PL") == [got]
    assert store.window_stats(60, T0, T0 + timedelta(hours=1), ScopeKind.SOURCE, "wi\x00re")
    store.add_silence(
        Silence("s\x00", "ticker", "AA\x00PL", None, T0, T0 + timedelta(hours=1), "r\x00")
    )
    assert store.is_muted("ticker", "AA\ufffdPL", "tone", T0)
    assert store.is_muted("ticker", "AA\x00PL", "tone", T0)


def test_batch_writes_upsert_one_row_per_window_and_scope(store: SQLiteStore) -> None:
    """The rows a batch write upserts are the summed deltas: one per distinct key, in key order,
    the same numbers as ``window_deltas``."""
    from finsentry.aggregate import window_delta_rows
    from finsentry.store.rows import window_values

    items = [scored(i, minutes=i * 0.3, neg=(i % 3) / 4, novel=i % 4 != 0) for i in range(50)]
    rows = window_delta_rows(items, SIZES)
    assert rows == [window_values(s) for s in window_deltas(items, SIZES)]
    keys = [r[:5] for r in rows]
    assert keys == sorted(set(keys))  # distinct, in key order
    assert len(rows) < sum(len(SIZES) * (3 + len(i.tickers)) for i in items)  # summed per key
    result = store.write_batch(BatchWrite(items, [], SIZES))
    assert result.windows_touched == len(rows)
    assert all_windows(store) == merge_stats(window_deltas(items, SIZES))


def test_opening_waits_for_another_process_that_holds_a_new_file(tmp_path: Path) -> None:
    """Two consumers started together open one new file: switching it to WAL fails at once
    ("database is locked", no busy wait) while the other holds a write transaction."""
    import threading

    path = tmp_path / "shared.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    releaser = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    releaser.start()
    try:
        store = SQLiteStore(str(path), busy_timeout_s=10)
        store.migrate()
        assert store.dialect.query("PRAGMA journal_mode")[0][0] == "wal"
        store.close()
    finally:
        releaser.join()
        other.close()


def test_sqlite_item_rows_are_the_shared_item_values_adapted() -> None:
    """sqlite._item_row builds the row directly: it must say what rows.item_values says, column
    for column, as SQLite stores it."""
    import json

    from finsentry.store.columns import ITEM_COLUMNS
    from finsentry.store.rows import item_values
    from finsentry.store.sqlite import _item_row, ts

    items = [
        scored(1),
        scored(2, 3.5, body="Body", neg=0.7, novel=False, duplicate_of="id-1", late=True),
        replace(scored(3, tickers=()), scores=TextScore(0.1, 0.2, 0.7, "m&a", 0.5, (
            TargetSentiment("AAPL", 0.6, 0.3, 0.1, SentimentBasis.ENTITY),
        ))),
    ]  # fmt: skip
    now = T0 + timedelta(hours=1)
    for item in items:
        v = item_values(item, now)
        v["published_at"], v["ingested_at"] = ts(v["published_at"]), ts(v["ingested_at"])
        v["tickers"], v["input_tickers"] = json.dumps(v["tickers"]), json.dumps(v["input_tickers"])
        v["novel"], v["late"] = int(v["novel"]), int(v["late"])
        assert _item_row(item, ts(now)) == tuple(v[k] for k in ITEM_COLUMNS)


def test_dead_letters_listed_and_marked_replayed(store: SQLiteStore) -> None:
    """The dead-letter rows ``finsentry dead-letters`` reads: oldest first, by reason and time,
    and without the replayed ones unless asked (every backend runs this)."""
    dead = [
        DeadLetter(f"x{i}".encode(), code, "why", "file", "in.jsonl", i, T0 + timedelta(minutes=i))
        for i, code in enumerate(("bad_json", "missing_field", "bad_json"))
    ]
    store.write_batch(BatchWrite([], dead, SIZES))
    rows = store.dead_letter_rows()
    assert [(d.raw, at) for d, at in rows] == [(b"x0", None), (b"x1", None), (b"x2", None)]
    assert [d.key for d, _ in rows] == [d.key for d in dead]  # the stored key, to mark them by
    assert [d.raw for d, _ in store.dead_letter_rows("bad_json")] == [b"x0", b"x2"]
    counted = store.dead_letter_counts()
    assert list(counted.items()) == [("bad_json", 2), ("missing_field", 1)]  # most first
    assert [d.raw for d, _ in store.dead_letter_rows(since=T0 + timedelta(minutes=1))] == [
        b"x1",
        b"x2",
    ]
    at = T0 + timedelta(hours=1)
    assert store.mark_replayed([dead[0].key, dead[2].key, "no-such-key"], at) == 2
    assert store.mark_replayed([dead[0].key], at + timedelta(hours=1)) == 0  # once
    assert [d.raw for d, _ in store.dead_letter_rows()] == [b"x1"]
    assert store.dead_letter_counts() == {"missing_field": 1}
    assert store.dead_letter_counts("bad_json", replayed=True) == {"bad_json": 2}
    every = store.dead_letter_rows(replayed=True)
    assert [(d.raw, when) for d, when in every] == [(b"x0", at), (b"x1", None), (b"x2", at)]
    assert [d.raw for d, _ in store.dead_letter_rows(replayed=True, limit=1)] == [b"x0"]
    assert store.counts()["dead_letters"] == 3  # replayed ones stay, for the record
