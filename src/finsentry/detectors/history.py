"""Per-scope window history the detectors read, held in memory and updated incrementally.

:class:`History` holds the window statistics of one size for every scope the detectors watch. The
alert engine loads it from the store once, then replaces only the windows a batch touched (new
windows, and older ones that late items changed), and drops windows older than the detectors look
back. So the cost of detecting one window does not grow with the length of the history.

A scope's series is sparse: a window without a statistic held no items. ``origin`` is the start of
the first window the store knows in any scope: windows before it are unknown, not empty.

:meth:`History.prior` gives the empirical-Bayes priors of a scope kind (see
:class:`CrossSection`), computed from the cross-section of comparable scopes once per hour of
event time, so every scope borrows strength from its peers while its own history is short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from finsentry.detectors.running import Change, SeriesTotals
from finsentry.schema import ScopeKind, WindowStat

__all__ = [
    "ALL_KEY", "CrossSection", "History", "ScopeKey", "ScopeSeries", "SeriesTotals",
    "capped_history", "window_sum",
]  # fmt: skip

ScopeKey = tuple[str, str]
ALL_KEY: ScopeKey = (str(ScopeKind.ALL), "*")
PRIOR_PERIOD = 12  # windows between two computations of the cross-section priors


class ScopeSeries:
    """One scope's windows of one size, numbered (epoch seconds // size)."""

    def __init__(self, size_s: int, origin_index: int, stats: Iterable[WindowStat] = ()) -> None:
        self.size_s = size_s
        self.step = timedelta(seconds=size_s)
        self.origin_index = origin_index
        self.stats: dict[int, WindowStat] = {}
        self.totals: SeriesTotals | None = None  # built on first use, then kept up to date
        for stat in stats:
            self.stats[self.index(stat.start)] = stat

    def pop_range(self, lo: int, hi: int) -> list[Change]:
        """Remove and return the windows ``lo <= i < hi``."""
        stats = self.stats
        if hi - lo < len(stats):
            found = [(i, stats.pop(i)) for i in range(lo, hi) if i in stats]
        else:
            found = [(i, stats.pop(i)) for i in sorted(i for i in stats if lo <= i < hi)]
        return found

    def index(self, start: datetime) -> int:
        return int(start.timestamp()) // self.size_s

    def get(self, start: datetime) -> WindowStat | None:
        return self.stats.get(self.index(start))

    def known(self, start: datetime) -> bool:
        return self.index(start) >= self.origin_index

    def span_sum_at(self, end_index: int, span: int, attr: str = "count") -> float:
        """Sum of ``attr`` over ``span`` windows ending with window ``end_index``."""
        total = 0.0
        stats = self.stats
        for i in range(end_index - span + 1, end_index + 1):
            stat = stats.get(i)
            if stat is not None:
                total += float(getattr(stat, attr))
        return total

    def span_sum(self, end_start: datetime, span: int, attr: str = "count") -> float:
        return self.span_sum_at(self.index(end_start), span, attr)


@dataclass(frozen=True, slots=True)
class CrossSection:
    """Empirical-Bayes priors of one scope kind, fitted over its scopes by the method of moments.

    - rate: a scope's items per item of the other flow (everything else) ~ Gamma(rate_shape,
      rate_scale_items): mean ``rate_shape / rate_scale_items``; ``rate_scale_items`` is the prior's
      weight in items of other flow;
    - negative share ~ Beta(neg_alpha, neg_beta).
    """

    rate_shape: float
    rate_scale_items: float
    neg_alpha: float
    neg_beta: float


DEFAULT_PRIOR = CrossSection(rate_shape=0.2, rate_scale_items=2.0, neg_alpha=1.0, neg_beta=2.0)


def fit_cross_section(
    rows: list[tuple[float, float]], flow: float, max_weight: float
) -> CrossSection:
    """Priors from (items, negatives) per scope over a history with ``flow`` items in all.

    The spread of the rates across scopes, less the Poisson noise of their counts, sets how much a
    scope's own history outweighs the prior; ``max_weight`` (items) caps the prior's weight.
    """
    if len(rows) < 3 or flow <= 0:
        return DEFAULT_PRIOR
    rates = [n / flow for n, _ in rows]
    mean = sum(rates) / len(rates)
    var = sum((r - mean) ** 2 for r in rates) / (len(rates) - 1) - mean / flow
    var = max(var, mean * mean / 50.0)
    scale = min(mean / var, max_weight)  # Gamma rate parameter, in items of other flow
    shape = max(mean * scale, 1e-3)
    counted = [(n, k) for n, k in rows if n >= 1]
    total_n = sum(n for n, _ in counted)
    share = (sum(k for _, k in counted) + 1.0) / (total_n + 3.0)
    shares = [k / n for n, k in counted if n >= 5]
    weight = max_weight / 10.0
    if len(shares) >= 3:
        s_var = sum((s - share) ** 2 for s in shares) / (len(shares) - 1)
        noise = share * (1 - share) * sum(1.0 / n for n, _ in counted if n >= 5) / len(shares)
        s_var = max(s_var - noise, share * (1 - share) / weight)
        weight = min(max(share * (1 - share) / s_var - 1.0, 2.0), weight)
    return CrossSection(shape, scale, share * weight, (1 - share) * weight)


class History:
    """Window series of every watched scope, of one window size, in memory."""

    def __init__(self, size_s: int, origin: datetime, history_windows: int) -> None:
        self.size_s = size_s
        self.step = timedelta(seconds=size_s)
        self.origin = origin
        self.origin_index = int(origin.timestamp()) // size_s
        self.history_windows = history_windows
        self.scopes: dict[ScopeKey, ScopeSeries] = {}
        self._priors: dict[tuple[str, int], CrossSection] = {}
        # per-window results the detectors share (history sums), dropped whenever data changes
        self.memo: dict[tuple[object, ...], object] = {}
        self._pruned = -PRIOR_PERIOD
        self._cuts = (self.origin_index, self.origin_index)  # (all scope, others): held from

    def index(self, start: datetime) -> int:
        return int(start.timestamp()) // self.size_s

    def start_of(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.size_s, tz=self.origin.tzinfo)

    def series(self, key: ScopeKey) -> ScopeSeries | None:
        return self.scopes.get(key)

    @property
    def all(self) -> ScopeSeries:
        found = self.scopes.get(ALL_KEY)
        if found is None:
            found = self.scopes[ALL_KEY] = ScopeSeries(self.size_s, self.origin_index)
        return found

    def replace(self, stats: Iterable[WindowStat], first: datetime, end: datetime) -> None:
        """The store's statistics for windows ``first <= start < end`` replace what is held."""
        lo, hi = self.index(first), self.index(end)
        self.memo.clear()
        removed = {key: series.pop_range(lo, hi) for key, series in self.scopes.items()}
        added: dict[ScopeKey, list[Change]] = {}
        for stat in stats:
            key = (str(stat.scope_kind), stat.scope_value)
            target = self.scopes.get(key)
            if target is None:
                target = self.scopes[key] = ScopeSeries(self.size_s, self.origin_index)
            i = self.index(stat.start)
            target.stats[i] = stat
            added.setdefault(key, []).append((i, stat))
        for key, series in self.scopes.items():
            totals = series.totals
            if totals is not None and not (
                series.stats
                and totals.update(series.stats, removed.get(key, ()), added.get(key, ()))
            ):
                series.totals = None
        stale = [k for k in self._priors if k[1] * PRIOR_PERIOD > lo]
        for k in stale:
            del self._priors[k]

    def prune(self, before: datetime, keep_all_from: datetime) -> None:
        """Drop windows before ``before`` (the all scope keeps more, for its daily baseline)."""
        cut, cut_all = self.index(before), self.index(keep_all_from)
        if cut // PRIOR_PERIOD == self._pruned // PRIOR_PERIOD:
            return  # at most once an hour of event time: a walk over everything held
        self._pruned = cut
        self._cuts = (max(cut_all, self.origin_index), max(cut, self.origin_index))
        self.memo.clear()
        for key in list(self.scopes):
            series = self.scopes[key]
            limit = cut_all if key == ALL_KEY else cut
            old = [i for i in series.stats if i < limit]
            for i in old:
                del series.stats[i]
            if old and series.totals is not None:
                series.totals.drop_before(limit)
            if not series.stats and key != ALL_KEY:
                del self.scopes[key]
        for k in [k for k in self._priors if k[1] * PRIOR_PERIOD < cut]:
            del self._priors[k]

    def held_from(self, key: ScopeKey) -> int:
        """The first window of ``key`` still held: before it the windows were pruned (or are
        before the origin), so they are unknown, not empty."""
        return self._cuts[0] if key == ALL_KEY else self._cuts[1]

    def other_flow(self, first: int, last: int, exclude: ScopeSeries) -> float:
        """Items of the all scope in windows ``first..last`` that are not in ``exclude``."""
        return self.flow(first, last) - self.count_sum(exclude, first, last)

    def flow(self, first: int, last: int) -> float:
        """Items of the all scope in windows ``first..last``."""
        return self.count_sum(self.all, first, last)

    def totals(self, series: ScopeSeries) -> SeriesTotals | None:
        """The running totals of ``series`` (built on first use, then updated by
        :meth:`replace` from what each batch changed); None for a series without windows."""
        if not series.stats:
            return None
        if series.totals is None:
            series.totals = SeriesTotals(series.stats)
        return series.totals

    def count_sum(self, series: ScopeSeries, first: int, last: int) -> float:
        """Items of ``series`` in windows ``first..last``, from its running totals (O(1) whatever
        the range; exact, counts are whole)."""
        totals = self.totals(series)
        return 0.0 if totals is None else float(totals.sum(totals.counts, first, last))

    def negative_sum(self, series: ScopeSeries, first: int, last: int) -> float:
        """Negative items of ``series`` in windows ``first..last`` (as :meth:`count_sum`)."""
        totals = self.totals(series)
        return 0.0 if totals is None else float(totals.sum(totals.negatives, first, last))

    def own_history(
        self, key: ScopeKey, first: int, last: int, cap_factor: float
    ) -> tuple[float, float, int, float]:
        """(items, negatives, windows, other flow) of a scope in windows ``first..last``, a past
        burst capped (:func:`capped_history`); remembered until the data changes."""
        memo_key = ("own", key, first, last, cap_factor)
        found = self.memo.get(memo_key)
        if found is None:
            series = self.scopes.get(key) or ScopeSeries(self.size_s, self.origin_index)
            totals = self.totals(series)
            windows = max(0, last - first + 1)
            n, neg = (0.0, 0.0) if totals is None else totals.capped(first, last, cap_factor)
            flow = self.other_flow(first, last, series) if last >= first else 0.0
            found = self.memo[memo_key] = (n, neg, windows, flow)
        return found  # type: ignore[return-value]

    def prior(self, kind: str, end_index: int, max_weight: float) -> CrossSection:
        """The cross-section priors of ``kind`` from the history before ``end_index``'s hour."""
        period = end_index // PRIOR_PERIOD
        key = (kind, period)
        found = self._priors.get(key)
        if found is not None:
            return found
        hi = period * PRIOR_PERIOD  # exclusive
        lo = max(hi - self.history_windows, self.origin_index)
        rows: list[tuple[float, float]] = []
        for (k, _), series in sorted(self.scopes.items()):
            totals = self.totals(series) if k == kind else None
            if totals is None:
                continue
            n = float(totals.sum(totals.counts, lo, hi - 1))  # whole numbers: exact
            if n > 0:
                rows.append((n, float(totals.sum(totals.negatives, lo, hi - 1))))
        found = fit_cross_section(rows, self.flow(lo, hi - 1), max_weight)
        self._priors[key] = found
        return found


def window_sum(series: ScopeSeries, first: int, last: int, attr: str = "count") -> float:
    """Sum of ``attr`` over windows ``first..last``, walking whichever is shorter: the range or
    the series' windows."""
    stats = series.stats
    total = 0.0
    if len(stats) < last - first + 1:
        for i in sorted(i for i in stats if first <= i <= last):
            total += float(getattr(stats[i], attr))
        return total
    for i in range(first, last + 1):
        stat = stats.get(i)
        if stat is not None:
            total += float(getattr(stat, attr))
    return total


def capped_history(
    series: ScopeSeries, first: int, last: int, cap_factor: float
) -> tuple[float, float, int]:
    """(items, negatives, windows) of ``series`` in windows ``first..last``, where no window
    counts for more than ``cap_factor`` times the mean (at least 2): a past burst does not raise
    the bar for the next one. By a walk over the windows: the detectors take the same sums from
    :meth:`~finsentry.detectors.running.SeriesTotals.capped`, and tests check the two agree."""
    windows = max(0, last - first + 1)
    if len(series.stats) < windows:
        picked = [series.stats[i] for i in sorted(i for i in series.stats if first <= i <= last)]
    else:
        picked = [s for s in map(series.stats.get, range(first, last + 1)) if s is not None]
    if not picked or windows == 0:
        return 0.0, 0.0, windows
    mean = sum(s.count for s in picked) / windows
    cap = max(2.0, math.ceil(cap_factor * mean))
    n = neg = 0.0
    for s in picked:
        if s.count > cap:
            scale = cap / s.count
            n += cap
            neg += s.negative * scale
        else:
            n += s.count
            neg += s.negative
    return n, neg, windows
