"""Re-aggregation: rebuild window statistics from the stored items, from a time on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from finsentry.aggregate import window_deltas, window_start
from finsentry.schema import ScoredItem, WindowKey, WindowStat
from finsentry.store.columns import items_select
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.retention import RETENTION_KEY
from finsentry.store.rows import window_values
from finsentry.store.state import state_time


def reaggregate_starts(
    since: datetime, sizes: Sequence[int], retained_from: datetime | None
) -> dict[int, datetime]:
    """Per window size, the first window start to rebuild from ``since`` on.

    Windows that begin before ``retained_from`` (raw items deleted by retention) are never rebuilt:
    their items are gone, so their stored statistics are the only record.
    """
    if not sizes:
        raise ValueError("no window sizes to re-aggregate")
    if retained_from is not None and since < retained_from:
        raise ValueError(
            f"raw items before {retained_from.isoformat()} were deleted by retention; "
            f"re-aggregate --since {retained_from.isoformat()} or later"
        )
    starts: dict[int, datetime] = {}
    for size in sorted(set(sizes)):
        start = window_start(since, size)
        if retained_from is not None and start < retained_from:
            start += timedelta(seconds=size)
        starts[size] = start
    return starts


class WindowFolder:
    """Folds stored items, chunk by chunk, into the windows that :func:`reaggregate_starts` chose."""

    def __init__(self, starts: dict[int, datetime]) -> None:
        self.starts = starts
        self._acc: dict[WindowKey, WindowStat] = {}

    def add(self, items: Sequence[ScoredItem]) -> None:
        for size, start in self.starts.items():
            chosen = [i for i in items if i.published_at >= start]
            for stat in window_deltas(chosen, [size]):
                prev = self._acc.get(stat.key)
                self._acc[stat.key] = stat if prev is None else prev.merge(stat)

    def stats(self) -> list[WindowStat]:
        return sorted(
            self._acc.values(), key=lambda s: (s.size_s, s.start, str(s.scope_kind), s.scope_value)
        )


def rebuild_windows(
    dialect: Dialect,
    since: datetime,
    window_sizes_s: Sequence[int],
    progress: Callable[[int], object] | None = None,
) -> int:
    """Delete and rebuild the windows from ``since`` on, in one transaction; writers wait for it
    and then add their deltas on top. Returns the number of windows written. ``progress`` is
    called with the number of items of each chunk folded in."""

    def work(tx: Transaction) -> int:
        tx.lock_windows()
        marker = state_time(tx, dialect, RETENTION_KEY)
        starts = reaggregate_starts(since, window_sizes_s, marker)
        for size, start in starts.items():
            tx.execute(
                "DELETE FROM window_stats WHERE window_size_s = ? AND window_start >= ?",
                (size, dialect.ts_in(start)),
            )
        folder = WindowFolder(starts)
        sql = (
            f"SELECT {items_select()} FROM items WHERE published_at >= ? "  # nosec B608
            "ORDER BY published_at, id"
        )
        for rows in tx.stream(sql, (dialect.ts_in(min(starts.values())),)):
            folder.add([dialect.scored(r) for r in rows])
            if progress is not None:
                progress(len(rows))
        stats = folder.stats()
        if stats:
            tx.upsert_windows([window_values(s) for s in stats])
        return len(stats)

    return dialect.transact(work, "re-aggregation")
