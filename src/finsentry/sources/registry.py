"""Avro values from a Confluent Schema Registry.

Producers that use the registry's Avro serializer write a 0 byte, the schema's id (4 bytes, big
endian) and the record in Avro's binary encoding, which says nothing without its schema. With
``schema_registry_url`` set, the schema of each id is fetched once (``GET /schemas/ids/{id}``) and
kept; the record is decoded to the fields a JSON record would have.

What can go wrong, and what happens:

* the registry does not know the id (HTTP 404), or the bytes do not decode with the schema: that
  record is a dead letter (``bad_avro``), the stream goes on;
* the registry cannot be reached, or refuses us (a network error, HTTP 5xx, 401, 403):
  :class:`RegistryUnavailable` stops the batch before anything is stored or committed, so the
  records are read again once the registry is back; they are not dead-lettered for it.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.error
import urllib.request
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from finsentry.schema import as_utc

__all__ = ["RegistryUnavailable", "SchemaNotFound", "SchemaRegistry", "registry_for"]

TIMEOUT_S = 10.0
_ACCEPT = "application/vnd.schemaregistry.v1+json"


class RegistryUnavailable(RuntimeError):
    """The schema registry could not be asked; the message says what to check."""


class SchemaNotFound(ValueError):
    """The registry does not hold this schema id, or it is not an Avro schema."""


class SchemaRegistry:
    """Schemas by id from one registry, fetched once each; thread-safe."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None) -> None:
        parts = urlsplit(url.rstrip("/"))
        host = f"{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self.shown = f"{parts.scheme}://{host}"  # what errors name: never a login
        self.url = f"{self.shown}{parts.path}"
        if parts.username and not user:  # a login written in the URL
            user, password = unquote(parts.username), unquote(parts.password or "")
        self._auth = None
        if user:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
            self._auth = f"Basic {token}"
        self._schemas: dict[int, Any] = {}
        self._lock = threading.Lock()

    def decode(self, schema_id: int, payload: bytes) -> dict[str, Any]:
        """The record in ``payload`` as JSON-like fields; ValueError when the bytes do not fit
        the schema, :class:`SchemaNotFound` or :class:`RegistryUnavailable` as above."""
        try:
            from fastavro import schemaless_reader
        except ModuleNotFoundError:
            raise RegistryUnavailable(
                "Avro values need fastavro: pip install 'finsentry[kafka]'"
            ) from None
        parsed = self._schema(schema_id)
        try:
            value = schemaless_reader(io.BytesIO(payload), parsed, None)
        except (EOFError, IndexError, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"the schema's record is a {type(value).__name__}, not a record")
        return {str(k): _plain(v) for k, v in value.items()}

    def _schema(self, schema_id: int) -> Any:
        with self._lock:
            found = self._schemas.get(schema_id)
        if found is None:
            found = self._fetch(schema_id)
            with self._lock:
                self._schemas[schema_id] = found
        return found

    def _fetch(self, schema_id: int) -> Any:
        from fastavro import parse_schema

        request = urllib.request.Request(  # noqa: S310 - the configured registry's http(s) URL
            f"{self.url}/schemas/ids/{schema_id}", headers={"Accept": _ACCEPT}
        )
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310  # nosec B310
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise SchemaNotFound(f"schema id {schema_id} is not in the registry") from None
            hint = "check FINSENTRY_SCHEMA_REGISTRY_USER/PASSWORD" if exc.code in (401, 403) else ""
            raise RegistryUnavailable(
                f"the schema registry {self.shown} answered HTTP {exc.code} for schema id "
                f"{schema_id}{'; ' + hint if hint else ''}"
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryUnavailable(
                f"the schema registry {self.shown} cannot be reached "
                f"({getattr(exc, 'reason', None) or type(exc).__name__}); nothing of this batch "
                "was stored or committed: start again once it answers"
            ) from None
        kind = body.get("schemaType", "AVRO")
        if kind != "AVRO":
            raise SchemaNotFound(f"schema id {schema_id} is {kind}, not Avro")
        try:
            return parse_schema(json.loads(body["schema"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaNotFound(f"schema id {schema_id} is not a usable Avro schema ({exc})") from None


def _plain(value: Any) -> Any:
    """An Avro value as JSON would give it: times as ISO text, decimals as numbers."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_REGISTRIES: dict[tuple[str, str | None, str | None], SchemaRegistry] = {}


def registry_for(url: str, user: str | None, password: str | None) -> SchemaRegistry:
    """One client (and schema cache) per registry and login, for the process."""
    key = (url, user, password)
    found = _REGISTRIES.get(key)
    if found is None:
        found = _REGISTRIES[key] = SchemaRegistry(url, user, password)
    return found
