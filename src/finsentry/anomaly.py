"""Anomaly detectors over window series: each gives a score, a separate rule decides.

A detector reads one scope's window series (a :class:`ScopeSeries`: sparse, a missing window is an
empty one) and scores the window that ends a *span* of one or more windows:

- :class:`VolumeSpikeDetector` - items in the span against the level expected at that time of day
  (the same slot on past days when ``baseline_days`` give enough of them, else a trailing robust
  baseline of recent windows). The score is a z-score whose variance is the larger of the robust
  spread of the baseline and the Poisson variance of the expected count; the decision also needs the
  Poisson tail probability of the count to be tiny, so a scope that usually sees 0-2 items per window
  cannot fire on 3 or 4.
- :class:`NegativeSurgeDetector` - the negative share against the scope's baseline share
  (binomial z and tail, needs ``min_support`` items) and the number of negative items against the
  expected number (Poisson, as for volume, and at least ``min_negatives``).
- :class:`LevelShiftDetector` - a one-sided CUSUM on the window mean score (down) over the last
  windows, standardised by the baseline's per-item spread.

Baselines never learn from anomalies: past windows that are outliers against their own
neighbourhood (a Hampel filter: beyond median + k * spread) are left out before the expected level
is estimated, so a spike yesterday does not raise today's bar. Scores depend only on the window
series, never on arrival order or on what was decided before: a replay gives the same scores.

Thresholds (``Settings``): ``volume_threshold`` (z, default 6), ``tone_threshold`` (z, default 4),
``min_support`` (items for a share test, default 8), ``baseline_days`` (days of seasonal history,
default 7). The Poisson tail bound ``DetectorConfig.max_tail_p`` (1e-6) and the floors of the expected
rate (``min_rate``, ``min_negative_rate``) keep sparse scopes quiet.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from finsentry.schema import WindowStat

__all__ = [
    "DetectorConfig",
    "LevelShiftDetector",
    "NegativeSurgeDetector",
    "Score",
    "ScopeSeries",
    "VolumeSpikeDetector",
    "binomial_sf",
    "poisson_sf",
    "robust_baseline",
]

MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Detector parameters; :meth:`from_settings` maps the documented settings onto it."""

    volume_threshold: float = 6.0
    tone_threshold: float = 4.0
    min_support: int = 8
    baseline_days: int = 7
    warmup_windows: int = 6  # windows of history (any scope) before anything is decided
    trailing_windows: int = 36  # trailing baseline length (3 h of 5-min windows)
    min_seasonal_days: int = 3  # past days with the same slot before the seasonal baseline is used
    max_tail_p: float = 1e-6  # Poisson tail probability a count must be below to fire
    min_rate: float = 0.5  # floor of the expected items per window (Poisson-aware)
    min_negative_rate: float = 0.25  # floor of the expected negative items per window
    min_negatives: int = 5  # fewest negative items for a count-based tone alert
    hampel_k: float = 4.0  # past points beyond median + k * spread are ignored by baselines
    cusum_windows: int = 6  # windows the CUSUM runs over
    cusum_k: float = 0.5  # CUSUM slack (in baseline sd)
    cusum_h: float = 10.0  # CUSUM decision level
    cusum_min_items: int = 40  # items over the CUSUM windows before it may fire

    @classmethod
    def from_settings(cls, settings: object) -> DetectorConfig:
        """Read ``volume_threshold``, ``tone_threshold``, ``min_support``, ``baseline_days``."""
        values = {
            name: getattr(settings, name)
            for name in ("volume_threshold", "tone_threshold", "min_support", "baseline_days")
            if hasattr(settings, name)
        }
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Score:
    """What a detector says about one window of one scope; a rule decides what to do with it."""

    metric: str
    value: float  # the anomaly score (z-like; higher = more anomalous)
    observed: float
    expected: float
    support: int  # items in the span
    span: int  # windows the observation covers (ending at the scored window)
    tail_p: float = 1.0  # Poisson tail probability of the observation, where it applies
    baseline: str = "trailing"  # seasonal | trailing | none


class ScopeSeries:
    """One scope's windows of one size. Sparse: a window without a statistic held no items.

    ``origin`` is the start of the first window the store knows about in any scope (the start of
    history): windows before it are unknown, not empty. Internally windows are numbered (epoch
    seconds // size) so the detectors' many look-ups stay cheap; the public methods take starts.
    """

    def __init__(self, size_s: int, stats: Iterable[WindowStat], origin: datetime) -> None:
        self.size_s = size_s
        self.step = timedelta(seconds=size_s)
        self.origin = origin
        self.origin_index = self.index(origin)
        self.stats: dict[int, WindowStat] = {self.index(s.start): s for s in stats}
        self._baselines: dict[tuple[int, int, str], tuple[list[float], str]] = {}

    def index(self, start: datetime) -> int:
        return int(start.timestamp()) // self.size_s

    def get(self, start: datetime) -> WindowStat | None:
        return self.stats.get(self.index(start))

    def known(self, start: datetime) -> bool:
        return start >= self.origin

    def count(self, start: datetime) -> int:
        stat = self.stats.get(self.index(start))
        return stat.count if stat else 0

    def span_sum(self, end_start: datetime, span: int, attr: str = "count") -> float:
        """Sum of ``attr`` over ``span`` windows ending with the one starting at ``end_start``."""
        return self.span_sum_at(self.index(end_start), span, attr)

    def span_sum_at(self, end_index: int, span: int, attr: str = "count") -> float:
        total = 0.0
        stats = self.stats
        for i in range(end_index - span + 1, end_index + 1):
            stat = stats.get(i)
            if stat is not None:
                total += float(getattr(stat, attr))
        return total

    def history_windows(self, before: datetime) -> int:
        """Known windows strictly before ``before``."""
        return max(0, self.index(before) - self.origin_index)


def poisson_sf(k: float, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam); exact summation of the upper tail (k rounded up)."""
    k_int = math.ceil(k)
    if k_int <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    if k_int <= lam:
        # the lower tail is the small one: 1 - P(X <= k-1)
        term = math.exp(-lam)
        cdf = term
        for i in range(1, k_int):
            term *= lam / i
            cdf += term
        return max(0.0, 1.0 - cdf)
    log_term = -lam + k_int * math.log(lam) - math.lgamma(k_int + 1)
    term = math.exp(log_term)
    total = term
    i = k_int
    while term > total * 1e-12 and i < k_int + 10_000:
        i += 1
        term *= lam / i
        total += term
    return min(1.0, total)


@functools.lru_cache(maxsize=256)
def poisson_min_count(lam: float, max_tail_p: float) -> int:
    """The smallest count k with P(X >= k) <= ``max_tail_p`` for X ~ Poisson(lam)."""
    k = max(0, math.floor(lam))
    while poisson_sf(k, lam) > max_tail_p:
        k += 1
    return k


def binomial_sf(k: float, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), by summing the upper tail."""
    k_int = math.ceil(k)
    if k_int <= 0:
        return 1.0
    if k_int > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k_int, n + 1):
        log_c = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        total += math.exp(log_c + i * log_p + (n - i) * log_q)
    return min(1.0, total)


def robust_baseline(values: Sequence[float], k: float) -> tuple[float, float, int]:
    """(mean, sd) of ``values`` after a Hampel filter drops points beyond median + k * spread.

    The spread is the MAD scaled to a standard deviation, but at least sqrt(median) and 1 so a
    sparse count series (mostly zeros, MAD 0) does not throw away every non-zero point. Returns
    the mean, the robust sd of what is kept, and how many points were kept.
    """
    if not values:
        return 0.0, 0.0, 0
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values) * MAD_TO_SD
    spread = max(mad, math.sqrt(max(med, 0.0)), 1.0)
    kept = [v for v in values if abs(v - med) < k * spread]
    mean = statistics.fmean(kept)
    kmed = statistics.median(kept)
    sd = statistics.median(abs(v - kmed) for v in kept) * MAD_TO_SD
    if len(kept) >= 8:
        sd = max(sd, statistics.pstdev(kept))
    return mean, sd, len(kept)


def _baseline_values(
    series: ScopeSeries, start: datetime, span: int, attr: str, config: DetectorConfig
) -> tuple[list[float], str]:
    """Past span sums of ``attr`` for the slot ending at ``start``: seasonal, else trailing."""
    end = series.index(start)
    key = (end, span, attr)
    cached = series._baselines.get(key)
    if cached is not None:
        return cached
    origin = series.origin_index
    per_day = 86400 // series.size_s
    seasonal: list[float] = []
    days_found = 0
    for d in range(1, config.baseline_days + 1):
        found = False
        for offset in (-1, 0, 1):
            slot = end - d * per_day + offset
            if slot - (span - 1) >= origin:
                seasonal.append(series.span_sum_at(slot, span, attr))
                found = True
        days_found += found
    if days_found >= config.min_seasonal_days and per_day > 1:
        result = (seasonal, "seasonal")
    else:
        trailing: list[float] = []
        first = end - span  # the span before the one being scored
        for i in range(config.trailing_windows):
            slot = first - i
            if slot - (span - 1) < origin:
                break
            trailing.append(series.span_sum_at(slot, span, attr))
        result = (trailing, "trailing")
    series._baselines[key] = result
    return result


class VolumeSpikeDetector:
    """Items in a span of windows against the expected level at that time."""

    metric = "count"

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def score(self, series: ScopeSeries, start: datetime, span: int = 1) -> Score | None:
        """Score the span of ``span`` windows ending at ``start``; None during warm-up."""
        cfg = self.config
        if series.history_windows(start - (span - 1) * series.step) < cfg.warmup_windows:
            return None
        observed = series.span_sum(start, span)
        values, kind = _baseline_values(series, start, span, "count", cfg)
        if not values:
            return None
        mean, sd, _ = robust_baseline(values, cfg.hampel_k)
        lam = max(mean, cfg.min_rate * span)
        z = (observed - mean) / math.sqrt(sd * sd + lam)
        return Score(
            metric=self.metric,
            value=z,
            observed=observed,
            expected=mean,
            support=int(observed),
            span=span,
            tail_p=poisson_sf(observed, lam + sd * sd),
            baseline=kind,
        )

    def decide(self, score: Score) -> bool:
        return (
            score.value >= self.config.volume_threshold and score.tail_p <= self.config.max_tail_p
        )

    def can_fire(self, series: ScopeSeries, start: datetime, span: int = 1) -> bool:
        """Cheap necessary condition: the count is unlikely even at the floor rate."""
        cfg = self.config
        needed = poisson_min_count(cfg.min_rate * span, cfg.max_tail_p)
        return series.span_sum(start, span) >= needed


class NegativeSurgeDetector:
    """Negative share (with minimum support) and negative count against the scope's baseline."""

    metric = "negative_share"

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def score(self, series: ScopeSeries, start: datetime, span: int = 1) -> Score | None:
        cfg = self.config
        if series.history_windows(start - (span - 1) * series.step) < cfg.warmup_windows:
            return None
        n = series.span_sum(start, span, "count")
        neg = series.span_sum(start, span, "negative")
        if n <= 0:
            return None
        # per-window baselines that end before the first window of the span being scored
        first = start - (span - 1) * series.step
        counts, kind = _baseline_values(series, first, 1, "count", cfg)
        negs, _ = _baseline_values(series, first, 1, "negative", cfg)
        total_n = sum(counts)
        # baseline share, shrunk towards a neutral prior (1/3) when the scope has little history
        prior_weight = 10.0
        p0 = (sum(negs) + prior_weight / 3.0) / (total_n + prior_weight)
        p0 = min(max(p0, 0.05), 0.95)
        share = neg / n
        z_share, share_tail = 0.0, 1.0
        if n >= cfg.min_support:
            z_share = (neg - n * p0) / math.sqrt(n * p0 * (1.0 - p0))
            share_tail = binomial_sf(neg, int(n), p0)
        neg_mean, neg_sd, _ = robust_baseline(negs, cfg.hampel_k) if negs else (0.0, 0.0, 0)
        lam = max(neg_mean * span, cfg.min_negative_rate * span)
        var = neg_sd * neg_sd * span + lam
        z_count = (neg - neg_mean * span) / math.sqrt(var)
        count_tail = poisson_sf(neg, var) if neg >= cfg.min_negatives else 1.0
        tail = min(share_tail, count_tail)
        return Score(
            metric=self.metric,
            value=max(z_share, z_count),
            observed=share,
            expected=p0,
            support=int(n),
            span=span,
            tail_p=tail,
            baseline=kind,
        )

    def can_fire(self, series: ScopeSeries, start: datetime, span: int = 1) -> bool:
        """Cheap necessary condition: enough negatives to be unlikely at the floor rates."""
        cfg = self.config
        neg = series.span_sum(start, span, "negative")
        if neg < cfg.min_negatives and series.span_sum(start, span) < cfg.min_support:
            return False
        n = int(series.span_sum(start, span))
        by_count = neg >= poisson_min_count(cfg.min_negative_rate * span, cfg.max_tail_p)
        by_share = n >= cfg.min_support and binomial_sf(neg, n, 0.05) <= cfg.max_tail_p
        return by_count or by_share

    def decide(self, score: Score) -> bool:
        cfg = self.config
        return (
            score.value >= cfg.tone_threshold
            and score.observed > score.expected
            and score.tail_p <= cfg.max_tail_p
        )


class LevelShiftDetector:
    """One-sided CUSUM (downward) of the window mean score over the last ``cusum_windows``."""

    metric = "mean_score"

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def score(self, series: ScopeSeries, start: datetime, span: int = 1) -> Score | None:
        cfg = self.config
        first = series.index(start) - (cfg.cusum_windows - 1)
        if first - series.origin_index < max(cfg.warmup_windows, 2 * cfg.cusum_windows):
            return None
        # baseline: windows before the CUSUM run, item-weighted mean and per-item variance
        ref: list[WindowStat] = []
        for slot in range(
            first - 1, max(first - cfg.trailing_windows, series.origin_index) - 1, -1
        ):
            stat = series.stats.get(slot)
            if stat is not None and stat.count > 0:
                ref.append(stat)
        ref_n = sum(s.count for s in ref)
        if ref_n < cfg.cusum_min_items:
            return None
        mu = sum(s.score_sum for s in ref) / ref_n
        var = sum(s.count * (s.mean_score - mu) ** 2 for s in ref) / max(len(ref) - 1, 1)
        sigma = max(math.sqrt(var), 0.1)
        cusum = 0.0
        items = 0
        total = 0.0
        for i in range(cfg.cusum_windows):
            stat = series.stats.get(first + i)
            if stat is None or stat.count == 0:
                cusum = max(0.0, cusum - cfg.cusum_k)
                continue
            items += stat.count
            total += stat.score_sum
            z = (mu - stat.mean_score) * math.sqrt(stat.count) / sigma
            cusum = max(0.0, cusum + z - cfg.cusum_k)
        if items == 0:
            return None
        return Score(
            metric=self.metric,
            value=cusum,
            observed=total / items,
            expected=mu,
            support=items,
            span=cfg.cusum_windows,
            baseline="trailing",
        )

    def decide(self, score: Score) -> bool:
        return score.value >= self.config.cusum_h and score.support >= self.config.cusum_min_items


def best_score(
    detector: VolumeSpikeDetector | NegativeSurgeDetector,
    series: ScopeSeries,
    start: datetime,
    spans: Sequence[int] = (1, 2),
) -> Score | None:
    """The most anomalous of the spans ending at ``start`` that the detector would fire on, else
    the highest-scoring one (so a burst spread over two windows is caught in the second)."""
    scores = [s for s in (detector.score(series, start, span) for span in spans) if s is not None]
    if not scores:
        return None
    firing = [s for s in scores if detector.decide(s)]
    pool = firing or scores
    return max(pool, key=lambda s: (s.value, -s.span))


def series_by_scope(
    stats: Iterable[WindowStat], size_s: int, origin: datetime
) -> Mapping[tuple[str, str], ScopeSeries]:
    """Group window statistics of one size into per-scope series."""
    grouped: dict[tuple[str, str], list[WindowStat]] = {}
    for stat in stats:
        if stat.size_s == size_s:
            grouped.setdefault((str(stat.scope_kind), stat.scope_value), []).append(stat)
    return {key: ScopeSeries(size_s, values, origin) for key, values in grouped.items()}
