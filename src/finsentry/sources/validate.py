"""Validation: raw records in, news items and dead letters out.

Every record becomes exactly one :class:`NewsItem` or one :class:`DeadLetter` (with the record's
original bytes), so ``read == processed + dead-lettered`` holds for every run. The reason codes are
stable (dashboards and the Kafka DLQ headers carry them); the messages say what to fix.

Input format, one JSON object per line::

    {"id": "unique string", "published_at": "2026-01-02T03:04:05+00:00", "source": "Wire",
     "headline": "...", "body": "... or null", "url": "... or null",
     "tickers": ["AAPL", ...] (optional), "lang": "en" (optional)}

or a CSV row with the same columns (tickers ``|``- or ``,``-separated in one cell); CSV rows arrive
as :class:`CsvRecord`, which carries the header's column names next to the row's original bytes.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from finsentry.config import Settings
from finsentry.inert import web_url
from finsentry.schema import DeadLetter, NewsItem, RawRecord
from finsentry.sources.normalise import normalise_text, normalise_ticker

log = logging.getLogger(__name__)


class Reason(StrEnum):
    """Stable dead-letter reason codes."""

    BAD_UTF8 = "bad_utf8"
    BAD_JSON = "bad_json"
    BAD_CSV = "bad_csv"
    NOT_OBJECT = "not_object"
    NULL_VALUE = "null_value"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_HEADLINE = "empty_headline"
    BAD_TIMESTAMP = "bad_timestamp"
    NAIVE_TIMESTAMP = "naive_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    OVERSIZE = "oversize"
    EMPTY_TEXT = "empty_text"


@dataclass(frozen=True, slots=True)
class CsvRecord(RawRecord):
    """A CSV row: ``data`` is the row's original bytes, ``columns`` the header's column names."""

    columns: tuple[str, ...] = ()


REQUIRED_FIELDS: tuple[str, ...] = ("id", "published_at", "source", "headline")
MAX_ID_CHARS = 512
MAX_SOURCE_CHARS = 256
MAX_URL_CHARS = 4096
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_TICKER_SPLIT = re.compile(r"[|,;\s]+")
_EXAMPLE = (
    '{"id": "a1", "published_at": "2026-01-02T03:04:05Z", "source": "Wire", "headline": "..."}'
)


class Rejected(Exception):
    """A record failed validation; carries the stable code and the human message."""

    def __init__(self, code: Reason, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_records(
    records: Sequence[RawRecord], settings: Settings, now: datetime
) -> tuple[list[NewsItem], list[DeadLetter]]:
    """Validate and normalise a batch. Every record gives one item or one dead letter, in order."""
    items: list[NewsItem] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            items.append(parse_record(record, settings, now))
        except Rejected as exc:
            dead.append(
                DeadLetter(
                    raw=record.data,
                    reason_code=str(exc.code),
                    reason=exc.message,
                    source=record.source,
                    input=record.input,
                    position=record.position,
                    received_at=record.received_at,
                )
            )
    return items, dead


def parse_record(record: RawRecord, settings: Settings, now: datetime) -> NewsItem:
    """One record to a :class:`NewsItem`, or raise :class:`Rejected`."""
    data = record.data
    if len(data) > settings.max_record_bytes:
        raise Rejected(
            Reason.OVERSIZE,
            f"record is {len(data)} bytes, more than max_record_bytes={settings.max_record_bytes}; "
            "shorten the body or raise FINSENTRY_MAX_RECORD_BYTES",
        )
    if not data.strip():
        raise Rejected(
            Reason.NULL_VALUE,
            "empty record (a Kafka tombstone or a blank line); send one JSON object per record",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            Reason.BAD_UTF8,
            f"not valid UTF-8 at byte {exc.start} ({exc.reason}); re-encode the input as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff")
    fields = (
        _csv_fields(text, record.columns) if isinstance(record, CsvRecord) else _json_fields(text)
    )
    return _build_item(fields, record, settings, now)


def _json_fields(text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(
            Reason.BAD_JSON,
            f"invalid JSON at column {exc.colno}: {exc.msg}; each line must be one JSON object "
            f"like {_EXAMPLE}",
        ) from None
    except RecursionError:
        raise Rejected(Reason.BAD_JSON, "JSON nested too deeply; send a flat object") from None
    if value is None:
        raise Rejected(Reason.NULL_VALUE, "record is JSON null; send a news item object")
    if not isinstance(value, dict):
        raise Rejected(
            Reason.NOT_OBJECT,
            f"record is a JSON {_type_name(value)}, not an object; send one object per line "
            f"like {_EXAMPLE}",
        )
    return value


def _csv_fields(text: str, columns: tuple[str, ...]) -> Mapping[str, Any]:
    if not columns:
        raise Rejected(
            Reason.BAD_CSV, "CSV row without a header; the first line must name the columns"
        )
    try:
        rows = list(csv.reader(text.splitlines(keepends=True) or [""], strict=True))
    except csv.Error as exc:
        raise Rejected(Reason.BAD_CSV, f"malformed CSV row ({exc}); check the quoting") from None
    if len(rows) != 1:
        raise Rejected(
            Reason.BAD_CSV, f"expected one CSV row, found {len(rows)}; check the quoting"
        )
    cells = rows[0]
    if len(cells) > len(columns):
        raise Rejected(
            Reason.BAD_CSV,
            f"CSV row has {len(cells)} cells but the header has {len(columns)} columns; quote cells "
            "that contain commas",
        )
    # Cells missing at the end of a short row count as absent fields; empty optional cells as null.
    fields: dict[str, Any] = {}
    for name, cell in zip(columns, cells, strict=False):
        fields[name] = cell if cell != "" or name in REQUIRED_FIELDS else None
    return fields


def _build_item(
    fields: Mapping[str, Any], record: RawRecord, settings: Settings, now: datetime
) -> NewsItem:
    for name in REQUIRED_FIELDS:
        if name not in fields or fields[name] is None:
            present = ", ".join(sorted(str(k) for k in fields)) or "none"
            raise Rejected(
                Reason.MISSING_FIELD,
                f"required field '{name}' is missing or null (fields present: {present}); "
                f"required: {', '.join(REQUIRED_FIELDS)}",
            )
    item_id = _string(fields, "id").strip()
    if not item_id:
        raise Rejected(Reason.MISSING_FIELD, "field 'id' is empty; give every item a unique id")
    if len(item_id) > MAX_ID_CHARS:
        raise Rejected(Reason.OVERSIZE, f"id is {len(item_id)} characters; at most {MAX_ID_CHARS}")
    source = normalise_text(_string(fields, "source"))
    if not source:
        raise Rejected(Reason.MISSING_FIELD, "field 'source' is empty; name the publisher")
    if len(source) > MAX_SOURCE_CHARS:
        raise Rejected(
            Reason.OVERSIZE, f"source is {len(source)} characters; at most {MAX_SOURCE_CHARS}"
        )

    raw_headline = _string(fields, "headline")
    if not raw_headline.strip():
        raise Rejected(
            Reason.EMPTY_HEADLINE, "field 'headline' is empty; every item needs a headline"
        )
    raw_body = _optional_string(fields, "body")
    url = _optional_string(fields, "url")
    if url is not None:
        url = url.strip() or None
    if url is not None and len(url) > MAX_URL_CHARS:
        raise Rejected(Reason.OVERSIZE, f"url is {len(url)} characters; at most {MAX_URL_CHARS}")
    if url is not None and web_url(url) is None:
        # javascript:, data:, file: ... would become live links in e-mails and reports: the
        # item is kept, its link is not
        log.info("dropped the url of a record (not an http(s) URL with a host)")
        url = None

    published_at = _timestamp(fields["published_at"], settings, now)
    tickers = _tickers(fields.get("tickers"))
    lang = _lang(fields.get("lang"))

    headline = normalise_text(raw_headline)
    body = normalise_text(raw_body) if raw_body is not None else None
    if not headline:
        raise Rejected(
            Reason.EMPTY_TEXT,
            "headline is empty after removing markup, URLs and control characters; "
            "send the headline's text",
        )
    size = len(headline) + len(body or "")
    if size > settings.max_text_chars:
        raise Rejected(
            Reason.OVERSIZE,
            f"headline + body are {size} characters, more than max_text_chars="
            f"{settings.max_text_chars}; send a summary or raise FINSENTRY_MAX_TEXT_CHARS",
        )
    return NewsItem(
        id=item_id,
        published_at=published_at,
        source=source,
        headline=headline,
        body=body or None,
        url=url,
        tickers=tickers,
        lang=lang,
        input=record.input,
        position=record.position,
    )


def _type_name(value: object) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _string(fields: Mapping[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise Rejected(
            Reason.WRONG_TYPE,
            f"field '{name}' must be a string, got a {_type_name(value)}; quote it",
        )
    return value


def _optional_string(fields: Mapping[str, Any], name: str) -> str | None:
    if fields.get(name) is None:
        return None
    return _string(fields, name)


def _timestamp(value: Any, settings: Settings, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise Rejected(
            Reason.WRONG_TYPE,
            f"published_at must be an ISO-8601 string such as 2026-01-02T03:04:05Z, got a "
            f"{_type_name(value)}",
        )
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(
            Reason.BAD_TIMESTAMP,
            f"published_at {text[:64]!r} is not an ISO-8601 timestamp; use e.g. "
            "2026-01-02T03:04:05+00:00",
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise Rejected(
            Reason.NAIVE_TIMESTAMP,
            f"published_at {text[:64]!r} has no UTC offset; append 'Z' or '+00:00' (or the "
            "publisher's offset)",
        )
    try:
        published = parsed.astimezone(UTC)
    except OverflowError:
        raise Rejected(
            Reason.BAD_TIMESTAMP, f"published_at {text[:64]!r} is out of range"
        ) from None
    limit = now + timedelta(seconds=settings.future_tolerance_s)
    if published > limit:
        ahead = (published - now).total_seconds()
        raise Rejected(
            Reason.FUTURE_TIMESTAMP,
            f"published_at {published.isoformat()} is {ahead:.0f} s in the future (tolerance "
            f"{settings.future_tolerance_s} s); check the publisher's clock and time zone",
        )
    return published


def _tickers(value: Any) -> tuple[str, ...]:
    """Upper-cased valid tickers in input order; invalid entries are dropped, never fatal."""
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[Any] = _TICKER_SPLIT.split(value)
    elif isinstance(value, list):
        parts = value
    else:
        raise Rejected(
            Reason.WRONG_TYPE,
            f"tickers must be a list of strings (or one '|'-separated string), got a "
            f"{_type_name(value)}",
        )
    seen: dict[str, None] = {}
    for part in parts:
        if isinstance(part, str) and (ticker := normalise_ticker(part)):
            seen.setdefault(ticker, None)
    return tuple(seen)


def _lang(value: Any) -> str:
    if value is None:
        return "en"
    if not isinstance(value, str):
        raise Rejected(
            Reason.WRONG_TYPE,
            f"lang must be a language code string such as 'en', got a {_type_name(value)}",
        )
    lang = value.strip().lower().replace("_", "-")
    if not lang:
        return "en"
    if not _LANG.fullmatch(lang):
        raise Rejected(
            Reason.WRONG_TYPE, f"lang {value[:32]!r} is not a language code such as 'en' or 'de'"
        )
    return lang
