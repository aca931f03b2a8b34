"""The alert engine's in-memory window history, kept in step with the store.

The first evaluation loads the windows the detectors look back on (``baseline_days`` for the all
scope, one history of ``history_windows`` plus the longest span for the others) with one range
query. Later evaluations read only the windows from the previous end on (plus two windows, for
writers the pipeline does not see) and the older windows that late items touched: the pipeline
reports each batch's items with :meth:`WindowHistory.note_items`. Windows older than what the
detectors read are dropped, so memory and the cost of one evaluation stay flat however long the
store's history grows. The store stays the truth: what is held is always a copy of its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from finsentry.aggregate import window_start
from finsentry.detectors.base import DetectorConfig
from finsentry.detectors.history import History
from finsentry.schema import ScopeKind, ScoredItem
from finsentry.store.base import Store

__all__ = ["WindowHistory"]

REFRESH_WINDOWS = 2


class WindowHistory:
    """Window statistics of the watched scopes, loaded once and then updated by range."""

    def __init__(
        self, store: Store, size_s: int, config: DetectorConfig, scopes: Sequence[ScopeKind]
    ) -> None:
        self.store = store
        self.size_s = size_s
        self.step = timedelta(seconds=size_s)
        self.config = config
        self.scopes = frozenset(scopes)
        self.history: History | None = None
        self.loaded_until: datetime | None = None
        self.dirty_from: datetime | None = None

    def lookback(self) -> timedelta:
        """How far before the first window to evaluate the all scope's history reaches."""
        days = max(1, self.config.baseline_days)
        return timedelta(days=days) + (self.config.longest_span + 2) * self.step

    def keep(self) -> timedelta:
        """How far back the other scopes' history reaches."""
        cfg = self.config
        windows = cfg.history_windows + cfg.longest_span + cfg.trailing_windows + 2
        return windows * self.step

    def note_items(self, items: Sequence[ScoredItem]) -> None:
        """Items just stored: any dated before what is loaded marks their windows for re-reading."""
        if items:
            self.note_since(min(item.published_at for item in items))

    def note_since(self, earliest: datetime) -> None:
        """Windows from ``earliest`` on changed (another worker wrote there): re-read them."""
        if self.loaded_until is not None and earliest < self.loaded_until:
            self.dirty_from = (
                earliest if self.dirty_from is None else min(self.dirty_from, earliest)
            )

    def sync(self, origin: datetime, next_start: datetime, end_bound: datetime) -> History:
        """The history for evaluating windows ``next_start <= start < end_bound``."""
        full_from = max(origin, next_start - self.lookback())
        history = self.history
        if (
            history is None
            or history.origin != origin
            or self.loaded_until is None
            or self.loaded_until < full_from
            or self.loaded_until > end_bound
        ):
            history = History(self.size_s, origin, self.config.history_windows)
            self._read(history, full_from, end_bound)
        else:
            since = self.loaded_until - REFRESH_WINDOWS * self.step
            if self.dirty_from is not None:
                since = min(since, window_start(self.dirty_from, self.size_s))
            self._read(history, max(since, full_from), end_bound)
        history.prune(next_start - self.keep(), full_from)
        self.history, self.loaded_until, self.dirty_from = history, end_bound, None
        return history

    def _read(self, history: History, first: datetime, end: datetime) -> None:
        if first >= end:
            return
        stats = [
            s
            for s in self.store.window_stats(self.size_s, first, end)
            if s.scope_kind in self.scopes
        ]
        history.replace(stats, first, end)
