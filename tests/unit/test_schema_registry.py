"""Avro values framed for a Confluent Schema Registry, decoded with the schemas a real HTTP server
serves: fetched once, logged in with basic auth, bad records dead-lettered, an unreachable
registry stopping the batch instead of losing records."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from finsentry.config import Settings
from finsentry.schema import RawRecord
from finsentry.sources.registry import RegistryUnavailable
from finsentry.sources.validate import parse_records
from tests.fixtures.registry import Registry, avro_framed

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AT = datetime(2026, 3, 2, 11, 15, 30, 250000, tzinfo=UTC)


def record(i: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"avro-{i}", "published_at": AT, "source": "Harbor Wire",
        "headline": f"Acme plant explosion halts output, story {i}", "tickers": ["ACME"], "body": None,
    }  # fmt: skip
    row.update(changes)
    return row


def raw(data: bytes, position: int = 0) -> RawRecord:
    return RawRecord(data, "kafka", "news/0", position)


def test_avro_values_are_decoded_with_the_registry_s_schema(schema_registry: Registry) -> None:
    settings = Settings(
        schema_registry_url=schema_registry.url, schema_registry_user="svc", schema_registry_password="s3cret"
    )  # fmt: skip
    values = [avro_framed(record(i)) for i in range(3)]
    items, dead = parse_records([raw(v, i) for i, v in enumerate(values)], settings, NOW)
    assert dead == []
    assert [i.id for i in items] == ["avro-0", "avro-1", "avro-2"]
    assert items[0].published_at == AT.replace(microsecond=250000)
    assert items[0].tickers == ("ACME",) and items[0].source == "Harbor Wire"
    assert items[0].headline == "Acme plant explosion halts output, story 0"
    # one request for the schema, logged in
    token = base64.b64encode(b"svc:s3cret").decode()
    assert schema_registry.requests == [("/schemas/ids/1", f"Basic {token}")]


def test_records_the_registry_cannot_explain_are_dead_letters(schema_registry: Registry) -> None:
    schema_registry.schemas[2] = ("PROTOBUF", 'syntax = "proto3"; message News { string id = 1; }')
    settings = Settings(schema_registry_url=schema_registry.url)
    good = avro_framed(record(1))
    unknown = b"\x00" + (7).to_bytes(4, "big") + good[5:]
    protobuf = b"\x00" + (2).to_bytes(4, "big") + good[5:]
    cut = good[:-12]
    items, dead = parse_records([raw(v, i) for i, v in enumerate([good, unknown, protobuf, cut])], settings, NOW)
    assert [i.id for i in items] == ["avro-1"]
    assert [d.reason_code for d in dead] == ["bad_avro"] * 3
    assert "schema id 7 is not in the registry" in dead[0].reason
    assert "schema id 2 is PROTOBUF, not Avro" in dead[1].reason
    assert "does not decode with Avro schema id 1" in dead[2].reason
    assert [d.raw for d in dead] == [unknown, protobuf, cut]  # the original bytes, kept


def test_without_a_registry_the_dead_letter_says_how_to_read_avro() -> None:
    items, dead = parse_records([raw(avro_framed(record(1)))], Settings(), NOW)
    assert items == [] and dead[0].reason_code == "bad_json"
    assert "FINSENTRY_SCHEMA_REGISTRY_URL" in dead[0].reason


@pytest.mark.parametrize("status", [500, 401])
def test_a_registry_that_fails_stops_the_batch(schema_registry: Registry, status: int) -> None:
    schema_registry.status = status
    settings = Settings(schema_registry_url=schema_registry.url, schema_registry_password="s3cret")
    with pytest.raises(RegistryUnavailable, match=f"HTTP {status}") as caught:
        parse_records([raw(avro_framed(record(1, id=f"fail-{status}")), 0)], settings, NOW)
    assert "s3cret" not in str(caught.value)


def test_an_unreachable_registry_stops_the_batch(schema_registry: Registry) -> None:
    url = schema_registry.url.replace("http://", "http://svc:s3cret@")  # a login in the URL
    schema_registry.stop()
    with pytest.raises(RegistryUnavailable, match="cannot be reached") as caught:
        parse_records([raw(avro_framed(record(1)))], Settings(schema_registry_url=url), NOW)
    assert "s3cret" not in str(caught.value) and "svc" not in str(caught.value)


def test_the_registry_url_is_checked() -> None:
    with pytest.raises(ValueError, match="schema registry URL"):
        Settings(schema_registry_url="registry:8081")


def test_a_login_in_the_registry_url_is_used_and_never_shown(schema_registry: Registry) -> None:
    url = schema_registry.url.replace("http://", "http://svc:p%40ss@")
    items, dead = parse_records([raw(avro_framed(record(5)))], Settings(schema_registry_url=url), NOW)
    assert dead == [] and items[0].id == "avro-5"
    token = base64.b64encode(b"svc:p@ss").decode()
    assert schema_registry.requests[-1] == ("/schemas/ids/1", f"Basic {token}")
