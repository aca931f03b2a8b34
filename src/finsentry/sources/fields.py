"""Field parsers of the input format, and the stable dead-letter reason codes they reject with.

Each parser takes a value of a decoded record and returns it checked and normalised, or raises
:class:`Rejected` with a reason code and a message that says what to fix. Messages quote untrusted
values only through :func:`inert_text`, so any store can hold them and a terminal shows them.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from finsentry.config import Settings
from finsentry.schema import unix_seconds
from finsentry.sources.normalise import normalise_ticker

log = logging.getLogger(__name__)
_REPORTED_LIMIT = 50  # distinct dropped ticker entries logged per process, then silence
_reported: set[str] = set()

_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_TICKER_SPLIT = re.compile(r"[|,;\s]+")


class Reason(StrEnum):
    """Stable dead-letter reason codes."""

    BAD_UTF8 = "bad_utf8"
    BAD_JSON = "bad_json"
    BAD_AVRO = "bad_avro"
    BAD_CSV = "bad_csv"
    NOT_OBJECT = "not_object"
    NULL_VALUE = "null_value"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_HEADLINE = "empty_headline"
    BAD_TIMESTAMP = "bad_timestamp"
    NAIVE_TIMESTAMP = "naive_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    OLD_TIMESTAMP = "old_timestamp"
    OVERSIZE = "oversize"
    EMPTY_TEXT = "empty_text"
    BAD_ID = "bad_id"
    TOO_MANY_TICKERS = "too_many_tickers"
    UNEXPECTED = "unexpected_error"


class Rejected(Exception):
    """A record failed validation; carries the stable code and the human message."""

    def __init__(self, code: Reason, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def inert_text(text: str) -> str:
    """``text`` with control characters and lone surrogates escaped (``\\u0000``): every store
    can hold it (PostgreSQL refuses NUL, UTF-8 refuses surrogates) and a terminal shows it."""
    if not has_unstorable(text):
        return text
    return "".join(f"\\u{ord(c):04x}" if _unstorable(c) else c for c in text)


def has_unstorable(text: str) -> bool:
    """Whether ``text`` holds a control character (NUL among them) or a lone surrogate."""
    return not text.isprintable() and any(_unstorable(c) for c in text)


def _unstorable(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def type_name(value: object) -> str:
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


def string(fields: Mapping[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise Rejected(
            Reason.WRONG_TYPE,
            f"field '{name}' must be a string, got a {type_name(value)}; quote it",
        )
    return value


def optional_string(fields: Mapping[str, Any], name: str) -> str | None:
    if fields.get(name) is None:
        return None
    return string(fields, name)


def timestamp(value: Any, settings: Settings, now: datetime) -> datetime:
    """``published_at`` as an aware UTC datetime: ISO 8601 with an offset (or without one when
    ``naive_timezone`` says where such times are), RFC 2822 as in e-mail and RSS, or a Unix time
    in seconds or milliseconds (a number, or a string of one), told apart by size."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        published = _unix_time(value, repr(value)[:64])
    elif isinstance(value, str):
        published = _text_time(value.strip(), settings)
    else:
        raise Rejected(
            Reason.WRONG_TYPE,
            f"published_at must be an ISO-8601 string such as 2026-01-02T03:04:05Z (or a Unix "
            f"time), got a {type_name(value)}",
        )
    if published < settings.earliest_published_at:
        raise Rejected(
            Reason.OLD_TIMESTAMP,
            f"published_at {published.isoformat()} is before earliest_published_at="
            f"{settings.earliest_published_at.isoformat()}; check the field, or lower "
            "FINSENTRY_EARLIEST_PUBLISHED_AT for archives",
        )
    tolerance = settings.future_tolerance_s
    if (published > now or tolerance < 0) and published > now + timedelta(seconds=tolerance):
        ahead = (published - now).total_seconds()
        raise Rejected(
            Reason.FUTURE_TIMESTAMP,
            f"published_at {published.isoformat()} is {ahead:.0f} s in the future (tolerance "
            f"{settings.future_tolerance_s} s); check the publisher's clock and time zone",
        )
    return published


_UNIX_TEXT = re.compile(r"[0-9]{1,16}(?:\.[0-9]*)?")
# "2026-03-02 14:05:00 UTC", as databases (BigQuery, PostgreSQL's text output) write UTC times
_NAMED_UTC = re.compile(r"\s*(?:UTC|GMT)$", re.IGNORECASE)


def _text_time(text: str, settings: Settings) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        named = _NAMED_UTC.sub("", text)
        if named != text and named[-1:].isdigit():
            with contextlib.suppress(ValueError):
                if (utc := datetime.fromisoformat(named)).tzinfo is None:
                    return utc.replace(tzinfo=UTC)
        if _UNIX_TEXT.fullmatch(text):
            return _unix_time(text, repr(text[:64]))
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise Rejected(
                Reason.BAD_TIMESTAMP,
                f"published_at {text[:64]!r} is not an ISO-8601 timestamp; use e.g. "
                "2026-01-02T03:04:05+00:00 (RFC 2822 dates and Unix times are read too)",
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if settings.naive_timezone is None:
            raise Rejected(
                Reason.NAIVE_TIMESTAMP,
                f"published_at {text[:64]!r} has no UTC offset; append 'Z' or '+00:00' (or the "
                "publisher's offset), or set FINSENTRY_NAIVE_TIMEZONE to the zone such times are "
                "in (e.g. UTC, America/New_York)",
            )
        parsed = parsed.replace(tzinfo=ZoneInfo(settings.naive_timezone))
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise Rejected(
            Reason.BAD_TIMESTAMP, f"published_at {text[:64]!r} is out of range"
        ) from None


def _unix_time(value: float | str, shown: str) -> datetime:
    try:
        return datetime.fromtimestamp(unix_seconds(float(value)), UTC)
    except (OverflowError, OSError, ValueError):
        raise Rejected(
            Reason.BAD_TIMESTAMP, f"published_at {shown} is not a Unix time in range"
        ) from None


def tickers_of(value: Any, cap: int) -> tuple[str, ...]:
    """Upper-cased valid tickers in input order; invalid entries are dropped, never fatal; more
    than ``cap`` distinct tickers reject the record (one item would fill ``cap`` windows each)."""
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
            f"{type_name(value)}",
        )
    seen: dict[str, None] = {}
    for part in parts:
        if isinstance(part, dict):  # {"symbol": "AAPL", ...}, as news APIs list their companies
            part = _symbol_of(part)
        if isinstance(part, str) and (ticker := normalise_ticker(part)):
            seen.setdefault(ticker, None)
            if len(seen) > cap:
                raise Rejected(
                    Reason.TOO_MANY_TICKERS,
                    f"the record names more than max_tickers={cap} tickers ({len(parts)} given); "
                    "send the companies it is about, or raise FINSENTRY_MAX_TICKERS",
                )
        elif part is not None and not (isinstance(part, str) and not part.strip()):
            _report_dropped(part)
    return tuple(seen)


_SYMBOL_KEYS = ("symbol", "ticker", "code", "name")


def _symbol_of(entry: dict[Any, Any]) -> Any:
    """The ticker of a company object (Marketaux ``symbol``, Alpha Vantage ``ticker``, Benzinga
    ``name``): its first key of :data:`_SYMBOL_KEYS` whose value is a ticker; else the object."""
    for key in _SYMBOL_KEYS:
        value = entry.get(key)
        if isinstance(value, str) and normalise_ticker(value):
            return value
    return entry


def _report_dropped(part: Any) -> None:
    """Say once (per distinct entry, up to a limit) that a tickers entry was not a ticker."""
    shown = repr(part)[:80]  # repr: control characters escaped, inert in any log
    if shown in _reported or len(_reported) >= _REPORTED_LIMIT:
        return
    _reported.add(shown)
    log.warning(
        "tickers entry %s is not a ticker (1-12 letters or digits, optionally -WORD and a venue "
        "suffix: AAPL, BRK.B, RELIANCE.NS, 0700.HK); dropped from its items%s",
        shown,
        "; further such entries are not logged" if len(_reported) == _REPORTED_LIMIT else "",
    )


def lang_of(value: Any) -> str:
    if value is None:
        return "en"
    if not isinstance(value, str):
        raise Rejected(
            Reason.WRONG_TYPE,
            f"lang must be a language code string such as 'en', got a {type_name(value)}",
        )
    lang = value.strip().lower().replace("_", "-")
    if not lang:
        return "en"
    if not _LANG.fullmatch(lang):
        raise Rejected(
            Reason.WRONG_TYPE, f"lang {value[:32]!r} is not a language code such as 'en' or 'de'"
        )
    return lang
