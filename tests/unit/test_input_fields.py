"""Records from other systems: ``input_fields`` (``--field FIELD=NAME``) names where a record keeps
each field of a news item, and ``id=@content`` makes ids from the content."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from finsentry.cli import main
from finsentry.config import Settings
from finsentry.schema import RawRecord
from finsentry.sources.validate import CsvRecord, parse_records

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MAPPED = Settings(input_fields=("headline=title", "published_at=date", "source=publisher", "id=@content"))
OTHER = {
    "title": "Acme plant explosion halts output",
    "date": "2026-03-02T11:00:00Z",
    "publisher": "Harbor Wire",
    "url": "https://example.com/a",
}


def parse(data: dict[str, Any], settings: Settings) -> tuple[list[Any], list[Any]]:
    raw = RawRecord(data=json.dumps(data).encode(), source="file", input="in.jsonl", position=1)
    return parse_records([raw], settings, NOW)


def test_a_mapped_record_gives_the_item_its_own_names_give() -> None:
    items, dead = parse(OTHER, MAPPED)
    assert dead == []
    canonical = {
        "id": items[0].id,
        "headline": OTHER["title"],
        "published_at": OTHER["date"],
        "source": OTHER["publisher"],
        "url": OTHER["url"],
    }
    same, _ = parse(canonical, Settings())
    assert items == same
    assert items[0].id.startswith("c-") and len(items[0].id) == 34


def test_a_field_of_the_record_s_own_wins_over_the_mapping() -> None:
    items, _ = parse({**OTHER, "headline": "Acme restarts output", "id": "a-1"}, MAPPED)
    assert (items[0].headline, items[0].id) == ("Acme restarts output", "a-1")


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()), st.text(max_size=20))
def test_ids_from_the_content_are_stable_and_differ_with_it(headline: str, source: str) -> None:
    first = {**OTHER, "title": headline, "publisher": source or "Wire"}
    a, _ = parse(first, MAPPED)
    b, _ = parse(dict(reversed(list(first.items()))), MAPPED)  # key order is not content
    if not a:
        return  # a headline empty after normalisation: dead-lettered either way
    assert a[0].id == b[0].id
    other, _ = parse({**first, "title": headline + " again"}, MAPPED)
    later, _ = parse({**first, "date": "2026-03-02T11:00:01Z"}, MAPPED)
    assert a[0].id != other[0].id and a[0].id != later[0].id


def test_csv_columns_are_mapped_too() -> None:
    row = b'"Acme plant explosion halts output",2026-03-02T11:00:00Z,Harbor Wire,g-7'
    record = CsvRecord(
        data=row, source="file", input="in.csv", position=2,
        columns=("title", "date", "publisher", "guid"),
    )  # fmt: skip
    settings = Settings(input_fields=("headline=title,published_at=date,source=publisher,id=guid",))
    items, dead = parse_records([record], settings, NOW)
    assert dead == [] and items[0].id == "g-7" and items[0].headline.startswith("Acme plant")


def test_the_missing_field_error_says_which_fields_to_map() -> None:
    without_url = {k: v for k, v in OTHER.items() if k != "url"}
    _, dead = parse({**without_url, "link": "https://example.com/a"}, Settings())
    assert dead[0].reason_code == "missing_field"
    assert (
        "pass --field id=link --field published_at=date --field source=publisher "
        "--field headline=title (or FINSENTRY_INPUT_FIELDS)"
    ) in dead[0].reason
    _, dead = parse({"title": "x", "when": "y"}, Settings(input_fields=("headline=title",)))
    assert "--field id=@content" in dead[0].reason  # nothing like an id: make one
    assert "headline=" not in dead[0].reason.split("required:")[1]  # mapped already


def test_the_message_key_is_the_id_where_mapped() -> None:
    keyed = {k: v for k, v in OTHER.items() if k != "url"}
    settings = Settings(input_fields=("headline=title", "published_at=date", "source=publisher", "id=@key"))

    def read(record: dict[str, Any], key: bytes | None) -> tuple[list[Any], list[Any]]:
        raw = RawRecord(json.dumps(record).encode(), "kafka", "news/0", 5, key)
        return parse_records([raw], settings, NOW)

    items, dead = read(keyed, b"story-17")
    assert dead == [] and items[0].id == "story-17"
    items, _ = read({**keyed, "id": "own-id"}, b"story-17")
    assert items[0].id == "own-id"  # a record's own id comes first
    for key in (None, b"", b"\xff\xfe"):  # no key, or not text: the id is missing
        _, dead = read(keyed, key)
        assert dead[0].reason_code == "missing_field" and "'id'" in dead[0].reason
    # a keyed record without an id is told about its key
    _, dead = parse_records([RawRecord(json.dumps(keyed).encode(), "kafka", "news/0", 5, b"k")], Settings(), NOW)
    assert "--field id=@key" in dead[0].reason


def test_the_kafka_timestamp_is_the_time_of_records_without_one() -> None:
    untimed = {k: v for k, v in OTHER.items() if k != "date"}
    settings = Settings(input_fields=("headline=title", "published_at=@timestamp", "source=publisher", "id=@content"))
    stamp = int(datetime(2026, 3, 2, 11, 30, tzinfo=UTC).timestamp() * 1000)

    def read(record: dict[str, Any], timestamp_ms: int | None, chosen: Settings) -> tuple[list[Any], list[Any]]:
        raw = RawRecord(json.dumps(record).encode(), "kafka", "news/0", 5, None, NOW, timestamp_ms)
        return parse_records([raw], chosen, NOW)

    items, dead = read(untimed, stamp, settings)
    assert dead == [] and items[0].published_at == datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
    items, _ = read({**untimed, "published_at": "2026-03-02T10:00:00Z"}, stamp, settings)
    assert items[0].published_at.hour == 10  # the record's own time comes first
    _, dead = read(untimed, None, settings)  # a file record has no Kafka timestamp: no time, no id
    assert dead[0].reason_code == "missing_field"
    # a Kafka record without a time is told about its timestamp
    plain = Settings(input_fields=("headline=title", "source=publisher", "id=@content"))
    _, dead = read(untimed, stamp, plain)
    assert "--field published_at=@timestamp" in dead[0].reason


def test_the_kafka_topic_is_the_source_of_records_without_one() -> None:
    sourceless = {k: v for k, v in OTHER.items() if k != "publisher"}
    settings = Settings(input_fields=("headline=title", "published_at=date", "source=@topic", "id=@content"))

    def read(record: dict[str, Any], source: str, chosen: Settings) -> tuple[list[Any], list[Any]]:
        raw = RawRecord(json.dumps(record).encode(), source, "wire.eu/3", 5, None, NOW)
        return parse_records([raw], chosen, NOW)

    items, dead = read(sourceless, "kafka", settings)  # also a dead letter replayed from Kafka
    assert dead == [] and items[0].source == "wire.eu"
    items, _ = read({**sourceless, "source": "Own Wire"}, "kafka", settings)
    assert items[0].source == "Own Wire"  # the record's own source comes first
    _, dead = read(sourceless, "file", settings)  # a file has no topic
    assert dead[0].reason_code == "missing_field"
    plain = Settings(input_fields=("headline=title", "published_at=date", "id=@content"))
    _, dead = read(sourceless, "kafka", plain)
    assert "--field source=@topic" in dead[0].reason


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (("head=title",), "'head' is not a field of a news item"),
        (("headline",), "write FIELD=NAME"),
        (("headline=",), "write FIELD=NAME"),
        (("source=@content",), "@content can only make an id"),
        (("headline=@key",), "@key can only make an id"),
        (("id=@timestamp",), "@timestamp can only give published_at"),
        (("headline=@topic",), "@topic can only give source"),
        (("headline=title", "headline=heading"), "'headline' is mapped twice"),
    ],
)
def test_bad_mappings_are_refused(pairs: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(input_fields=pairs)


def test_ingest_with_fields_stores_foreign_records_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    news = tmp_path / "other.jsonl"
    news.write_text(json.dumps(OTHER) + "\n" + json.dumps({**OTHER, "title": "Acme opens plant"}) + "\n")
    db = str(tmp_path / "o.db")
    args = ["ingest", str(news), "--db", db, "--quiet", "--no-detect"]
    plain = CliRunner().invoke(main, args)
    assert "0 processed + 2 dead-lettered" in plain.output, plain.output
    mapped = ["--field", "headline=title,published_at=date", "--field", "source=publisher"]
    first = CliRunner().invoke(main, [*args, *mapped, "--field", "id=@content"])
    assert "2 processed + 0 dead-lettered" in first.output, first.output
    monkeypatch.setenv("FINSENTRY_INPUT_FIELDS", "headline=title,published_at=date,source=publisher,id=@content")
    again = CliRunner().invoke(main, args)  # the same mapping from the environment
    assert "new items stored: 0 (already stored: 2)" in again.output, again.output
    with sqlite3.connect(db) as conn:
        stored = sorted(row[0] for row in conn.execute("SELECT headline FROM items"))
    assert stored == ["Acme opens plant", "Acme plant explosion halts output"]


def test_ingest_check_validates_and_writes_nothing(tmp_path: Path) -> None:
    news = tmp_path / "other.jsonl"
    news.write_text(json.dumps(OTHER) + "\n" + json.dumps({**OTHER, "date": "2026-03-02 11:00"}) + "\n{")
    db = tmp_path / "never.db"
    args = ["ingest", str(news), "--db", str(db), "--check"]
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 0, plain.output
    assert "read 3 records: 0 pass validation, 3 would be dead-lettered" in plain.output
    assert f"missing_field 2, e.g. {news}:1: required field 'id'" in plain.output
    assert f"bad_json 1, e.g. {news}:3" in plain.output
    mapped = CliRunner().invoke(main, [*args, "--field", "headline=title,published_at=date,source=publisher,id=@content"])
    assert "read 3 records: 1 pass validation, 2 would be dead-lettered" in mapped.output
    assert "naive_timestamp 1" in mapped.output
    assert not db.exists()  # a check stores nothing


def test_a_dotted_name_reads_a_nested_field() -> None:
    nested = {
        "uuid": "n-9",
        "content": {"title": "Acme plant explosion halts output", "lead": {"text": "Output stops."}},
        "meta": {"published": "2026-03-02T11:00:00Z", "source": {"name": "Harbor Wire"}},
        "content.title": None,  # a field of the very name, null: the path is read
    }
    settings = Settings(input_fields=(
        "id=uuid", "headline=content.title", "body=content.lead.text",
        "published_at=meta.published", "source=meta.source.name",
    ))  # fmt: skip
    (item,), dead = parse(nested, settings)
    assert dead == []
    assert (item.id, item.headline, item.body, item.source) == (
        "n-9", "Acme plant explosion halts output", "Output stops.", "Harbor Wire"
    )
    flat = {**nested, "content.title": "A field named with a dot wins"}
    (item,), _ = parse(flat, settings)
    assert item.headline == "A field named with a dot wins"
    _, dead = parse({**nested, "content": "not an object"}, settings)
    assert dead[0].reason_code == "missing_field" and "'headline'" in dead[0].reason
