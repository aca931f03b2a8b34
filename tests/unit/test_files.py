from __future__ import annotations

import hashlib
import io
import json
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finsentry.config import Settings
from finsentry.sources import Source
from finsentry.sources.files import FileSource, InputError
from finsentry.sources.reader import STDIN_NAME, LineReader
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
    assert {r.input for r in records} == {str(path.resolve())}
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
    assert [r.input for r in batches[-1]] == [str(paths[1].resolve())]


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


@pytest.mark.parametrize(("name", "sep"), [("news.csv", ";"), ("news.tsv", "\t"), ("news.csv", "|")])
def test_csv_with_another_delimiter_is_read_as_its_header_shows(
    tmp_path: Path, name: str, sep: str
) -> None:
    """Spreadsheets in many locales write ';', exports write tabs or bars: the header tells."""
    lines = [
        ["id", "published_at", "source", "headline", "tickers"],
        ["c1", "2026-03-02T10:00:00Z", "Wire", '"Apple, Microsoft; Nvidia rally"', "AAPL MSFT"],
        ["c2", "2026-03-02T10:01:00Z", "Wire", '"A quoted\nheadline"', ""],
        ["c3", "2026-03-02T10:02:00Z", "Wire", "Unquoted, with a comma", ""],
    ]
    (tmp_path / name).write_text("".join(sep.join(cells) + "\n" for cells in lines))
    records = [r for b in FileSource([tmp_path / name]).batches() for r in b]
    items, dead = parse_records(records, Settings(), NOW)
    assert dead == []
    assert [i.headline for i in items] == [
        "Apple, Microsoft; Nvidia rally", "A quoted headline", "Unquoted, with a comma"
    ]
    assert items[0].tickers == ("AAPL", "MSFT")


def test_csv_stray_quote_is_confined_to_its_own_row(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    rows = [f"c{i},2026-03-02T10:00:00Z,Wire,Headline {i}\n" for i in range(2, 250)]
    path.write_text(
        "id,published_at,source,headline\n"
        'c1,2026-03-02T10:00:00Z,Wire,"never closed\n' + "".join(rows)
    )
    records = [r for b in FileSource([path]).batches() for r in b]
    items, dead = parse_records(records, Settings(), NOW)
    assert [(d.position, d.reason_code) for d in dead] == [(2, "bad_csv")]
    assert dead[0].raw == b'c1,2026-03-02T10:00:00Z,Wire,"never closed'
    assert [i.id for i in items] == [f"c{i}" for i in range(2, 250)]  # none swallowed


def test_csv_unterminated_quote_at_end_is_one_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "id,published_at,source,headline\n"
        "c0,2026-03-02T10:00:00Z,Wire,fine\n"
        'c1,2026-03-02T10:00:00Z,Wire,"never closed\n'
        "and no row after it\n"
    )
    records = [r for b in FileSource([path]).batches() for r in b]
    assert len(records) == 2
    _, dead = parse_records(records, Settings(), NOW)
    assert [(d.position, d.reason_code) for d in dead] == [(3, "bad_csv")]
    assert "spans 2 lines" in dead[0].reason  # says how much one bad quote cost


def test_streaming_reads_lazily(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(item(i)) for i in range(1000)) + "\n")
    source = FileSource([path], batch_size=10)
    first = next(source.batches())
    assert len(first) == 10
    assert source.bytes_read < path.stat().st_size  # not the whole file yet


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such input file: .*no-such.jsonl"):
        FileSource([tmp_path / "no-such.jsonl"])


@pytest.mark.parametrize(
    ("path", "message"),
    [("/dev/zero", "is not a regular file"), (".", "is a directory")],
)
def test_non_regular_inputs_are_refused_in_one_line(path: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        FileSource([path])
    assert "\n" not in str(caught.value)


def test_cr_lf_and_crlf_all_end_a_line(tmp_path: Path) -> None:
    one, two, three, four = (json.dumps(item(i)).encode() for i in range(4))
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(one + b"\r" + two + b"\n" + three + b"\r\n\r\n" + four)
    records = [r for b in FileSource([path]).batches() for r in b]
    assert [r.data for r in records] == [one, two, three, four]
    assert [r.position for r in records] == [1, 2, 3, 5]  # line 4 is blank


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_line_endings_split_across_reads(chunk: int) -> None:
    data = b"a\r\nbb\rccc\n\r\nd\r"
    reader = LineReader(io.BytesIO(data), max_line_bytes=100, keep_bytes=10, chunk_bytes=chunk)
    assert [(line.number, line.data) for line in reader] == [
        (1, b"a"), (2, b"bb"), (3, b"ccc"), (4, b""), (5, b"d")
    ]
    assert reader.bytes_read == len(data)


class EndlessLine(io.RawIOBase):
    """``size`` bytes of one line without a newline, made up as they are read."""

    def __init__(self, size: int, tail: bytes = b"") -> None:
        self.left = size
        self.tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            n = min(len(buffer), len(self.tail))
            buffer[:n], self.tail = self.tail[:n], self.tail[n:]
            return n
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_an_over_long_line_is_never_held_whole() -> None:
    size = 64 * 1024 * 1024
    stream = io.BufferedReader(EndlessLine(size, b"\n{}\n"))
    tracemalloc.start()
    try:
        lines = list(LineReader(stream, max_line_bytes=1 << 20, keep_bytes=4096))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # the cap plus a chunk, not the 64 MiB line
    assert [(line.number, line.size, line.too_long) for line in lines] == [
        (1, size, True), (2, 2, False)
    ]
    assert lines[0].data == b"x" * 4096
    assert lines[0].sha256 == hashlib.sha256(b"x" * size).hexdigest()


def test_over_long_line_is_dead_lettered_with_prefix_size_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = b'{"id": "' + b"y" * 5000 + b'"}'
    path.write_bytes(json.dumps(item(1)).encode() + b"\n" + big + b"\n" + json.dumps(item(2)).encode())
    settings = Settings(max_line_bytes=1000, dead_letter_raw_bytes=100)
    source = FileSource([path], max_line_bytes=1000, keep_bytes=100)
    records = [r for b in source.batches() for r in b]
    assert source.bytes_read == path.stat().st_size
    items, dead = parse_records(records, settings, NOW)
    assert [i.id for i in items] == ["n1", "n2"]
    assert [(d.position, d.reason_code) for d in dead] == [(2, "oversize")]
    assert dead[0].raw == big[:100]
    assert str(len(big)) in dead[0].reason
    assert hashlib.sha256(big).hexdigest() in dead[0].reason


def test_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.dumps(item(1)).encode() + b"\n" + json.dumps(item(2)).encode() + b"\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    source = FileSource(["-"])
    records = [r for b in source.batches() for r in b]
    assert [json.loads(r.data)["id"] for r in records] == ["n1", "n2"]
    assert source.inputs == [STDIN_NAME] and {r.input for r in records} == {STDIN_NAME}


def test_path_spellings_are_one_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps(item(1)) + "\n")
    monkeypatch.chdir(tmp_path)
    names = set()
    for spelling in ("./f.jsonl", "f.jsonl", str(path), f"{tmp_path}/../{tmp_path.name}/f.jsonl"):
        source = FileSource([spelling])
        names |= {r.input for b in source.batches() for r in b} | set(source.inputs)
    assert names == {str(path.resolve())}


@pytest.mark.parametrize(("arg", "message"), [("/dev/zero", "not a regular file"), ("/", "directory")])
def test_ingest_refuses_non_regular_inputs_in_one_line(
    arg: str, message: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from finsentry.cli import main

    result = CliRunner().invoke(main, ["ingest", "--db", str(tmp_path / "s.db"), arg])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.db").exists()  # refused before a store was made


def lexicon_pipeline(tmp_path: Path) -> Any:
    from finsentry.pipeline import Pipeline
    from finsentry.store import open_store
    from tests.fixtures.scorers import LexiconScorer

    settings = Settings(db=str(tmp_path / "p.db"))
    return Pipeline.from_settings(settings, store=open_store(settings.db), scorer=LexiconScorer())


def test_ingest_from_stdin_and_any_path_spelling_closes_one_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finsentry.runner import run_files

    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps(item(1)) + "\n{bad\n")
    monkeypatch.chdir(tmp_path)
    pipe = lexicon_pipeline(tmp_path)
    try:
        for spelling in ("./f.jsonl", "f.jsonl", str(path)):
            run_files([spelling], pipe.settings, pipeline=pipe)
        data = json.dumps(item(2)).encode() + b"\n"
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        totals = run_files(["-"], pipe.settings, pipeline=pipe)
        assert (totals.consumed, totals.processed) == (1, 1)
        state = pipe.watermark.to_state()
        assert sorted(state["inputs"]) == sorted([str(path.resolve()), STDIN_NAME])
        assert sorted(state["closed"]) == sorted(state["inputs"])  # nothing left open
        assert pipe.store.counts()["dead_letters"] == 1  # one bad line, three spellings
    finally:
        pipe.close()
