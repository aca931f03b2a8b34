"""The pipeline core over small hand-made streams, with the lexicon test scorer."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import RawRecord, ScopeKind
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def news(i: int, minutes: float, headline: str, tickers: list[str] | None = None) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"n{i}",
        "published_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "source": "wire",
        "headline": headline,
        "body": None,
        "url": f"https://news.example/{i}",
    }
    if tickers is not None:
        row["tickers"] = tickers
    return row


def write_jsonl(path: Path, rows: list[dict[str, object]], extra: list[bytes] = ()) -> Path:
    lines = [json.dumps(r).encode() for r in rows] + list(extra)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def make_pipeline(tmp_path: Path, name: str = "p.db", **overrides: object) -> Pipeline:
    settings = Settings(db=str(tmp_path / name), **overrides)  # type: ignore[arg-type]
    store = open_store(settings.db)
    store.migrate()
    return Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())


def window_table(pipe: Pipeline, size: int) -> list[tuple[object, ...]]:
    stats = pipe.store.window_stats(size, T0 - timedelta(days=1), T0 + timedelta(days=2))
    return sorted(
        (s.start, str(s.scope_kind), s.scope_value, s.count, s.negative, s.neutral, s.positive,
         round(s.score_sum, 6), s.duplicates)
        for s in stats
    )


def test_every_record_is_processed_or_dead_lettered(tmp_path: Path) -> None:
    rows = [news(i, i, f"Apple unveils product number {i}", ["AAPL"]) for i in range(20)]
    bad = [b"{not json", b'{"id": "x"}', b"\xff\xfe\xfd", b"null"]
    path = write_jsonl(tmp_path / "in.jsonl", rows, bad)
    pipe = make_pipeline(tmp_path)
    totals = run_files([path], pipe.settings, pipeline=pipe)
    assert totals.consumed == 24
    assert totals.processed == 20
    assert totals.dead_lettered == 4
    assert totals.balanced
    dead = pipe.store.dead_letters()
    assert {d.raw for d in dead} == set(bad)
    assert all(d.reason_code and d.reason for d in dead)
    assert pipe.store.counts()["items"] == 20


def test_reingest_changes_nothing(tmp_path: Path) -> None:
    rows = [news(i, i * 3, f"Microsoft shares plunge {i}", ["MSFT"]) for i in range(30)]
    path = write_jsonl(tmp_path / "in.jsonl", rows, [b"garbage"])
    pipe = make_pipeline(tmp_path)
    first = run_files([path], pipe.settings, pipeline=pipe)
    before = (window_table(pipe, 300), pipe.store.counts(), [a.id for a in pipe.store.alerts()])
    second = run_files([path], pipe.settings, pipeline=pipe)
    after = (window_table(pipe, 300), pipe.store.counts(), [a.id for a in pipe.store.alerts()])
    assert first.new_items == 30
    assert second.new_items == 0
    assert second.alerts == []
    assert before == after


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_window_stats_do_not_depend_on_batch_split(tmp_path: Path, batch_size: int) -> None:
    rows = [
        news(i, (i * 7) % 180, f"{'Tesla recall widens' if i % 3 else 'Tesla deliveries surge'} {i}", ["TSLA"])
        for i in range(90)
    ]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    whole = make_pipeline(tmp_path, "whole.db")
    run_files([path], whole.settings, pipeline=whole, batch_size=1000)
    split = make_pipeline(tmp_path, f"split{batch_size}.db")
    run_files([path], split.settings, pipeline=split, batch_size=batch_size)
    assert window_table(whole, 300) == window_table(split, 300)
    assert window_table(whole, 3600) == window_table(split, 3600)
    ticker = [s for s in whole.store.window_stats(3600, T0, T0 + timedelta(hours=4),
                                                  ScopeKind.TICKER, "TSLA")]
    assert sum(s.count for s in ticker) == 90


def test_process_returns_after_durable_write(tmp_path: Path) -> None:
    pipe = make_pipeline(tmp_path)
    record = RawRecord(json.dumps(news(1, 0, "Nvidia beats estimates", ["NVDA"])).encode(),
                       source="test", input="mem", position=1)
    report = pipe.process([record])
    assert report.processed == 1 and report.new_items == 1
    other = open_store(pipe.settings.db)
    assert other.known_ids(["n1"]) == {"n1"}
    other.close()


def test_watermark_survives_restart(tmp_path: Path) -> None:
    """Under the same worker id (FINSENTRY_WORKER_ID) a restart goes on from its watermark."""
    pipe = make_pipeline(tmp_path, worker_id="ingest-1")
    rec = lambda i, m: RawRecord(  # noqa: E731
        json.dumps(news(i, m, f"Amazon item {i}", ["AMZN"])).encode(), "t", "mem", i)
    pipe.process([rec(1, 60)])
    before = pipe.watermark.value
    pipe.close()
    again = make_pipeline(tmp_path, worker_id="ingest-1")
    assert again.watermark.value == before
    report = again.process([rec(2, 0)])  # 60 minutes behind the max with 10 minutes lateness
    assert report.late == 1


def test_run_totals_count_every_alert_but_a_consumer_keeps_only_the_last() -> None:
    from finsentry.pipeline import RunTotals

    batches: list[list[Any]] = [[object(), object()] for _ in range(4)]
    bounded, unbounded = RunTotals(keep_alerts=3), RunTotals()
    for batch in batches:
        bounded.add_alerts(batch)
        unbounded.add_alerts(batch)
    flat = [a for batch in batches for a in batch]
    assert bounded.alert_count == unbounded.alert_count == 8
    assert bounded.alerts == flat[-3:] and unbounded.alerts == flat


def test_each_ticker_of_a_headline_gets_its_own_sentiment(tmp_path: Path) -> None:
    """A story naming two companies of opposite fortune moves each ticker its own way; the
    topic/all scopes keep the headline's sentiment, and a given ticker the text never names
    takes the headline's."""
    rows = [
        news(1, 1, "Apple surges as Microsoft plunges", ["NVDA"]),
        news(2, 2, "Microsoft gains, Apple slumps"),
    ]
    pipe = make_pipeline(tmp_path)
    totals = run_files([write_jsonl(tmp_path / "in.jsonl", rows)], pipe.settings, pipeline=pipe)
    assert totals.processed == 2
    stored = {
        i.id: i for i in pipe.store.items_between(T0, T0 + timedelta(hours=1))
    }
    first = stored["n1"]
    assert first.tickers == ("AAPL", "MSFT", "NVDA")
    assert first.towards("AAPL").sentiment == "positive"
    assert first.towards("MSFT").sentiment == "negative"
    assert first.towards("NVDA").basis == "headline"
    assert stored["n2"].towards("AAPL").sentiment == "negative"
    assert stored["n2"].towards("MSFT").sentiment == "positive"
    hour = {(kind, value): (neg, pos) for _, kind, value, _, neg, _, pos, _, _ in window_table(pipe, 3600)}
    assert hour[("ticker", "AAPL")] == (1, 1) and hour[("ticker", "MSFT")] == (1, 1)
    pipe.close()


class BrittleScorer(LexiconScorer):
    """The lexicon scorer, except that any batch holding a text with ``marker`` raises (as a model
    can on one odd input), so the pipeline must find that text to go on."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def score(self, texts: Any, targets: Any = None) -> Any:
        if any(self.marker in t for t in texts):
            raise ValueError("the model cannot read this text")
        return super().score(texts, targets)


def test_a_record_failing_scoring_is_dead_lettered_and_its_batch_stored(tmp_path: Path) -> None:
    rows = [news(i, i, f"Apple headline {i}{' QQQ' if i in (3, 11) else ''}", ["AAPL"])
            for i in range(16)]
    path = write_jsonl(tmp_path / "in.jsonl", rows, [b"{broken"])
    settings = Settings(db=str(tmp_path / "p.db"))
    pipe = Pipeline.from_settings(settings, scorer=BrittleScorer("QQQ"))
    totals = run_files([path], settings, pipeline=pipe, batch_size=100)
    assert (totals.consumed, totals.processed, totals.dead_lettered) == (17, 14, 3)
    assert totals.balanced
    assert totals.dead_reasons == {"bad_json": 1, "scoring_failed": 2}
    dead = {d.position: d for d in pipe.store.dead_letters() if d.reason_code == "scoring_failed"}
    assert sorted(dead) == [4, 12]  # line numbers of rows 3 and 11
    assert dead[4].raw == json.dumps(rows[3]).encode()
    assert "ValueError: the model cannot read this text" in dead[4].reason
    assert pipe.store.counts()["items"] == 14
    assert pipe.store.known_ids(["n3", "n11", "n4"]) == {"n4"}
    pipe.close()


def test_a_record_failing_the_store_write_is_dead_lettered_and_the_rest_committed(
    tmp_path: Path,
) -> None:
    pipe = make_pipeline(tmp_path)
    conn = sqlite3.connect(pipe.settings.db)  # a row the database itself refuses
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.id = 'n5' "
                 "BEGIN SELECT RAISE(ABORT, 'row refused by the database'); END")
    conn.commit()
    conn.close()
    rows = [news(i, i * 10, f"Microsoft shares plunge {i}", ["MSFT"]) for i in range(12)]
    totals = run_files([write_jsonl(tmp_path / "in.jsonl", rows)], pipe.settings, pipeline=pipe,
                       batch_size=100)
    assert (totals.consumed, totals.processed, totals.dead_lettered) == (12, 11, 1)
    assert totals.new_items == 11 and totals.dead_reasons == {"store_failed": 1}
    [dead] = pipe.store.dead_letters()
    assert (dead.position, dead.reason_code) == (6, "store_failed")
    assert "row refused by the database" in dead.reason
    assert pipe.store.known_ids([f"n{i}" for i in range(12)]) == {f"n{i}" for i in range(12)} - {"n5"}
    hour = sum(s.count + s.duplicates for s in pipe.store.window_stats(
        3600, T0 - timedelta(days=1), T0 + timedelta(days=1), ScopeKind.ALL, "*"))
    assert hour == 11  # each stored item counted once, the refused one not at all
    # the watermark covers only what was stored: n11 (110 min) is the latest
    assert pipe.watermark.inputs[str(tmp_path / "in.jsonl")] == T0 + timedelta(minutes=110)
    pipe.close()


def test_a_batch_failing_for_every_record_is_not_dead_lettered(tmp_path: Path) -> None:
    """A model or store that fails on everything is broken: the batch raises, nothing is stored
    or dead-lettered, and a source does not commit it."""
    settings = Settings(db=str(tmp_path / "p.db"))
    pipe = Pipeline.from_settings(settings, scorer=BrittleScorer("Apple"))
    records = [RawRecord(json.dumps(news(i, i, f"Apple item {i}")).encode(), "t", "mem", i)
               for i in range(4)]
    with pytest.raises(ValueError, match="cannot read"):
        pipe.process(records)
    assert pipe.store.counts()["items"] == 0 and pipe.store.dead_letters() == []
    pipe.close()
