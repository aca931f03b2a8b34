"""Poison-proof parsing: any byte sequence becomes an item or a dead letter, never an exception.

Fuzzed with hypothesis over hostile records (lone surrogates in ids, urls and keys, NUL and other
control characters, timestamps from year 1 to 9999, thousands of tickers, invalid UTF-8), through
parse -> validate -> normalise, and through the whole pipeline (lexicon scorer) into SQLite and
PostgreSQL, which must then hold the same items.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.schema import DeadLetter, NewsItem, RawRecord
from finsentry.sources.fields import has_unstorable
from finsentry.sources.validate import Reason, parse_records
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = Settings(max_tickers=50, dead_letter_raw_bytes=256)

POISON = ["\ud800", "\udfff", "\x00", "\x1b[2J", "\u202e", "\ufeff", "\x85", "\r\n", "\t", "é"]
hostile_text = st.lists(
    st.one_of(st.sampled_from(POISON), st.text(max_size=8)), max_size=5
).map("".join)
headlines = st.one_of(
    st.sampled_from(["Apple beats estimates", "Tesla recall widens", "$NVDA surges on record"]),
    st.tuples(st.sampled_from(["Fed holds rates", "Oil slumps"]), hostile_text).map("".join),
    hostile_text,
)
timestamps = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 3, 2), timezones=st.just(UTC)
    ).map(datetime.isoformat),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-23:59",
            "1989-12-31T23:59:59Z",
            "1990-01-01T00:00:00Z",
            "2026-03-02T11:00:00+01:00",
        ]
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ).map(datetime.isoformat),
    hostile_text,
)
tickers = st.one_of(
    st.lists(st.one_of(st.sampled_from(["AAPL", "msft", "$tsla", "BRK-B"]), hostile_text), max_size=6),
    st.integers(40, 120).map(lambda n: [f"T{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}" for i in range(n)]),
    hostile_text,
)
objects = st.fixed_dictionaries(
    {
        "id": st.one_of(st.integers(0, 30).map(lambda i: f"n{i}"), hostile_text),
        "published_at": timestamps,
        "source": st.one_of(st.just("Harbor Wire"), hostile_text),
        "headline": headlines,
    },
    optional={
        "body": st.one_of(st.none(), hostile_text),
        "url": st.one_of(
            st.none(),
            st.sampled_from(["https://ex.example/a", "https://ex.example/\ud800", "http://\x00/"]),
            hostile_text,
        ),
        "tickers": tickers,
        "lang": st.one_of(st.sampled_from(["en", "de-CH"]), hostile_text),
        "\ud800": hostile_text,
        "k\x00": st.integers(),
    },
)


def encode(obj: dict[str, Any], ascii_only: bool) -> bytes:
    # ensure_ascii writes a lone surrogate as the escape \ud800 (valid JSON); without it the
    # surrogate is written raw (surrogatepass), which is not valid UTF-8
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


raw_records = st.one_of(
    st.builds(encode, objects, st.booleans()),
    st.binary(max_size=300),
    st.builds(encode, objects, st.just(True)).map(lambda b: b[: len(b) // 2]),
)


def as_records(raws: list[bytes]) -> list[RawRecord]:
    return [RawRecord(data=r, source="kafka", input="news/0", position=i) for i, r in enumerate(raws)]


def assert_storable_item(item: NewsItem, settings: Settings) -> None:
    texts = [item.id, item.source, item.headline, item.body or "", item.url or "", item.lang]
    for text in [*texts, *item.tickers]:
        assert not has_unstorable(text), text
        text.encode("utf-8")  # no lone surrogate left
    assert settings.earliest_published_at <= item.published_at
    assert item.published_at <= NOW + timedelta(seconds=settings.future_tolerance_s)
    assert len(item.tickers) <= settings.max_tickers


def assert_storable_dead(dead: DeadLetter, record: RawRecord, settings: Settings) -> None:
    assert dead.reason_code in {r.value for r in Reason}
    assert dead.reason_code != Reason.UNEXPECTED, dead.reason
    for text in (dead.reason, dead.input, dead.source):
        assert "\x00" not in text
        text.encode("utf-8")
    assert record.data.startswith(dead.raw)
    assert len(dead.raw) <= settings.dead_letter_raw_bytes


@settings(max_examples=400, deadline=None)
@given(st.lists(raw_records, min_size=1, max_size=6))
def test_any_bytes_become_a_storable_item_or_a_dead_letter(raws: list[bytes]) -> None:
    records = as_records(raws)
    items, dead = parse_records(records, SETTINGS, NOW)
    assert len(items) + len(dead) == len(records)
    for item in items:
        assert_storable_item(item, SETTINGS)
    by_position = {r.position: r for r in records}
    for letter in dead:
        assert_storable_dead(letter, by_position[letter.position], SETTINGS)


def make_pipeline(db: str) -> Pipeline:
    config = Settings(db=db, max_tickers=50, dead_letter_raw_bytes=256)
    store = open_store(db)
    return Pipeline.from_settings(
        config, store=store, scorer=LexiconScorer(), detect=False, clock=lambda: NOW
    )


def stored_items(pipe: Pipeline) -> set[tuple[object, ...]]:
    start, end = datetime(1900, 1, 1, tzinfo=UTC), NOW + timedelta(days=1)
    return {
        (s.item.id, s.item.source, s.item.headline, s.item.body, s.item.url, s.tickers, s.novel)
        for s in pipe.store.items_between(start, end, limit=100_000)
    }


def run_batches(pipes: list[Pipeline], raws: list[bytes]) -> None:
    records = as_records(raws)
    for pipe in pipes:
        report = pipe.process(records)
        assert report.consumed == report.processed + report.dead_lettered == len(records)
        assert Reason.UNEXPECTED not in {d.reason_code for d in report.dead_letters}


def test_fuzzed_batches_through_the_pipeline_into_sqlite(tmp_path: Path) -> None:
    pipe = make_pipeline(str(tmp_path / "fuzz.db"))

    @settings(max_examples=120, deadline=None)
    @given(st.lists(raw_records, min_size=1, max_size=8))
    def run(raws: list[bytes]) -> None:
        run_batches([pipe], raws)

    try:
        run()
        assert pipe.store.counts()["items"] > 0  # the fuzzer did produce valid items
    finally:
        pipe.close()


@pytest.mark.postgres
def test_fuzzed_batches_give_the_same_items_in_sqlite_and_postgresql(
    tmp_path: Path, postgres_dsn: str
) -> None:
    lite = make_pipeline(str(tmp_path / "fuzz.db"))
    pg = make_pipeline(postgres_dsn)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(st.lists(raw_records, min_size=1, max_size=8))
    def run(raws: list[bytes]) -> None:
        run_batches([lite, pg], raws)

    try:
        run()
        assert stored_items(lite) == stored_items(pg)
        assert lite.store.counts()["items"] == pg.store.counts()["items"] > 0
        assert lite.store.counts()["dead_letters"] == pg.store.counts()["dead_letters"]
    finally:
        lite.close()
        pg.close()


def corpus_record(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "c-1",
        "published_at": "2026-03-02T10:00:00Z",
        "source": "Harbor Wire",
        "headline": "Apple beats estimates",
        "url": "https://ex.example/c-1",
    }
    row.update(changes)
    return row


MANY_TICKERS = [
    f"{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i // 676 % 26)}" for i in range(17_000)
]
# Every poison record the issue names, with what becomes of it.
CORPUS: list[tuple[str, bytes, str | None]] = [
    ("surrogate in id", encode(corpus_record(id="a\ud800"), True), Reason.BAD_ID),
    ("surrogate in id, raw", encode(corpus_record(id="a\ud800"), False), Reason.BAD_UTF8),
    ("surrogate in url", encode(corpus_record(id="c-2", url="https://x.example/\ud800"), True), None),
    ("surrogate in a key", encode({**corpus_record(id="c-3"), "\ud800": 1}, True), None),
    ("surrogate key, no headline", encode({"\ud800x": 1, "id": "c"}, True), Reason.MISSING_FIELD),
    ("year 1", encode(corpus_record(published_at="0001-01-01T00:00:00Z"), True), Reason.OLD_TIMESTAMP),
    ("year 1, offset", encode(corpus_record(published_at="0001-01-01T00:00:00+05:00"), True),
     Reason.BAD_TIMESTAMP),
    ("year 1989", encode(corpus_record(published_at="1989-12-31T23:59:59Z"), True),
     Reason.OLD_TIMESTAMP),
    ("year 9999", encode(corpus_record(published_at="9999-12-31T23:59:59Z"), True),
     Reason.FUTURE_TIMESTAMP),
    ("NUL in id", encode(corpus_record(id="c\x00"), True), Reason.BAD_ID),
    ("NUL in headline", encode(corpus_record(id="c-4", headline="Apple\x00 beats"), True), None),
    ("NUL in body", encode(corpus_record(id="c-5", body="up\x00 8%"), True), None),
    ("NUL in source", encode(corpus_record(id="c-6", source="Wire\x00"), True), None),
    ("NUL in url", encode(corpus_record(id="c-7", url="https://x.example/\x00"), True), None),
    ("NUL in lang", encode(corpus_record(id="c-8", lang="en\x00"), True), Reason.WRONG_TYPE),
    ("17k tickers", encode(corpus_record(tickers=MANY_TICKERS), True), Reason.TOO_MANY_TICKERS),
    ("17k tickers in one string", encode(corpus_record(tickers="|".join(MANY_TICKERS)), True),
     Reason.TOO_MANY_TICKERS),
    ("50 tickers", encode(corpus_record(id="c-9", tickers=MANY_TICKERS[:50]), True), None),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_corpus_of_poison_records(raw: bytes, expected: str | None) -> None:
    record = RawRecord(data=raw, source="kafka", input="news/0", position=3)
    items, dead = parse_records([record], SETTINGS, NOW)
    if expected is None:
        assert dead == [] and len(items) == 1
        assert_storable_item(items[0], SETTINGS)
    else:
        assert items == [] and [d.reason_code for d in dead] == [expected]
        assert_storable_dead(dead[0], record, SETTINGS)


def test_poison_fields_are_cleaned_the_same_for_every_store() -> None:
    raws = [c[1] for c in CORPUS if c[2] is None]
    items, dead = parse_records(as_records(raws), SETTINGS, NOW)
    assert dead == []
    by_id = {item.id: item for item in items}
    assert by_id["c-2"].url is None and by_id["c-7"].url is None  # unsafe links dropped
    assert by_id["c-4"].headline == "Apple beats"  # NUL is a space, then collapsed
    assert by_id["c-5"].body == "up 8%"
    assert by_id["c-6"].source == "Wire"


@pytest.mark.parametrize("store_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_corpus_batch_stores_its_valid_records(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "c.db") if store_kind == "sqlite" else request.getfixturevalue("postgres_dsn")
    pipe = make_pipeline(db)
    try:
        raws = [c[1] for c in CORPUS]
        report = pipe.process(as_records(raws))
        poison = sum(c[2] is not None for c in CORPUS)
        assert (report.processed, report.dead_lettered) == (len(CORPUS) - poison, poison)
        stored = stored_items(pipe)
        assert {row[0] for row in stored} == {"c-2", "c-3", "c-4", "c-5", "c-6", "c-7", "c-9"}
        assert pipe.store.counts()["dead_letters"] == poison
        reasons = {d.reason_code: d.reason for d in pipe.store.dead_letters()}
        assert "\\ud800" in reasons["bad_id"] or "\\u0000" in reasons["bad_id"]
    finally:
        pipe.close()


@settings(max_examples=300, deadline=None)
@given(st.builds(encode, objects, st.booleans()))
def test_fast_json_path_and_careful_path_agree(raw: bytes) -> None:
    """orjson takes the common case; a BOM sends the same record the careful way (json.loads with
    exact error messages). Both must give the same item, or the same dead-letter reason."""
    (fast,) = as_records([raw])
    careful = RawRecord(data=b"\xef\xbb\xbf" + raw, source="kafka", input="news/0", position=0)
    fast_items, fast_dead = parse_records([fast], SETTINGS, NOW)
    careful_items, careful_dead = parse_records([careful], SETTINGS, NOW)
    assert fast_items == careful_items
    assert [d.reason_code for d in fast_dead] == [d.reason_code for d in careful_dead]
    if fast_dead and fast_dead[0].reason_code != Reason.BAD_UTF8:  # byte offsets move by the BOM
        # the note on a capped raw record gives its size and hash, which the BOM changes
        assert fast_dead[0].reason.split(" [record ")[0] == careful_dead[0].reason.split(" [record ")[0]
