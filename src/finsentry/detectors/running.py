"""Running totals of one scope's window series, kept up to date as its windows change.

A batch changes the last few windows of a series (new windows, and older ones that late items
touched); the totals are recomputed from the first changed window on, and the windows ordered by
count are moved one by one, so keeping them costs what the batch changed, not the days held.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence

from finsentry.schema import WindowStat

__all__ = ["SeriesTotals"]

Change = tuple[int, WindowStat]  # (window number, its statistic)


class SeriesTotals:
    """Items and negative items before each window from the series' first window on, and its
    windows ordered by count: any range's sums in O(1), and its capped sums (see
    :func:`finsentry.detectors.history.capped_history`) by visiting only the windows above the
    cap."""

    __slots__ = ("by_count", "counts", "hi", "lo", "negatives")

    def __init__(self, stats: Mapping[int, WindowStat]) -> None:
        self.lo = min(stats)
        self.hi = self.lo - 1
        self.counts, self.negatives = [0], [0]
        self._extend(stats, max(stats))
        self.by_count = sorted((s.count, i, s.negative) for i, s in stats.items())  # ascending

    def _extend(self, stats: Mapping[int, WindowStat], hi: int) -> None:
        """Append the totals of windows ``self.hi + 1 .. hi``."""
        counts, negatives, get = self.counts, self.negatives, stats.get
        n, neg = counts[-1], negatives[-1]
        for i in range(self.hi + 1, hi + 1):
            stat = get(i)
            if stat is not None:
                n += stat.count
                neg += stat.negative
            counts.append(n)
            negatives.append(neg)
        self.hi = max(self.hi, hi)

    def update(
        self, stats: Mapping[int, WindowStat], removed: Sequence[Change], added: Sequence[Change]
    ) -> bool:
        """The series (``stats``, already changed) lost ``removed`` and gained ``added``.
        False when the totals must be rebuilt instead (a window before the first one)."""
        changed = [i for i, _ in removed] + [i for i, _ in added]
        if not changed:
            return True
        if min(changed) < self.lo:
            return False
        start, hi = min(min(changed), self.hi + 1), max(max(changed), self.hi)
        del self.counts[start - self.lo + 1 :]
        del self.negatives[start - self.lo + 1 :]
        self.hi = start - 1
        self._extend(stats, hi)
        for i, stat in removed:
            entry = (stat.count, i, stat.negative)
            at = bisect_left(self.by_count, entry)
            if at < len(self.by_count) and self.by_count[at] == entry:
                del self.by_count[at]
        for i, stat in added:
            insort(self.by_count, (stat.count, i, stat.negative))
        return True

    def drop_before(self, cut: int) -> None:
        """Forget the windows before ``cut`` (pruned): the totals then start at ``cut``."""
        if cut <= self.lo:
            return
        drop = min(cut, self.hi + 1) - self.lo
        del self.counts[:drop]
        del self.negatives[:drop]
        self.lo = cut
        self.hi = max(self.hi, cut - 1)
        if len(self.counts) == 1:  # nothing held from the cut on
            self.counts, self.negatives = [0], [0]
        self.by_count = [entry for entry in self.by_count if entry[1] >= cut]

    def sum(self, totals: list[int], first: int, last: int) -> int:
        """The sum over windows ``first..last`` of the running ``totals`` given."""
        first, last = max(first, self.lo), min(last, self.hi)
        if last < first:
            return 0
        return totals[last - self.lo + 1] - totals[first - self.lo]

    def capped(self, first: int, last: int, cap_factor: float) -> tuple[float, float]:
        """(items, negatives) in windows ``first..last``, no window counting for more than
        ``cap_factor`` times the mean (at least 2)."""
        windows = last - first + 1
        if windows <= 0:
            return 0.0, 0.0
        n = self.sum(self.counts, first, last)
        cap = max(2.0, math.ceil(cap_factor * (n / windows)))
        neg, scaled = self.sum(self.negatives, first, last), 0.0
        items = float(n)
        for count, i, negative in reversed(self.by_count):
            if count <= cap:
                break
            if first <= i <= last:
                items -= count - cap
                neg -= negative
                scaled += negative * (cap / count)
        return items, neg + scaled
