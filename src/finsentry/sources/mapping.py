"""Records from other systems: ``input_fields`` (``--field FIELD=NAME``) says where a record keeps
each field of a news item; ``id=@content`` makes an id from the content, ``id=@key`` takes the
Kafka message key, ``published_at=@timestamp`` the Kafka record's timestamp and ``source=@topic``
its topic. A record missing a required field is told which ``--field`` would read it."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from finsentry.config import CONTENT_ID, KEY_ID, RECORD_TIME, RECORD_TOPIC, Settings
from finsentry.sources.fields import inert_text

REQUIRED_FIELDS: tuple[str, ...] = ("id", "published_at", "source", "headline")
KAFKA_SOURCE = "kafka"  # the ``source`` of every record read from Kafka (its topic: @topic)

# where records from other systems keep what finsentry needs: suggested in the missing-field error
_COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("guid", "uuid", "uid", "_id", "article_id", "url", "link"),
    "published_at": ("date", "datetime", "timestamp", "time", "published", "pubdate", "created_at"),
    "source": ("publisher", "provider", "site", "feed", "outlet"),
    "headline": ("title", "heading", "text", "summary"),
}


def mapped_fields(
    fields: Mapping[str, Any],
    pairs: tuple[str, ...],
    key: bytes | None = None,
    timestamp_ms: int | None = None,
    topic: str | None = None,
) -> Mapping[str, Any]:
    """``fields`` with each FIELD of ``pairs`` (``input_fields``) taken from its NAME where the
    record has no FIELD of its own (a NAME with dots reads into nested objects, ``content.title``,
    where the record has no field of that very name); ``id=@content`` makes an id of the source,
    time and headline (the same record always gets the same id, so re-reading it changes
    nothing); ``id=@key`` takes the message ``key`` when it is UTF-8 text (else the id stays
    missing); ``published_at=@timestamp`` the Kafka record's timestamp (Unix milliseconds);
    ``source=@topic`` the Kafka topic it was read from."""
    out = dict(fields)
    content_id = False
    for field, name in _pairs(pairs):
        if name == CONTENT_ID:
            content_id = True
        elif name == KEY_ID:
            if out.get(field) is None and key:
                with contextlib.suppress(UnicodeDecodeError):
                    out[field] = key.decode("utf-8")
        elif name == RECORD_TIME:
            if out.get(field) is None and timestamp_ms is not None and timestamp_ms >= 0:
                out[field] = timestamp_ms
        elif name == RECORD_TOPIC:
            if out.get(field) is None and topic:
                out[field] = topic
        elif out.get(field) is None and (value := _named(fields, name)) is not None:
            out[field] = value
    if content_id and out.get("id") is None:
        parts = [out.get(name) for name in ("source", "published_at", "headline")]
        if all(part is not None for part in parts):
            canonical = json.dumps([str(part) for part in parts], ensure_ascii=False)
            out["id"] = (
                "c-" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            )
    return out


def _named(fields: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` in ``fields``: a field of that name, else a path of nested objects
    (``content.title``, ``source.name``); None when there is neither."""
    value = fields.get(name)
    if value is not None or "." not in name:
        return value
    node: Any = fields
    for part in name.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


@functools.lru_cache(maxsize=8)
def _pairs(pairs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((field, name) for field, _, name in (p.partition("=") for p in pairs))


def mapping_hint(
    fields: Mapping[str, Any],
    settings: Settings,
    keyed: bool,
    timed: bool = False,
    topical: bool = False,
) -> str:
    """What to pass when a record from another system names its required fields otherwise: one
    ``--field`` for each required field that is missing, not mapped yet, and found under a
    common other name (for an id when none is: the message key of a ``keyed`` record, else one
    made from the content; for a time when none is: the Kafka timestamp of a ``timed`` one; for
    a source when none is: the topic of a ``topical`` one, read from Kafka).
    A mapped field may still be missing (an id made from the content needs the time, source and
    headline): the hint then names what it is made of."""
    mapped = {field for field, _ in _pairs(settings.input_fields)}
    lower = {str(key).lower(): str(key) for key in fields}
    hints = []
    for wanted in REQUIRED_FIELDS:
        if fields.get(wanted) is not None or wanted in mapped:
            continue
        for common in _COMMON_NAMES.get(wanted, ()):
            if common in lower and fields.get(lower[common]) is not None:
                hints.append(f"--field {wanted}={inert_text(lower[common])[:64]}")
                break
        else:
            if wanted == "id":
                hints.append(f"--field id={KEY_ID if keyed else CONTENT_ID}")
            elif wanted == "published_at" and timed:
                hints.append(f"--field published_at={RECORD_TIME}")
            elif wanted == "source" and topical:
                hints.append(f"--field source={RECORD_TOPIC}")
    if not hints:
        return ""
    return f"; a record from another system? pass {' '.join(hints)} (or FINSENTRY_INPUT_FIELDS)"
