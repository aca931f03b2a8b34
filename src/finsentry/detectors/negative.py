"""Negative surge: a span (5 to 90 minutes) with more negative items about a scope than usual.

Two views of the same span, the stronger one counts:

- share: the negative items among the span's items against the scope's negative share, a Beta
  posterior of its own history (a past burst capped) on the cross-section prior of comparable
  scopes; the predictive is beta-binomial, so a scope with little history needs a clearer surge.
  Needs ``min_support`` items in the span. This catches a surge without any change of volume.
- count: the negative items against the expected number (the scope's rate of negative items per
  item of the other flow, as for volume; see :func:`flow_baseline`), needs ``min_negatives``; it
  only counts when the share is above the baseline too (a burst of mixed news is a volume alert).

The all scope has no peers: its own history alone sets its share.
"""

from __future__ import annotations

import math
from datetime import datetime

from finsentry.detectors.base import DetectorConfig, Score, span_text
from finsentry.detectors.history import ALL_KEY, History, ScopeKey
from finsentry.detectors.stats import betabinom_log_sf, nbinom_log_sf, z_of_log_p
from finsentry.detectors.volume import dominant, floored, flow_baseline, span_flow
from finsentry.schema import Alert

__all__ = ["NegativeSurgeDetector"]


class NegativeSurgeDetector:
    """Negative share and number of negative items in a span against the scope's baseline."""

    metric = "negative_share"

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def _share_prior(
        self, history: History, key: ScopeKey, end: int, span: int
    ) -> tuple[float, float, str] | None:
        """(alpha, beta, kind) of the scope's negative share before the span."""
        cfg = self.config
        series = history.series(key)
        if series is None:
            return None
        last = end - span
        first = max(last - history.history_windows + 1, history.origin_index)
        n_h, neg_h, _, flow = history.own_history(key, first, last, cfg.cap_factor)
        if key == ALL_KEY:
            if n_h < cfg.min_flow:
                return None
            return neg_h + 1.0, n_h - neg_h + 2.0, "history"
        if flow + n_h < cfg.min_flow:
            return None
        prior = history.prior(key[0], end, cfg.prior_max_items)
        kind = "history" if n_h >= prior.neg_alpha + prior.neg_beta else "prior"
        return prior.neg_alpha + neg_h, prior.neg_beta + n_h - neg_h, kind

    def score(self, history: History, key: ScopeKey, start: datetime, span: int) -> Score | None:
        cfg = self.config
        series = history.series(key)
        if series is None:
            return None
        end = history.index(start)
        n = int(history.count_sum(series, end - span + 1, end))
        neg = int(history.negative_sum(series, end - span + 1, end))
        if n <= 0:
            return None
        shares = self._share_prior(history, key, end, span)
        if shares is None:
            return None
        alpha, beta, kind = shares
        p0 = alpha / (alpha + beta)
        log_share = betabinom_log_sf(neg, n, alpha, beta) if n >= cfg.min_support else 0.0
        log_count = 0.0
        if (
            key != ALL_KEY
            and neg >= cfg.min_negatives
            and neg > n * p0
            and not dominant(history, key, end, span, cfg)
        ):
            base = flow_baseline(history, key, series, end, span, cfg, (p0, alpha + beta))
            if base is not None:
                shape, rate, _, usual = base
                estimate = rate * span_flow(history, series, end, span, usual)
                mean, shape = floored(estimate, shape, cfg.min_rate * p0 * span)
                d = cfg.dispersion
                log_count = nbinom_log_sf(neg / d, shape, mean / d)
        log_p = min(log_share, log_count)
        return Score(self.metric, z_of_log_p(log_p), neg / n, p0, n, span, math.exp(log_p), kind)

    def describe(self, alert: Alert) -> str:
        return (
            f"negative share {alert.observed:.0%} in {span_text(alert)} "
            f"(usually {alert.expected:.0%})"
        )
