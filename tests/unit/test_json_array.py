"""A ``.json`` file holding one array: each element's exact bytes become one record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from finsentry.cli import main
from finsentry.sources import files
from finsentry.sources.files import FileSource, InputError
from finsentry.sources.json_array import array_elements

text = st.text(alphabet=st.sampled_from('ab "\\[]{},:\u00e9\u2028\n'), max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(values, max_size=6), st.sampled_from([None, 0, 2]), st.booleans())
def test_the_elements_are_the_array_s_own(items: list[object], indent: int | None, ascii_only: bool) -> None:
    data = json.dumps(items, indent=indent, ensure_ascii=ascii_only).encode()
    elements = list(array_elements(data))
    assert [json.loads(e) for e in elements] == items
    for element in elements:
        assert element in data  # the bytes as written, not re-encoded


def test_spacing_inside_an_element_is_kept_and_nothing_is_dropped() -> None:
    data = b'\xef\xbb\xbf [ {"a" :  "x, ]"} ,\n{"b": [1, {"c": "\\"}"}]} ]  trailing'
    assert list(array_elements(data)) == [b'{"a" :  "x, ]"}', b'{"b": [1, {"c": "\\"}"}]}', b"trailing"]
    assert list(array_elements(b'[{"a": 1}, {"b": ')) == [b'{"a": 1}', b'{"b":']  # never closed
    assert list(array_elements(b"[]")) == [] and list(array_elements(b"[ ]\n")) == []


def news(n: int) -> dict[str, object]:
    return {"id": f"a-{n}", "published_at": "2026-03-02T10:00:00Z", "source": "Wire",
            "headline": f"Acme story number {n} about plants"}  # fmt: skip


def test_ingest_reads_each_element_and_dead_letters_a_bad_one(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps([news(1), news(2), "not an object", news(3)], indent=2))
    lines = tmp_path / "lines.json"  # JSON lines in a .json file stay JSON lines
    lines.write_text(json.dumps(news(4)) + "\n")
    db = str(tmp_path / "a.db")
    result = CliRunner().invoke(main, ["ingest", str(export), str(lines), "--db", db, "--quiet"])
    assert "read 5 records: 4 processed + 1 dead-lettered" in result.output, result.output
    dead = CliRunner().invoke(main, ["dead-letters", "list", "--db", db, "--json"]).output
    (letter,) = [json.loads(line) for line in dead.splitlines()]
    assert letter["reason_code"] == "not_object" and letter["raw"] == '"not an object"'
    assert letter["position"] == 3 and letter["input"].endswith("export.json")


def test_an_array_too_large_to_read_at_once_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "big.json"
    export.write_text(json.dumps([news(1)] * 50))
    monkeypatch.setattr(files, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(InputError, match=r"jq -c '\.\[\]'"):
        FileSource([export])
    monkeypatch.setattr(files, "MAX_ARRAY_BYTES", 10**6)
    source = FileSource([export], max_line_bytes=64, keep_bytes=16)
    records = list(source.records())
    assert len(records) == 50 and all(len(r.data) == 16 for r in records)  # each over 64 bytes
    assert source.bytes_read == export.stat().st_size


def test_gzipped_inputs_read_as_their_content(tmp_path: Path) -> None:
    import gzip

    lines = tmp_path / "news.jsonl.gz"
    lines.write_bytes(gzip.compress("".join(json.dumps(news(i)) + "\n" for i in range(3)).encode()))
    array = tmp_path / "export.json.gz"
    array.write_bytes(gzip.compress(json.dumps([news(3), news(4)]).encode()))
    table = tmp_path / "rows.csv.gz"
    row = news(5)
    table.write_bytes(gzip.compress(
        ("id,published_at,source,headline\n" + ",".join(str(row[k]) for k in row) + "\n").encode()
    ))  # fmt: skip
    source = FileSource([lines, array, table])
    records = list(source.records())
    assert [r.position for r in records] == [1, 2, 3, 1, 2, 2]
    assert json.loads(records[3].data) == news(3)
    assert source.bytes_read == sum(p.stat().st_size for p in (lines, array, table))
    db = str(tmp_path / "z.db")
    result = CliRunner().invoke(main, ["ingest", str(lines), str(array), str(table), "--db", db, "--quiet"])
    assert "read 6 records: 6 processed + 0 dead-lettered" in result.output, result.output
    broken = tmp_path / "cut.jsonl.gz"
    broken.write_bytes(lines.read_bytes()[:-12])  # the stream breaks off
    result = CliRunner().invoke(main, ["ingest", str(broken), "--db", db, "--quiet"])
    assert result.exit_code == 1 and "is not a complete gzip file" in result.output
    assert "Traceback" not in result.output
