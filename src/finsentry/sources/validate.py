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
import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from finsentry.config import Settings
from finsentry.inert import web_url
from finsentry.schema import DeadLetter, NewsItem, RawRecord
from finsentry.sources.fields import (
    Reason,
    Rejected,
    has_unstorable,
    inert_text,
    lang_of,
    optional_string,
    string,
    tickers_of,
    timestamp,
    type_name,
)
from finsentry.sources.mapping import KAFKA_SOURCE, REQUIRED_FIELDS, mapped_fields, mapping_hint
from finsentry.sources.normalise import normalise_text
from finsentry.sources.registry import RegistryUnavailable, SchemaNotFound, registry_for

__all__ = ["CsvRecord", "OversizeRecord", "Reason", "Rejected", "parse_record", "parse_records"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CsvRecord(RawRecord):
    """A CSV row: ``data`` is the row's original bytes, ``columns`` the header's column names,
    ``delimiter`` what separates the cells (``,``, or ``;``, tab, ``|``)."""

    columns: tuple[str, ...] = ()
    delimiter: str = ","


@dataclass(frozen=True, slots=True)
class OversizeRecord(RawRecord):
    """A line longer than the reader's cap: ``data`` is its first bytes only, ``size`` the length
    of the whole line and ``sha256`` its hash (the line itself was never held in memory)."""

    size: int = 0
    sha256: str = ""


MAX_ID_CHARS = 512
MAX_SOURCE_CHARS = 256
MAX_URL_CHARS = 4096
# A link web_url keeps for sure (http(s), a plain host name and port, printable ASCII after it):
# accepted without urlsplit. Anything else takes the full check.
_PLAIN_WEB_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:[/?#][!-~]*)?")
_EXAMPLE = (
    '{"id": "a1", "published_at": "2026-01-02T03:04:05Z", "source": "Wire", "headline": "..."}'
)


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
            dead.append(dead_letter(record, exc.code, exc.message, settings))
        except RegistryUnavailable:
            raise  # the records are fine: stop the batch, store and commit nothing, read again
        except Exception as exc:  # a bug here must cost one record, never the batch
            log.exception("validation failed unexpectedly on %s", inert_text(record.locator))
            message = f"validation failed unexpectedly ({type(exc).__name__}); please report it"
            dead.append(dead_letter(record, Reason.UNEXPECTED, message, settings))
    return items, dead


def dead_letter(record: RawRecord, code: str, message: str, settings: Settings) -> DeadLetter:
    """The dead letter of ``record``: its raw bytes, capped at ``dead_letter_raw_bytes`` (the
    message then gives the full size and sha256), and a message safe for any store."""
    raw = record.data
    cap = settings.dead_letter_raw_bytes
    if len(raw) > cap:
        digest = hashlib.sha256(raw).hexdigest()
        message += f" [record {len(raw)} bytes, sha256 {digest}; first {cap} bytes kept]"
        raw = raw[:cap]
    return DeadLetter(
        raw=raw,
        reason_code=str(code),
        reason=inert_text(message),
        source=inert_text(record.source),
        input=inert_text(record.input),
        position=record.position,
        received_at=record.received_at,
    )


def parse_record(record: RawRecord, settings: Settings, now: datetime) -> NewsItem:
    """One record to a :class:`NewsItem`, or raise :class:`Rejected`."""
    data = record.data
    if isinstance(record, OversizeRecord):
        raise Rejected(
            Reason.OVERSIZE,
            f"line is {record.size} bytes (sha256 {record.sha256}), more than max_line_bytes="
            f"{settings.max_line_bytes}; its first {len(data)} bytes are kept. Split the record "
            "or raise FINSENTRY_MAX_LINE_BYTES",
        )
    if len(data) > settings.max_record_bytes:
        raise Rejected(
            Reason.OVERSIZE,
            f"record is {len(data)} bytes, more than max_record_bytes={settings.max_record_bytes}; "
            "shorten the body or raise FINSENTRY_MAX_RECORD_BYTES",
        )
    if not isinstance(record, CsvRecord):
        # The common case in one C call: valid UTF-8 holding a JSON object. Anything else (a BOM,
        # NaN, a lone surrogate, bad bytes, not an object) goes the careful way below, which says
        # exactly what is wrong; both ways give the same item for a record both accept.
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            value = None
        if type(value) is dict:
            return _build_item(value, record, settings, now)
        if data[:1] == _SCHEMA_REGISTRY_MAGIC and len(data) > _SCHEMA_REGISTRY_HEADER:
            if settings.schema_registry_url and not _json_like(data[_SCHEMA_REGISTRY_HEADER:]):
                return _build_item(_avro_fields(data, settings), record, settings, now)
            data = _schema_registry_json(data)
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
        _csv_fields(text, record.columns, record.delimiter)
        if isinstance(record, CsvRecord)
        else _json_fields(text)
    )
    return _build_item(fields, record, settings, now)


# Confluent's Schema Registry serializers put a 0 byte and a 4-byte schema id before each value;
# no JSON document starts with a 0 byte, so the framing is told apart without a setting.
_SCHEMA_REGISTRY_MAGIC = b"\x00"
_SCHEMA_REGISTRY_HEADER = 5


def _json_like(payload: bytes) -> bool:
    return payload.lstrip()[:1] in (b"{", b"[", b'"') or payload.strip() == b"null"


def _schema_registry_json(data: bytes) -> bytes:
    """The JSON of a value framed for the Schema Registry (as the JSON Schema serializer writes
    it); :class:`Rejected` when the framed value is not JSON and no registry is configured."""
    payload = data[_SCHEMA_REGISTRY_HEADER:]
    if _json_like(payload):
        return payload
    schema = int.from_bytes(data[1:_SCHEMA_REGISTRY_HEADER], "big")
    raise Rejected(
        Reason.BAD_JSON,
        f"the value is framed for a Schema Registry (schema id {schema}) but is not JSON: Avro? "
        "set FINSENTRY_SCHEMA_REGISTRY_URL to read it; Protobuf is not read",
    )


def _avro_fields(data: bytes, settings: Settings) -> Mapping[str, Any]:
    """The fields of an Avro value framed for the Schema Registry, decoded with its schema."""
    schema = int.from_bytes(data[1:_SCHEMA_REGISTRY_HEADER], "big")
    password = settings.schema_registry_password
    registry = registry_for(
        str(settings.schema_registry_url),
        settings.schema_registry_user,
        password.get_secret_value() if password is not None else None,
    )
    try:
        return registry.decode(schema, data[_SCHEMA_REGISTRY_HEADER:])
    except SchemaNotFound as exc:
        raise Rejected(Reason.BAD_AVRO, f"{exc}; produce with a registered Avro schema") from None
    except ValueError as exc:
        raise Rejected(
            Reason.BAD_AVRO, f"the value does not decode with Avro schema id {schema}: {exc}"
        ) from None


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
            f"record is a JSON {type_name(value)}, not an object; send one object per line "
            f"like {_EXAMPLE}",
        )
    return value


def _csv_fields(text: str, columns: tuple[str, ...], delimiter: str = ",") -> Mapping[str, Any]:
    if not columns:
        raise Rejected(
            Reason.BAD_CSV, "CSV row without a header; the first line must name the columns"
        )
    lines = text.splitlines(keepends=True)
    spans = f" (this record spans {len(lines)} lines, all dead-lettered here)" if len(lines) > 1 else ""
    try:
        rows = list(csv.reader(lines or [""], strict=True, delimiter=delimiter))
    except csv.Error as exc:
        raise Rejected(
            Reason.BAD_CSV, f"malformed CSV row ({exc}); check the quoting{spans}"
        ) from None
    if len(rows) != 1:
        raise Rejected(
            Reason.BAD_CSV, f"expected one CSV row, found {len(rows)}; check the quoting{spans}"
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
    if settings.input_fields:
        topic = record.input.rpartition("/")[0] if record.source == KAFKA_SOURCE else None
        fields = mapped_fields(
            fields, settings.input_fields, record.key, record.timestamp_ms, topic
        )
    for name in REQUIRED_FIELDS:
        if fields.get(name) is None:
            present = ", ".join(sorted(inert_text(str(k))[:64] for k in fields)[:20]) or "none"
            timed, topical = record.timestamp_ms is not None, record.source == KAFKA_SOURCE
            raise Rejected(
                Reason.MISSING_FIELD,
                f"required field '{name}' is missing or null (fields present: {present}); "
                f"required: {', '.join(REQUIRED_FIELDS)}"
                f"{mapping_hint(fields, settings, bool(record.key), timed, topical)}",
            )
    item_id = _item_id(fields)
    source = _source(fields)
    raw_headline = string(fields, "headline")
    if not raw_headline.strip():
        raise Rejected(
            Reason.EMPTY_HEADLINE, "field 'headline' is empty; every item needs a headline"
        )
    raw_body = optional_string(fields, "body")
    url = _url(fields)
    published_at = timestamp(fields["published_at"], settings, now)
    tickers = tickers_of(fields.get("tickers"), settings.max_tickers)
    lang = lang_of(fields.get("lang"))

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


def _source(fields: Mapping[str, Any]) -> str:
    raw = string(fields, "source")
    source = _publisher(raw) if len(raw) <= MAX_SOURCE_CHARS else normalise_text(raw)
    if not source:
        raise Rejected(Reason.MISSING_FIELD, "field 'source' is empty; name the publisher")
    if len(source) > MAX_SOURCE_CHARS:
        raise Rejected(
            Reason.OVERSIZE, f"source is {len(source)} characters; at most {MAX_SOURCE_CHARS}"
        )
    return source


@functools.lru_cache(maxsize=512)
def _publisher(raw_source: str) -> str:
    """The normalised source name: a stream has few publishers, each normalised once."""
    return normalise_text(raw_source)


def _item_id(fields: Mapping[str, Any]) -> str:
    item_id = string(fields, "id").strip()
    if not item_id:
        raise Rejected(Reason.MISSING_FIELD, "field 'id' is empty; give every item a unique id")
    if len(item_id) > MAX_ID_CHARS:
        raise Rejected(Reason.OVERSIZE, f"id is {len(item_id)} characters; at most {MAX_ID_CHARS}")
    if has_unstorable(item_id):
        raise Rejected(
            Reason.BAD_ID,
            f"id {inert_text(item_id)[:80]!r} holds control characters or lone surrogates; "
            "use printable text",
        )
    return item_id


def _url(fields: Mapping[str, Any]) -> str | None:
    """The item's link, or None. javascript:, data:, file: ... would become live links in
    e-mails and reports, and control characters or lone surrogates cannot be stored: the item is
    kept, such a link is not."""
    url = optional_string(fields, "url")
    url = url.strip() if url is not None else ""
    if not url:
        return None
    if len(url) > MAX_URL_CHARS:
        raise Rejected(Reason.OVERSIZE, f"url is {len(url)} characters; at most {MAX_URL_CHARS}")
    if _PLAIN_WEB_URL.fullmatch(url):
        return url
    if has_unstorable(url) or web_url(url) is None:
        log.info("dropped the url of a record (not an http(s) URL with a host)")
        return None
    return url


