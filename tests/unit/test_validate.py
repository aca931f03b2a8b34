from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.config import Settings
from finsentry.inert import web_url
from finsentry.schema import RawRecord
from finsentry.sources.validate import _PLAIN_WEB_URL, CsvRecord, Reason, parse_records

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = Settings(max_record_bytes=4000, max_text_chars=500, future_tolerance_s=300)
COLUMNS = ("id", "published_at", "source", "headline", "body", "url", "tickers", "lang")


def good(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "n-1",
        "published_at": "2026-03-02T11:00:00+01:00",
        "source": "Harbor Wire",
        "headline": "Apple beats estimates",
        "body": "Revenue rose 8%.",
        "url": "https://example.com/n-1",
        "tickers": ["aapl"],
        "lang": "en",
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


def record(data: bytes | dict[str, Any], position: int = 7) -> RawRecord:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return RawRecord(data=raw, source="file", input="in.jsonl", position=position)


def reject(data: bytes | dict[str, Any], settings: Settings = SETTINGS) -> tuple[str, str]:
    rec = record(data)
    items, dead = parse_records([rec], settings, NOW)
    assert items == []
    assert len(dead) == 1
    letter = dead[0]
    assert letter.raw == rec.data  # the original bytes, untouched
    assert (letter.source, letter.input, letter.position) == ("file", "in.jsonl", 7)
    assert letter.reason
    return letter.reason_code, letter.reason


def test_good_record_is_parsed_and_normalised() -> None:
    items, dead = parse_records(
        [record(good(headline="<b>Apple</b>  beats &amp; rises"))], SETTINGS, NOW
    )
    assert dead == []
    (item,) = items
    assert item.id == "n-1"
    assert item.published_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert item.published_at.tzinfo is UTC
    assert item.headline == "Apple beats & rises"
    assert item.body == "Revenue rose 8%."
    assert item.tickers == ("AAPL",)
    assert (item.input, item.position, item.lang) == ("in.jsonl", 7, "en")


def test_optional_fields_may_be_absent_or_null() -> None:
    items, dead = parse_records(
        [
            record(good(body=None, url=None, tickers=..., lang=...)),
            record(good(body=..., url=..., tickers=None, lang=None)),
        ],
        SETTINGS,
        NOW,
    )
    assert dead == []
    for item in items:
        assert (item.body, item.url, item.tickers, item.lang) == (None, None, (), "en")


def test_tickers_are_validated_and_invalid_ones_dropped() -> None:
    items, dead = parse_records(
        [record(good(tickers=["aapl", "$msft", "brk.b", "NOT-A-TICKER", "THIRTEENCHARS", 42,
                              "AAPL", "reliance.ns", "0700.HK"]))],
        SETTINGS,
        NOW,
    )  # fmt: skip
    assert dead == []
    assert items[0].tickers == ("AAPL", "MSFT", "BRK.B", "RELIANCE.NS", "0700.HK")


def test_tickers_as_one_separated_string() -> None:
    items, _ = parse_records([record(good(tickers="AAPL|msft, nvda"))], SETTINGS, NOW)
    assert items[0].tickers == ("AAPL", "MSFT", "NVDA")


def test_every_record_gives_exactly_one_output_in_a_mixed_batch() -> None:
    recs = [record(good(id=f"n{i}")) for i in range(5)] + [record(b"{bad"), record(b"")]
    items, dead = parse_records(recs, SETTINGS, NOW)
    assert len(items) + len(dead) == len(recs)
    assert [i.id for i in items] == [f"n{i}" for i in range(5)]
    assert sorted(d.reason_code for d in dead) == ["bad_json", "null_value"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'\xff\xfe{"id": 1}', Reason.BAD_UTF8),
        (b'{"id": "a", "headline": "caf\xe9"}', Reason.BAD_UTF8),
        (b"{not json", Reason.BAD_JSON),
        (b'{"id": "a",}', Reason.BAD_JSON),
        (b"[1, 2]", Reason.NOT_OBJECT),
        (b'"a string"', Reason.NOT_OBJECT),
        (b"42", Reason.NOT_OBJECT),
        (b"", Reason.NULL_VALUE),
        (b"   ", Reason.NULL_VALUE),
        (b"null", Reason.NULL_VALUE),
    ],
)
def test_undecodable_records(data: bytes, code: Reason) -> None:
    assert reject(data)[0] == code


@pytest.mark.parametrize("field", ["id", "published_at", "source", "headline"])
def test_missing_required_field(field: str) -> None:
    code, message = reject(good(**{field: ...}))
    assert code == Reason.MISSING_FIELD
    assert field in message


@pytest.mark.parametrize("field", ["id", "published_at", "source", "headline"])
def test_null_required_field(field: str) -> None:
    assert reject(good(**{field: None}))[0] == Reason.MISSING_FIELD


@pytest.mark.parametrize(
    "changes",
    [
        {"id": 12},
        {"source": ["a"]},
        {"headline": {"text": "x"}},
        {"body": 3},
        {"url": True},
        {"published_at": True},
        {"published_at": ["2026-03-02T10:00:00Z"]},
        {"tickers": 5},
        {"tickers": {"AAPL": 1}},
        {"lang": 1},
        {"lang": "english language"},
    ],
)
def test_wrong_types(changes: dict[str, Any]) -> None:
    code, message = reject(good(**changes))
    assert code == Reason.WRONG_TYPE
    assert next(iter(changes)) in message


@pytest.mark.parametrize("headline", ["", "   ", "\n\t"])
def test_empty_headline(headline: str) -> None:
    assert reject(good(headline=headline))[0] == Reason.EMPTY_HEADLINE


@pytest.mark.parametrize("headline", ["<p></p>", "https://example.com/only-a-link", "\u200b\u200b"])
def test_headline_empty_after_normalisation(headline: str) -> None:
    assert reject(good(headline=headline))[0] == Reason.EMPTY_TEXT


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-01T00:00:00Z", "2026-03-02 25:00+00:00", ""]
)
def test_bad_timestamp(value: str) -> None:
    code, message = reject(good(published_at=value))
    assert code == Reason.BAD_TIMESTAMP
    assert "ISO-8601" in message


@pytest.mark.parametrize("value", ["2026-03-02T10:00:00", "2026-03-02"])
def test_naive_timestamp(value: str) -> None:
    code, message = reject(good(published_at=value))
    assert code == Reason.NAIVE_TIMESTAMP
    assert "offset" in message


@pytest.mark.parametrize(
    "value",
    [
        1772445600,  # Unix seconds
        1772445600000,  # Unix milliseconds, as Kafka and most event systems keep time
        1772445600.0,
        "1772445600",
        "1772445600000",
        "Mon, 02 Mar 2026 10:00:00 GMT",  # RFC 2822, as in RSS and e-mail
        "Mon, 02 Mar 2026 05:00:00 -0500",
    ],
)
def test_unix_times_and_rfc_2822_dates_are_read(value: object) -> None:
    items, dead = parse_records([record(good(published_at=value))], SETTINGS, NOW)
    assert dead == []
    assert items[0].published_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [10**400, float("inf"), "9" * 16, "1e309"])
def test_unix_times_out_of_range_are_refused(value: object) -> None:
    data = json.dumps(good(published_at=value)).encode() if value != float("inf") else None
    if data is None:
        data = json.dumps(good(published_at="X")).replace('"X"', "Infinity").encode()
    code, _ = reject(data)
    assert code in (Reason.BAD_TIMESTAMP, Reason.FUTURE_TIMESTAMP)


def test_naive_times_are_read_in_the_zone_the_settings_give() -> None:
    rec = record(good(published_at="2026-03-02 05:00:00"))
    assert reject(rec.data)[0] == Reason.NAIVE_TIMESTAMP
    for zone, hour in (("UTC", 5), ("America/New_York", 10)):
        settings = Settings(naive_timezone=zone)
        items, dead = parse_records([rec], settings, NOW)
        assert dead == [] and items[0].published_at == datetime(2026, 3, 2, hour, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not a time zone"):
        Settings(naive_timezone="Mars/Olympus")


def test_future_timestamp_beyond_tolerance() -> None:
    ahead = (NOW + timedelta(seconds=301)).isoformat()
    assert reject(good(published_at=ahead))[0] == Reason.FUTURE_TIMESTAMP


def test_future_timestamp_within_tolerance_is_accepted() -> None:
    ahead = (NOW + timedelta(seconds=299)).isoformat()
    items, dead = parse_records([record(good(published_at=ahead))], SETTINGS, NOW)
    assert dead == [] and len(items) == 1


def test_other_offsets_and_z_are_converted_to_utc() -> None:
    items, _ = parse_records(
        [
            record(good(id="a", published_at="2026-03-02T05:30:00-05:00")),
            record(good(id="b", published_at="2026-03-02T10:30:00Z")),
        ],
        SETTINGS,
        NOW,
    )
    assert [i.published_at for i in items] == [datetime(2026, 3, 2, 10, 30, tzinfo=UTC)] * 2


def test_oversize_record_bytes() -> None:
    code, message = reject(good(body="x" * 5000))
    assert code == Reason.OVERSIZE
    assert "max_record_bytes" in message


def test_oversize_text_chars() -> None:
    code, message = reject(good(body="word " * 120))
    assert code == Reason.OVERSIZE
    assert "max_text_chars" in message


def test_text_limit_counts_normalised_text() -> None:
    body = "<span class='highlight-with-long-attributes'>x</span>" * 40  # long markup, short text
    items, dead = parse_records([record(good(body=body))], SETTINGS, NOW)
    assert dead == [] and items[0].body == " ".join(["x"] * 40)


def test_empty_id_and_source() -> None:
    assert reject(good(id="  "))[0] == Reason.MISSING_FIELD
    assert reject(good(source="<i></i>"))[0] == Reason.MISSING_FIELD


def test_body_empty_after_normalisation_becomes_none() -> None:
    items, _ = parse_records([record(good(body="<p> </p>"))], SETTINGS, NOW)
    assert items[0].body is None


def test_utf8_bom_is_tolerated() -> None:
    items, dead = parse_records(
        [record(b"\xef\xbb\xbf" + json.dumps(good()).encode())], SETTINGS, NOW
    )
    assert dead == [] and len(items) == 1


# --- CSV -------------------------------------------------------------------------------------


def csv_record(line: bytes, columns: tuple[str, ...] = COLUMNS) -> CsvRecord:
    return CsvRecord(data=line, source="file", input="in.csv", position=3, columns=columns)


def test_csv_row_is_parsed() -> None:
    line = b'c1,2026-03-02T10:00:00Z,Wire,"Apple, Microsoft rally",,,AAPL|msft,'
    items, dead = parse_records([csv_record(line)], SETTINGS, NOW)
    assert dead == []
    (item,) = items
    assert item.headline == "Apple, Microsoft rally"
    assert (item.body, item.url, item.lang) == (None, None, "en")
    assert item.tickers == ("AAPL", "MSFT")
    assert (item.input, item.position) == ("in.csv", 3)


def test_csv_comma_separated_tickers_cell() -> None:
    line = b'c1,2026-03-02T10:00:00Z,Wire,Rally,,,"AAPL, MSFT",en'
    items, _ = parse_records([csv_record(line)], SETTINGS, NOW)
    assert items[0].tickers == ("AAPL", "MSFT")


def test_csv_multiline_quoted_body() -> None:
    line = b'c1,2026-03-02T10:00:00Z,Wire,Rally,"first line\nsecond line",,,'
    items, dead = parse_records([csv_record(line)], SETTINGS, NOW)
    assert dead == [] and items[0].body == "first line second line"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"c1,2026-03-02T10:00:00Z,Wire", Reason.MISSING_FIELD),
        (b"c1,2026-03-02T10:00:00Z,Wire,Rally,b,u,t,en,extra", Reason.BAD_CSV),
        (b'c1,2026-03-02T10:00:00Z,Wire,"unterminated', Reason.BAD_CSV),
        (b"c1,2026-03-02T10:00:00Z,Wire,,,,,", Reason.EMPTY_HEADLINE),
        (b"c1,2026-03-02 10:00,Wire,Rally,,,,", Reason.NAIVE_TIMESTAMP),
        (b"c1,soon,Wire,Rally,,,,", Reason.BAD_TIMESTAMP),
        (b"c1,2026-03-02T10:00:00Z,Wire,caf\xe9,,,,", Reason.BAD_UTF8),
        (b"", Reason.NULL_VALUE),
    ],
)
def test_bad_csv_rows(line: bytes, code: Reason) -> None:
    rec = csv_record(line)
    items, dead = parse_records([rec], SETTINGS, NOW)
    assert items == [] and len(dead) == 1
    assert dead[0].reason_code == code
    assert dead[0].raw == line


def test_csv_without_header_columns() -> None:
    _, dead = parse_records([csv_record(b"a,b,c,d", columns=())], SETTINGS, NOW)
    assert dead[0].reason_code == Reason.BAD_CSV


def test_dead_letter_keys_differ_by_position() -> None:
    recs = [RawRecord(data=b"{", source="file", input="f", position=p) for p in (1, 2)]
    _, dead = parse_records(recs, SETTINGS, NOW)
    assert len({d.key for d in dead}) == 2


@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_exactly_one_outcome(data: bytes) -> None:
    rec = RawRecord(data=data, source="kafka", input="news/0", position=1)
    items, dead = parse_records([rec], SETTINGS, NOW)
    assert len(items) + len(dead) == 1
    if dead:
        assert dead[0].raw == data and dead[0].reason_code in {r.value for r in Reason}


@given(
    st.dictionaries(
        st.sampled_from(COLUMNS),
        st.one_of(st.none(), st.text(max_size=40), st.integers(), st.lists(st.text(max_size=8))),
    )
)
def test_arbitrary_objects_give_exactly_one_outcome(fields: dict[str, Any]) -> None:
    items, dead = parse_records([record(fields)], SETTINGS, NOW)
    assert len(items) + len(dead) == 1
    for item in items:
        assert item.headline and item.published_at.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-02T10:00:00.123Z",
        "2026-03-02T10:00:00.123456789+00:00",
        "2026-03-02 10:00:00+0000",
        "20260302T100000Z",
        "2026-03-02T10:00Z",
        "2026-03-02T15:30:00+05:30",
    ],
)
def test_common_iso_forms_are_accepted(value: str) -> None:
    items, dead = parse_records([record(good(published_at=value))], SETTINGS, NOW)
    assert dead == []
    assert items[0].published_at.replace(microsecond=0) == datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["Mon, 02 Mar 2026 25:00:00 GMT", "17672256.00.1", "9999-12-31T23:59:59-23:59"]
)
def test_non_iso_or_out_of_range_times_are_rejected(value: str) -> None:
    assert reject(good(published_at=value))[0] in (Reason.BAD_TIMESTAMP, Reason.FUTURE_TIMESTAMP)


def test_negative_future_tolerance_still_rejects_recent_items() -> None:
    strict = SETTINGS.with_overrides(future_tolerance_s=-60)
    assert reject(good(published_at=(NOW - timedelta(seconds=30)).isoformat()), strict)[0] == (
        Reason.FUTURE_TIMESTAMP
    )
    items, _ = parse_records(
        [record(good(published_at=(NOW - timedelta(seconds=120)).isoformat()))], strict, NOW
    )
    assert len(items) == 1


@given(st.from_regex(_PLAIN_WEB_URL, fullmatch=True))
def test_links_taken_without_urlsplit_are_links_web_url_keeps(url: str) -> None:
    assert web_url(url) == url
    items, _ = parse_records([record(good(url=url))], SETTINGS, NOW)
    assert items[0].url == url


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://", "http://a\u202eb/", "https://x.example/\x1b[2J", "ftp://x.io"]
)
def test_links_that_are_not_plain_still_take_the_full_check(url: str) -> None:
    assert _PLAIN_WEB_URL.fullmatch(url) is None
    items, _ = parse_records([record(good(url=url))], SETTINGS, NOW)
    assert items[0].url is None


def test_values_framed_for_a_schema_registry_are_read_and_others_say_what_they_are() -> None:
    framed = b"\x00" + (42).to_bytes(4, "big") + json.dumps(good()).encode()
    items, dead = parse_records([record(framed)], SETTINGS, NOW)
    assert dead == [] and items[0] == parse_records([record(good())], SETTINGS, NOW)[0][0]
    avro = b"\x00" + (42).to_bytes(4, "big") + b"\x06n-1\x14Harbor Wire"
    code, reason = reject(avro)
    assert code == "bad_json" and "schema id 42" in reason and "FINSENTRY_SCHEMA_REGISTRY_URL" in reason
    broken = b"\x00" + (7).to_bytes(4, "big") + b'{"id": "n-1",'
    code, reason = reject(broken)
    assert code == "bad_json" and "invalid JSON" in reason


def test_a_dropped_tickers_entry_is_logged_once_and_inertly(caplog: pytest.LogCaptureFixture) -> None:
    entries = ["Q&Q", "AAPL", "Q&Q", "\x1b[2Jzz zz", "  "]
    with caplog.at_level("WARNING", logger="finsentry.sources.fields"):
        for _ in range(2):
            items, _ = parse_records([record(good(tickers=entries))], SETTINGS, NOW)
            assert items[0].tickers == ("AAPL",)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # each distinct entry once, however often it comes
    assert "'Q&Q' is not a ticker" in messages[0] and "\x1b" not in "".join(messages)


def test_tickers_given_as_company_objects_are_read() -> None:
    companies = [
        {"symbol": "aapl", "name": "Apple Inc.", "match_score": 31.2},  # Marketaux
        {"ticker": "MSFT", "relevance_score": "0.61"},  # Alpha Vantage
        {"name": "NVDA"},  # Benzinga
        {"name": "Some Company Ltd"},  # no ticker in it: dropped
        {"symbol": 7},
    ]
    items, dead = parse_records([record(good(tickers=companies))], SETTINGS, NOW)
    assert dead == [] and items[0].tickers == ("AAPL", "MSFT", "NVDA")


@pytest.mark.parametrize(
    "stamp", ["2026-03-02 10:00:00 UTC", "2026-03-02T10:00:00UTC", "2026-03-02 10:00:00 gmt"]
)
def test_a_time_that_names_utc_is_read_as_utc(stamp: str) -> None:
    items, dead = parse_records([record(good(published_at=stamp))], SETTINGS, NOW)
    assert dead == [] and items[0].published_at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_a_named_utc_after_an_offset_or_a_date_alone_is_not_guessed() -> None:
    for stamp in ("2026-03-02 10:00:00+01:00 UTC", "UTC", "March 2 UTC"):
        code, _ = reject(good(published_at=stamp))
        assert code == "bad_timestamp", stamp
