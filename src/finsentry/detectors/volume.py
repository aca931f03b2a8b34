"""Volume: more items about a scope in a span (5 to 90 minutes) than its rate explains.

Tickers and topics: the items of the scope in the span are compared with its *share of the flow*:
its items per item of everything else, estimated from its own recent history (``history_windows``
before the span, a past burst capped) with an empirical-Bayes Gamma prior fitted over the
comparable scopes (:meth:`History.prior`). The expected count is that share times the other items
in the span, so the daily rhythm and quiet hours need no model of their own. The rate's
uncertainty makes the predictive count negative binomial: a scope with little history (a new
ticker, the first hours of a store) needs more items to fire, a well-known quiet one fewer. Counts
are divided by ``dispersion`` (clusters of follow-up stories) and the expected rate has a floor of
``min_rate`` items a window.

The all scope: its own level at the same time on past days (``min_seasonal_days`` of them), else
its trailing ``trailing_windows``, Hampel-filtered, with the baseline's spread as extra variance.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import datetime

from finsentry.detectors.base import DetectorConfig, Score, span_text
from finsentry.detectors.history import ALL_KEY, History, ScopeKey, ScopeSeries
from finsentry.detectors.stats import nbinom_log_sf, z_of_log_p
from finsentry.schema import Alert

__all__ = ["VolumeDetector", "dominant", "floored", "flow_baseline", "robust_baseline", "span_flow"]

MAD_TO_SD = 1.4826


class VolumeDetector:
    """Items in a span against the scope's expected share of the flow (the all scope: its level)."""

    metric = "count"

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def score(self, history: History, key: ScopeKey, start: datetime, span: int) -> Score | None:
        series = history.series(key)
        if series is None:
            return None
        end = history.index(start)
        observed = history.count_sum(series, end - span + 1, end)
        if key == ALL_KEY or dominant(history, key, end, span, self.config):
            return self._score_all(history, key, series, end, span, observed)
        base = flow_baseline(history, key, series, end, span, self.config)
        if base is None:
            return None
        shape, rate, kind, usual = base
        cfg = self.config
        estimate = rate * span_flow(history, series, end, span, usual)
        mean, shape = floored(estimate, shape, cfg.min_rate * span)
        d = cfg.dispersion
        log_p = nbinom_log_sf(observed / d, shape, mean / d) if observed >= cfg.min_items else 0.0
        return Score(
            self.metric, z_of_log_p(log_p), observed, mean, int(observed), span,
            math.exp(log_p), kind,
        )  # fmt: skip

    def _score_all(
        self,
        history: History,
        key: ScopeKey,
        series: ScopeSeries,
        end: int,
        span: int,
        observed: float,
    ) -> Score | None:
        cfg = self.config
        if end - span + 1 - history.origin_index < cfg.warmup_windows:
            return None
        values, kind = _all_baseline(history, series, history.held_from(key), end, span, cfg)
        if not values:
            return None
        mean, sd, _ = robust_baseline(values, cfg.hampel_k)
        lam = max(mean, cfg.min_rate * span)
        shape = lam * lam / sd / sd if sd > 0 else math.inf
        log_p = nbinom_log_sf(observed, shape, lam)
        return Score(
            self.metric, z_of_log_p(log_p), observed, mean, int(observed), span,
            math.exp(log_p), kind,
        )  # fmt: skip

    def describe(self, alert: Alert) -> str:
        # a quiet ticker expects a few hundredths of an item in a short span: "0.04", not "0.0"
        digits = 1 if alert.expected >= 0.095 else 2
        return (
            f"{alert.observed:.0f} items in {span_text(alert)}, "
            f"expected {alert.expected:.{digits}f} in that span"
        )


def flow_baseline(
    history: History,
    key: ScopeKey,
    series: ScopeSeries,
    end: int,
    span: int,
    cfg: DetectorConfig,
    share: tuple[float, float] | None = None,
) -> tuple[float, float, str, float] | None:
    """(shape, rate per item of other flow, baseline kind, usual other items a window) of a scope
    before the span of ``span`` windows ending at ``end``: its capped history, plus the
    cross-section prior. With ``share`` (the mean and weight of a Beta posterior of the scope's
    negative share), the rate is of negative items: the rate of all its items times that share,
    the Gamma shape matched to the product's coefficient of variation, so a negative rate borrows
    the precision of the scope's whole volume and of the share's prior."""
    last = end - span
    first = max(last - history.history_windows + 1, history.origin_index)
    n_h, _, windows, flow = history.own_history(key, first, last, cfg.cap_factor)
    if flow + n_h < cfg.min_flow:
        return None
    usual = flow / windows if windows else 0.0
    prior = history.prior(key[0], end, cfg.prior_max_items)
    shape = prior.rate_shape + n_h
    rate = shape / (prior.rate_scale_items + max(flow, 0.0))
    if share is not None:
        mean, weight = share
        if mean <= 0:
            return None
        rate *= mean
        shape = 1.0 / (1.0 / shape + (1.0 - mean) / (mean * (weight + 1.0)))
    kind = "history" if n_h >= prior.rate_shape else "prior"
    return shape, rate, kind, usual


FLOW_PSEUDO_ITEMS = 10.0
DOMINANT_SHARE = 0.5


def dominant(history: History, key: ScopeKey, end: int, span: int, cfg: DetectorConfig) -> bool:
    """Whether a scope held at least half of all items before the span (a topic that is most of
    the news): the rest of the flow is then too thin to scale by, and the scope is scored on its
    own level, as the all scope is."""
    last = end - span
    first = max(last - history.history_windows + 1, history.origin_index)
    n_h, _, _, flow = history.own_history(key, first, last, cfg.cap_factor)
    return n_h > 0 and n_h >= DOMINANT_SHARE * (n_h + flow)


def floored(estimate: float, shape: float, floor: float) -> tuple[float, float]:
    """(mean, shape) of the predictive count when the mean is raised to ``floor``: the rate's
    uncertainty (variance ``estimate**2 / shape``) is kept, not scaled up with the mean."""
    if estimate >= floor:
        return estimate, shape
    if estimate <= 0:
        return floor, math.inf
    return floor, shape * (floor / estimate) ** 2


def span_flow(history: History, series: ScopeSeries, end: int, span: int, usual: float) -> float:
    """The other flow in the span, shrunk towards its usual level (``usual`` items a window) by
    ``FLOW_PSEUDO_ITEMS``: a span where little else happened does not make a scope's few items
    look like many."""
    other = max(history.other_flow(end - span + 1, end, series), 0.0)
    if usual <= 0:
        return other
    return (other + FLOW_PSEUDO_ITEMS) / (1.0 + FLOW_PSEUDO_ITEMS / (usual * span))


def robust_baseline(values: Sequence[float], k: float) -> tuple[float, float, int]:
    """(mean, sd, kept) of ``values`` after a Hampel filter drops points beyond median + k*spread.

    The spread is the MAD scaled to a standard deviation, but at least sqrt(median) and 1, so a
    sparse count series (mostly zeros, MAD 0) does not throw away every non-zero point. The
    figures are exactly those of :mod:`statistics` (median, fmean, pstdev), computed on one sorted
    copy: the detectors call this for every span of the all scope."""
    if not values:
        return 0.0, 0.0, 0
    ordered = sorted(values)
    med = _median(ordered)
    mad = _median(sorted([abs(v - med) for v in ordered])) * MAD_TO_SD
    spread = max(mad, math.sqrt(max(med, 0.0)), 1.0)
    bound = k * spread
    kept = [v for v in ordered if abs(v - med) < bound]  # still in order
    mean = math.fsum(kept) / len(kept)  # statistics.fmean
    kmed = _median(kept)
    sd = _median(sorted([abs(v - kmed) for v in kept])) * MAD_TO_SD
    if len(kept) >= 8:
        sd = max(sd, _pstdev(kept))
    return mean, sd, len(kept)


def _median(ordered: Sequence[float]) -> float:
    """statistics.median of values already in order."""
    n = len(ordered)
    half = n // 2
    return ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2


WHOLE_EXACT = 2.0**52  # whole numbers below this are exact as floats, and so their sums as ints


def _pstdev(ordered: Sequence[float]) -> float:
    """statistics.pstdev (the correctly rounded root of the exact population variance), in
    integers when the values are whole numbers, as counts are; else statistics itself."""
    if max(-ordered[0], ordered[-1]) < WHOLE_EXACT and all(float(v).is_integer() for v in ordered):
        whole = [int(v) for v in ordered]
        n, total = len(whole), sum(whole)
        return _root_of_ratio(n * sum(w * w for w in whole) - total * total, n * n)
    return statistics.pstdev(ordered)


def _root_of_ratio(p: int, q: int) -> float:
    """sqrt(p / q) correctly rounded, for whole p >= 0 and q > 0: the integer root of p / q
    scaled to 64 bits or more, its last bit set when inexact (so rounding it to a float's 53
    bits cannot land on a false tie), then scaled back."""
    if p == 0:
        return 0.0
    shift = max(0, (130 - (p.bit_length() - q.bit_length())) // 2 + 1)
    quotient, rest = divmod(p << (2 * shift), q)
    root = math.isqrt(quotient)
    if rest or root * root != quotient:
        root |= 1
    return math.ldexp(float(root), -shift)


def _all_baseline(
    history: History, series: ScopeSeries, origin: int, end: int, span: int, cfg: DetectorConfig
) -> tuple[list[float], str]:
    """Past span sums of the all scope (or of a dominant scope, which is scored like it): the
    same slot on past days, else the trailing spans; only spans from window ``origin`` on, the
    first one held (a dominant topic's history is pruned after a day: its earlier days are
    unknown, not empty)."""
    per_day = 86400 // history.size_s
    seasonal: list[float] = []
    days_found = 0
    for d in range(1, cfg.baseline_days + 1):
        found = False
        for offset in (-1, 0, 1):
            slot = end - d * per_day + offset
            if slot - (span - 1) >= origin:
                seasonal.append(history.count_sum(series, slot - span + 1, slot))
                found = True
        days_found += found
    if days_found >= cfg.min_seasonal_days and per_day > 1:
        return seasonal, "seasonal"
    trailing: list[float] = []
    for i in range(cfg.trailing_windows):
        slot = end - span - i
        if slot - (span - 1) < origin:
            break
        trailing.append(history.count_sum(series, slot - span + 1, slot))
    return trailing, "trailing"
