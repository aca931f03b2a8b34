"""Tone shift: a sustained drop of a scope's mean score, by a one-sided (downward) CUSUM.

The CUSUM runs over the last ``cusum_windows`` windows (the span it reports), each window's mean
standardised by the per-item spread of the trailing reference windows before the run. ``observed``
is the mean score of the items in the span, ``expected`` the reference mean.
"""

from __future__ import annotations

import math
from datetime import datetime

from finsentry.detectors.base import DetectorConfig, Score, span_text
from finsentry.detectors.history import History, ScopeKey
from finsentry.schema import Alert, WindowStat, signed

__all__ = ["ToneShiftDetector"]


class ToneShiftDetector:
    """One-sided CUSUM (downward) of the window mean score over the last ``cusum_windows``."""

    metric = "mean_score"

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def _reference(self, history: History, key: ScopeKey, first: int) -> tuple[float, float] | None:
        cfg = self.config
        series = history.series(key)
        if series is None:
            return None
        ref: list[WindowStat] = []
        for slot in range(
            first - 1, max(first - cfg.trailing_windows, history.origin_index) - 1, -1
        ):
            stat = series.stats.get(slot)
            if stat is not None and stat.count > 0:
                ref.append(stat)
        ref_n = sum(s.count for s in ref)
        if ref_n < cfg.cusum_min_items:
            return None
        mu = sum(s.score_sum for s in ref) / ref_n
        var = sum(s.count * (s.mean_score - mu) ** 2 for s in ref) / max(len(ref) - 1, 1)
        return mu, max(math.sqrt(var), 0.1)

    def score(self, history: History, key: ScopeKey, start: datetime, span: int) -> Score | None:
        cfg = self.config
        first = history.index(start) - (cfg.cusum_windows - 1)
        if first - history.origin_index < max(cfg.warmup_windows, 2 * cfg.cusum_windows):
            return None
        ref = self._reference(history, key, first)
        series = history.series(key)
        if ref is None or series is None:
            return None
        mu, sigma = ref
        cusum, items, total = 0.0, 0, 0.0
        for i in range(cfg.cusum_windows):
            stat = series.stats.get(first + i)
            if stat is None or stat.count == 0:
                cusum = max(0.0, cusum - cfg.cusum_k)
                continue
            items += stat.count
            total += stat.score_sum
            z = (mu - stat.mean_score) * math.sqrt(stat.count) / sigma
            cusum = max(0.0, cusum + z - cfg.cusum_k)
        if items < cfg.cusum_min_items:
            return None
        return Score(
            self.metric, cusum, total / items, mu, items, cfg.cusum_windows, 1.0, "trailing"
        )

    def describe(self, alert: Alert) -> str:
        return (
            f"mean tone {signed(alert.observed)} in {span_text(alert)} "
            f"(usually {signed(alert.expected)})"
        )
