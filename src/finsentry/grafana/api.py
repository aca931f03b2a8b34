"""What every call to Grafana's HTTP API (grafana-client) shares: the client's type and reading an
object that may not exist."""

from __future__ import annotations

from typing import Any

from grafana_client.client import GrafanaClientError

# grafana-client's element methods carry no annotations: calls go through this alias.
Grafana = Any


def status_of(exc: GrafanaClientError) -> int:
    """The HTTP status of a refused request (0 when there was no response)."""
    return int(getattr(exc, "status_code", 0) or 0)


def get_or_none(call: Any, *args: Any) -> Any:
    """``call(*args)``, or None when Grafana answers 404 (the object does not exist yet)."""
    try:
        return call(*args)
    except GrafanaClientError as exc:
        if status_of(exc) == 404:
            return None
        raise
