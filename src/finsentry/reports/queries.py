"""Reads the report needs beyond the store's protocol: models of a day, days that have data.

The SQL goes through the store's own dialect (``store.dialect``: ``query`` with ``?``
placeholders and ``ts_in`` for timestamps), so it runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from finsentry.schema import ScopeKind
from finsentry.store.base import Store

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class SQLReads(Protocol):
    """The part of a store's SQL dialect that reads."""

    def query(self, sql: str, params: Any = ()) -> list[Any]: ...

    def ts_in(self, value: datetime | None) -> Any: ...

    def ts_out(self, value: Any) -> datetime | None: ...

    def json_out(self, value: Any) -> Any: ...


def sql_reads(store: Store) -> SQLReads | None:
    """The store's SQL dialect, or None for a store without one."""
    dialect = getattr(store, "dialect", None)
    return cast(SQLReads, dialect) if dialect is not None and hasattr(dialect, "query") else None


def models_between(store: Store, start: datetime, end: datetime) -> list[tuple[str, int]]:
    """(model name@version, items it scored) for the items published in ``[start, end)``."""
    reads = sql_reads(store)
    if reads is None:
        return []
    rows = reads.query(
        "SELECT model, COUNT(*) FROM items WHERE published_at >= ? AND published_at < ? "
        "GROUP BY model ORDER BY COUNT(*) DESC, model",
        (reads.ts_in(start), reads.ts_in(end)),
    )
    return [(str(model), int(count)) for model, count in rows]


def days_with_data(store: Store, window_s: int) -> list[date]:
    """The UTC days that have news in the store, oldest first."""
    stats = store.window_stats(window_s, EARLIEST, LATEST, ScopeKind.ALL, "*")
    return sorted({s.start.date() for s in stats if s.count > 0})


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days folded into (first, last) ranges."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
