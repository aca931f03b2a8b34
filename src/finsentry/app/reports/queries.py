"""Reads the report needs beyond the store's protocol: models of a day, days that have data
(SQL through the store's dialect: :mod:`finsentry.store.reads`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from finsentry.schema import ScopeKind
from finsentry.store.base import Store
from finsentry.store.reads import sql_reads

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


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
