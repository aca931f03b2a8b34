"""``finsentry dead-letters list|replay``: read the refused records, fix the cause, read them again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.cli import main
from tests.fixtures.registry import Registry, avro_framed

FOREIGN = {"title": "Acme plant explosion halts output", "date": "2026-03-02T14:05:00Z",
           "publisher": "Wire"}  # fmt: skip
NAIVE = {"id": "n-2", "headline": "Acme opens a plant", "published_at": "2026-03-02 15:05:00",
         "source": "Wire"}  # fmt: skip
FIELDS = ["--field", "headline=title,published_at=date,source=publisher,id=@content"]


@pytest.fixture
def dead_store(tmp_path: Path) -> str:
    """A store whose ingest dead-lettered four records: a foreign one, a naive time, bad JSON
    carrying a terminal escape, and a CSV row."""
    news = tmp_path / "news.jsonl"
    news.write_bytes(
        (json.dumps(FOREIGN) + "\n" + json.dumps(NAIVE) + "\n").encode()
        + b"not json \x1b[2J at all\n"
    )
    table = tmp_path / "news.csv"
    table.write_text("id,title\n1,x\n")
    db = str(tmp_path / "d.db")
    result = CliRunner().invoke(main, ["ingest", str(news), str(table), "--db", db, "--quiet"])
    assert "read 4 records: 0 processed + 4 dead-lettered" in result.output, result.output
    return db


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, ["dead-letters", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_each_reason_and_the_record_inert(dead_store: str) -> None:
    out = run("list", "--db", dead_store)
    assert "4 dead letters: missing_field 2, naive_timestamp 1, bad_json 1" in out
    assert "pass --field id=@content --field published_at=date" in out  # what to do
    assert '{"title": "Acme plant explosion halts output"' in out  # the record's bytes
    assert "\x1b" not in out and "\\u001b[2J" in out  # the escape shown, not obeyed
    assert "1 of 4 dead letters" in run("list", "--db", dead_store, "--limit", "1")
    rows = [json.loads(line) for line in run("list", "--db", dead_store, "--json").splitlines()]
    assert [r["reason_code"] for r in rows] == [
        "missing_field", "naive_timestamp", "bad_json", "missing_field",
    ]  # fmt: skip
    assert json.loads(rows[0]["raw"]) == FOREIGN and rows[0]["replayed_at"] is None
    assert run("list", "--db", dead_store, "--reason", "bad_json").count("bad_json") == 2


def test_replay_stores_what_now_reads_and_keeps_the_rest(dead_store: str) -> None:
    dry = run("replay", "--db", dead_store, "--dry-run", *FIELDS)
    assert "3 dead letters: 1 would pass validation now, 2 would not" in dry
    assert "skipped 1: a CSV row" in dry
    with sqlite3.connect(dead_store) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)  # a dry run
    out = run("replay", "--db", dead_store, "--quiet", *FIELDS, env={"FINSENTRY_NAIVE_TIMEZONE": "UTC"})
    assert "replayed 3 dead letters: 2 read and stored (2 new items), 1 still dead (bad_json 1)" in out
    with sqlite3.connect(dead_store) as conn:
        items = sorted(conn.execute("SELECT headline, published_at FROM items").fetchall())
        marks = conn.execute(
            "SELECT reason_code, replayed_at IS NOT NULL FROM dead_letters ORDER BY position, input"
        ).fetchall()
        batches = conn.execute("SELECT source, consumed, processed, dead_lettered FROM batches").fetchall()
    assert [h for h, _ in items] == ["Acme opens a plant", FOREIGN["title"]]
    assert items[0][1].startswith("2026-03-02T15:05:00")  # read in UTC, as the setting says
    assert sorted(marks) == [
        ("bad_json", 0), ("missing_field", 0), ("missing_field", 1), ("naive_timestamp", 1),
    ]  # fmt: skip
    assert ("replay", 3, 2, 1) in batches  # its own batch row: consumed = processed + dead
    # what was stored is not replayed again; the rest stays listed, and nothing is stored twice
    assert "replayed 1 dead letters: 0 read and stored" in run("replay", "--db", dead_store, "--quiet")
    listed = run("list", "--db", dead_store)
    assert "2 dead letters: bad_json 1, missing_field 1" in listed
    assert "4 dead letters" in run("list", "--db", dead_store, "--all")


def test_avro_records_dead_lettered_without_a_registry_are_replayed_with_one(
    tmp_path: Path, schema_registry: Registry
) -> None:
    from datetime import UTC, datetime, timedelta

    from finsentry.config import Settings
    from finsentry.pipeline import Pipeline
    from finsentry.schema import RawRecord
    from tests.fixtures.scorers import LexiconScorer

    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    rows = [{"id": f"late-avro-{i}", "published_at": at, "source": "Wire",
             "headline": f"Acme avro replay story {i}"} for i in range(3)]  # fmt: skip
    db = str(tmp_path / "avro.db")
    pipeline = Pipeline.from_settings(Settings(db=db), scorer=LexiconScorer())
    try:
        report = pipeline.process(
            [RawRecord(avro_framed(r), "kafka", "news/0", i) for i, r in enumerate(rows)], "kafka"
        )
    finally:
        pipeline.close()
    assert report.processed == 0 and {d.reason_code for d in report.dead_letters} == {"bad_json"}
    out = run("replay", "--db", db, "--quiet", env={"FINSENTRY_SCHEMA_REGISTRY_URL": schema_registry.url})
    assert "replayed 3 dead letters: 3 read and stored (3 new items), 0 still dead" in out, out
    con = sqlite3.connect(db)
    try:
        stored = {r[0] for r in con.execute("SELECT id FROM items")}
    finally:
        con.close()
    assert stored == {r["id"] for r in rows}
