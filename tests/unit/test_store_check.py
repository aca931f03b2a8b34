"""``finsentry db check``: a consistent store passes; each deliberate break is reported.

The contract functions take any SQL store; tests/integration/test_postgres_store.py runs them on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finsentry.cli.db import db
from finsentry.schema import Alert, DeadLetter, Evidence, ScopeKind, iso
from finsentry.store.base import BatchWrite, Notification
from finsentry.store.queries import SQLStore
from finsentry.store.sqlite import SQLiteStore
from tests.unit.test_store_sqlite import SIZES, T0, scored

INPUT = "/data/news/a.jsonl"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(str(tmp_path / "check.db"))
    s.migrate()
    yield s
    s.close()


def healthy(store: SQLStore[Any]) -> Alert:
    """Items with tickers, duplicates and late ones, a closed watermark, an alert and its
    notifications (one delivered)."""
    items = [
        scored(i, minutes=i * 4, neg=(i % 3) / 4, novel=i % 5 != 0, late=i % 7 == 0,
               tickers=(("AAPL", "MSFT"), ("MSFT",), ())[i % 3])
        for i in range(30)
    ]  # fmt: skip
    last = iso(max(i.published_at for i in items))
    watermark = {"inputs": {INPUT: last}, "closed": [INPUT], "value": last}
    dead = [DeadLetter(b"{bad", "bad_json", "not JSON", "file", INPUT, 3)]
    store.write_batch(BatchWrite(items[:20], dead, SIZES))
    store.write_batch(BatchWrite(items[15:], [], SIZES, state={"watermark": watermark}))
    ev = Evidence("id-1", "Headline 1", T0, -0.5, "negative")
    alert = Alert(
        "tone", ScopeKind.TICKER, "MSFT", "negative_share", T0, T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=6), "high", 0.8, 0.1, (ev,),
    )  # fmt: skip
    store.insert_alerts([alert])
    sent = Notification(alert.id, "email", {"subject": "tone"})
    store.enqueue_notifications([sent, Notification(alert.id, "webhook:ab12", {"x": 1})])
    store.mark_notification(sent.key, "delivered", 1, None, None)
    return alert


def execute(store: SQLStore[Any], sql: str, *params: Any) -> None:
    store.dialect.transact(lambda tx: tx.execute(sql, params), "test fault")


def messages(store: SQLStore[Any]) -> list[str]:
    return [str(p) for p in store.check()]


def test_a_consistent_store_has_no_problems(store: SQLStore[Any]) -> None:
    healthy(store)
    assert messages(store) == []
    store.reaggregate(T0 - timedelta(days=1), SIZES)
    store.delete_items_before(T0 + timedelta(minutes=30))  # retention keeps windows: still fine
    assert messages(store) == []


def test_each_broken_window_is_reported(store: SQLStore[Any]) -> None:
    healthy(store)
    d = store.dialect
    execute(store, "UPDATE window_stats SET count = count + 2 WHERE window_size_s = 3600 "
            "AND scope_kind = 'all'")  # fmt: skip
    found = messages(store)
    assert any(m.startswith("windows: window 3600 s") and "'*': stored count" in m for m in found)
    execute(store, "DELETE FROM window_stats WHERE window_size_s = 60 AND scope_value = 'AAPL'")
    assert any("'AAPL': missing, though its items add up to count" in m for m in messages(store))
    far = T0 + timedelta(days=30)
    execute(
        store, "INSERT INTO window_stats VALUES (300, ?, ?, 'topic', 'ghost', 3, 3, 0, 0, -1.5, 0, 0)",
        d.ts_in(far), d.ts_in(far + timedelta(minutes=5)),
    )  # fmt: skip
    assert any("'ghost': holds count 3" in m and "no stored item" in m for m in messages(store))
    advice = messages(store)[-1]
    assert advice.startswith("windows: to rebuild them from the items: finsentry db reaggregate")
    since = datetime.fromisoformat(advice.rsplit("--since ", 1)[1])
    assert since <= T0  # the earliest bad window
    store.reaggregate(since, SIZES)
    assert messages(store) == []  # the advice works


def test_item_tickers_out_of_step_with_items_are_reported(store: SQLStore[Any]) -> None:
    healthy(store)
    d = store.dialect
    execute(store, "DELETE FROM item_tickers WHERE item_id = 'id-3' AND ticker = 'AAPL'")
    execute(
        store, "INSERT INTO item_tickers VALUES ('gone', 'SAP', ?, 0.5, 'positive', 0, 0, 1, "
        "'headline')", d.ts_in(T0),
    )  # fmt: skip
    execute(
        store, "INSERT INTO item_tickers VALUES ('id-4', 'NVDA', ?, 0.5, 'positive', 0, 0, 1, "
        "'headline')", d.ts_in(T0),
    )  # fmt: skip
    execute(store, "UPDATE item_tickers SET published_at = ? WHERE item_id = 'id-6' AND "
            "ticker = 'MSFT'", d.ts_in(T0 - timedelta(days=3)))  # fmt: skip
    found = [m for m in messages(store) if m.startswith("tickers:")]
    assert found == [
        "tickers: item_tickers row ('gone', 'SAP') has no item",
        "tickers: item 'id-3' names 'AAPL' but has no item_tickers row for it",
        "tickers: item_tickers row ('id-4', 'NVDA'): the item does not name that ticker",
        found[3],
    ]
    assert found[3].startswith("tickers: item_tickers row ('id-6', 'MSFT') is dated 2026-02-27")


def test_watermark_inputs_that_do_not_add_up_are_reported(store: SQLStore[Any]) -> None:
    healthy(store)
    store.set_state("watermark", {
        "inputs": {INPUT: iso(T0), "./news/b.jsonl": iso(T0 + timedelta(hours=1)),
                   "news:0": "yesterday", "news:1": iso(T0 + timedelta(days=3650))},
        "closed": [INPUT, "/data/news/c.jsonl"],
        "value": iso(T0 + timedelta(hours=2)),
    })  # fmt: skip
    found = [m for m in messages(store) if m.startswith("watermark:")]
    assert any("'./news/b.jsonl' is open under an unresolved path" in m for m in found)
    assert any("'news:0' has 'yesterday', not an ISO-8601 time" in m for m in found)
    assert any("'news:1' is at 2036" in m and "ahead of the clock" in m for m in found)
    assert any("closed input '/data/news/c.jsonl' is not among the inputs" in m for m in found)
    assert any("is ahead of its slowest open input" in m for m in found)
    assert len(found) == 5
    store.set_state("watermark/worker-2", {"inputs": {INPUT: iso(T0)}, "closed": [INPUT],
                                           "value": iso(T0 - timedelta(hours=1))})  # fmt: skip
    assert any("'watermark/worker-2': value" in m and "largest input time" in m
               for m in messages(store))  # fmt: skip


def test_outbox_rows_in_impossible_states_are_reported(store: SQLStore[Any]) -> None:
    alert = healthy(store)
    email, hook = f"{alert.id}:email", f"{alert.id}:webhook:ab12"
    execute(store, "UPDATE notifications SET status = 'sent', attempts = -1 WHERE key = ?", hook)
    execute(store, "UPDATE notifications SET delivered_at = NULL WHERE key = ?", email)
    store.enqueue_notifications([Notification("no-such-alert", "email", {})])
    found = [m for m in messages(store) if m.startswith("outbox:")]
    assert found == [
        f"outbox: notification '{email}' is delivered but has no delivered_at",
        f"outbox: notification '{hook}' has status 'sent'; valid: pending, delivered, failed",
        f"outbox: notification '{hook}' has -1 attempts",
        "outbox: notification 'no-such-alert:email' belongs to alert 'no-such-alert', which is "
        "not stored",
    ]


def test_cli_prints_each_problem_and_exits_non_zero(tmp_path: Path) -> None:
    path = str(tmp_path / "check.db")
    store = SQLiteStore(path)
    store.migrate()
    healthy(store)
    ok = CliRunner().invoke(db, ["check", "--db", path])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("store consistent: 30 items")
    execute(store, "UPDATE window_stats SET duplicates = duplicates + 1")
    execute(store, "UPDATE notifications SET status = 'lost'")
    bad = CliRunner().invoke(db, ["check", "--db", path, "--limit", "3"])
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    windows = [line for line in lines if line.startswith("windows: window")]
    assert len(windows) == 3 and "... and" in next(x for x in lines if x.startswith("windows: ..."))
    assert sum(line.startswith("outbox: ") for line in lines) == 3  # 2 states, 1 delivered_at
    assert "problems in" in bad.stderr
    store.close()


def test_a_store_written_by_the_pipeline_passes(tmp_path: Path) -> None:
    """No false alarms: a simulated stream with duplicates, late items, an incident and its
    alerts, ingested in odd batches and replayed, leaves nothing for the checks to report."""
    from finsentry.app.simulate import simulate
    from finsentry.config import Settings
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run_files
    from tests.fixtures.scorers import LexiconScorer

    stream = tmp_path / "news.jsonl"
    simulate(stream, hours=8, seed=5, incidents=1)
    path = str(tmp_path / "pipeline.db")
    settings = Settings(db=path)
    store = SQLiteStore(path)
    store.migrate()
    pipe = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    totals = run_files([stream], settings, pipeline=pipe, batch_size=97)
    run_files([stream], settings, pipeline=pipe, batch_size=250)  # a replay
    counts = store.counts()
    assert totals.processed > 100 and counts["duplicates"] > 0 and counts["alerts"] >= 1
    assert messages(store) == []
    result = CliRunner().invoke(db, ["check", "--db", path])
    assert result.exit_code == 0 and "store consistent" in result.output, result.output
    pipe.close()


def check_reads_one_snapshot(store: SQLStore[Any], other: SQLStore[Any]) -> None:
    """The check reads in one read-only transaction: another writer goes on meanwhile (it is
    not held back), and what it writes does not show up half-way through the check."""
    healthy(store)
    seen: list[int] = []

    def during(tx: Any) -> None:
        seen.append(tx.execute("SELECT count(*) FROM items").fetchall()[0][0])
        other.write_batch(BatchWrite([scored(99, minutes=500)], [], SIZES))
        seen.append(tx.execute("SELECT count(*) FROM items").fetchall()[0][0])

    store.dialect.snapshot(during, "test")
    assert seen == [30, 30]
    assert store.counts()["items"] == 31 and messages(store) == []


def test_check_reads_one_snapshot(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    store, other = SQLiteStore(path), SQLiteStore(path, busy_timeout_s=2)
    store.migrate()
    check_reads_one_snapshot(store, other)
    other.close()
    store.close()


def test_workers_left_running_misnamed_or_ahead_of_the_clock_are_reported(
    store: SQLStore[Any],
) -> None:
    healthy(store)
    from finsentry.schema import utc_now

    now = utc_now()
    base = {"inputs": {INPUT: iso(T0)}, "closed": [], "value": iso(T0 - timedelta(minutes=10)),
            "started_at": iso(now - timedelta(hours=4)), "holding": False, "unheard": []}  # fmt: skip
    store.set_state("watermark/live", {**base, "worker": "live", "running": True,
                                       "heartbeat": iso(now)})  # fmt: skip
    store.set_state("watermark/done", {**base, "worker": "done", "running": False,
                                       "heartbeat": iso(now - timedelta(days=3))})  # fmt: skip
    assert not [m for m in messages(store) if m.startswith("workers:")]
    store.set_state("watermark/crashed", {**base, "worker": "crashed", "running": True,
                                          "heartbeat": iso(now - timedelta(hours=3))})  # fmt: skip
    store.set_state("watermark/w2", {**base, "worker": "other", "running": False,
                                     "heartbeat": iso(now)})  # fmt: skip
    store.set_state("watermark/w3", {**base, "worker": "w3", "running": True})
    store.set_state("watermark/w4", {**base, "worker": "w4", "running": True,
                                     "heartbeat": iso(now + timedelta(hours=1))})  # fmt: skip
    found = [m for m in messages(store) if m.startswith("workers:")]
    assert any("'watermark/crashed': last seen at" in m and "never stopped" in m for m in found)
    assert any("'watermark/w2': names worker 'other'" in m for m in found)
    assert any("'watermark/w3': has no heartbeat" in m for m in found)
    assert any("'watermark/w4': heartbeat" in m and "ahead of this clock" in m for m in found)
    assert len(found) == 4
