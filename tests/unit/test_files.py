from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finsentry.config import Settings
from finsentry.sources import Source
from finsentry.sources.files import FileSource
from finsentry.sources.validate import CsvRecord, parse_records

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def item(i: int) -> dict[str, object]:
    return {
        "id": f"n{i}",
        "published_at": "2026-03-02T10:00:00Z",
        "source": "Wire",
        "headline": f"Headline {i}",
    }


def test_jsonl_records_carry_path_line_number_and_original_bytes(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    lines = [json.dumps(item(1)).encode(), b"", b"{broken", json.dumps(item(2)).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = FileSource([path], batch_size=10)
    assert isinstance(source, Source)
    batches = list(source.batches())
    assert len(batches) == 1
    records = batches[0]
    assert [r.position for r in records] == [1, 3, 4]  # the blank line 2 is not a record
    assert [r.data for r in records] == [lines[0], lines[2], lines[3]]
    assert {r.input for r in records} == {str(path)}
    assert source.bytes_read == source.total_bytes() == path.stat().st_size
    items, dead = parse_records(records, Settings(), NOW)
    assert [i.id for i in items] == ["n1", "n2"]
    assert [(d.position, d.reason_code) for d in dead] == [(3, "bad_json")]


def test_crlf_line_endings_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_bytes(json.dumps(item(1)).encode() + b"\r\n" + json.dumps(item(2)).encode())
    records = [r for b in FileSource([path]).batches() for r in b]
    assert all(not r.data.endswith((b"\r", b"\n")) for r in records)
    assert len(records) == 2


def test_batches_split_by_size_and_span_files(tmp_path: Path) -> None:
    paths = []
    for f in range(2):
        path = tmp_path / f"part{f}.jsonl"
        path.write_text("\n".join(json.dumps(item(f * 10 + i)) for i in range(5)) + "\n")
        paths.append(path)
    batches = list(FileSource(paths, batch_size=3).batches())
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    ids = [json.loads(r.data)["id"] for b in batches for r in b]
    assert ids == [f"n{i}" for i in (0, 1, 2, 3, 4, 10, 11, 12, 13, 14)]
    assert [r.input for r in batches[-1]] == [str(paths[1])]


def test_csv_source(tmp_path: Path) -> None:
    path = tmp_path / "news.CSV"
    path.write_bytes(
        b"\xef\xbb\xbfid,Published_At,source,headline,body,url,tickers\n"
        b'c1,2026-03-02T10:00:00Z,Wire,"Apple, Microsoft rally",,,AAPL|MSFT\n'
        b"\n"
        b'c2,2026-03-02T10:01:00Z,Wire,Quoted body,"line one\nline two",,\n'
        b"c3,not-a-time,Wire,Broken time,,,\n"
    )
    records = [r for b in FileSource([path]).batches() for r in b]
    assert all(isinstance(r, CsvRecord) for r in records)
    assert [r.position for r in records] == [2, 4, 6]
    assert records[1].data == b'c2,2026-03-02T10:01:00Z,Wire,Quoted body,"line one\nline two",,'
    items, dead = parse_records(records, Settings(), NOW)
    assert [i.id for i in items] == ["c1", "c2"]
    assert items[0].tickers == ("AAPL", "MSFT")
    assert items[1].body == "line one line two"
    assert [(d.position, d.reason_code) for d in dead] == [(6, "bad_timestamp")]
    assert dead[0].raw == b"c3,not-a-time,Wire,Broken time,,,"


def test_csv_unterminated_quote_at_end_is_one_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "id,published_at,source,headline\n"
        'c1,2026-03-02T10:00:00Z,Wire,"never closed\n'
        "c2,2026-03-02T10:00:00Z,Wire,swallowed\n"
    )
    records = [r for b in FileSource([path]).batches() for r in b]
    assert len(records) == 1
    _, dead = parse_records(records, Settings(), NOW)
    assert dead[0].reason_code == "bad_csv"


def test_streaming_reads_lazily(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(item(i)) for i in range(1000)) + "\n")
    source = FileSource([path], batch_size=10)
    first = next(source.batches())
    assert len(first) == 10
    assert source.bytes_read < path.stat().st_size  # not the whole file yet


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no-such.jsonl"):
        FileSource([tmp_path / "no-such.jsonl"])
