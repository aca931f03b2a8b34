"""What every detector shares: its parameters, the score it returns, and the protocol it follows.

A detector *scores* one span of windows of one scope (the ``span`` windows ending with the window
that starts at ``start``) and *describes* an alert it caused; a rule (:mod:`finsentry.alerts.rules`)
decides, with its threshold, ``for`` and cooldown. A detector never learns from what was flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from finsentry.detectors.history import History, ScopeKey
from finsentry.schema import Alert

__all__ = ["Detector", "DetectorConfig", "Score", "span_text"]

MIN_TONE_THRESHOLD = 5.0


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Detector parameters; :meth:`from_settings` maps the documented settings onto it."""

    volume_threshold: float = 6.0
    tone_threshold: float = 6.0
    min_support: int = 8  # items in a span before its negative share is tested
    baseline_days: int = 7  # days of history of the all scope (same time of day)
    spans: tuple[int, ...] = (1, 2, 3, 4, 6, 9, 12, 18)  # windows a span may cover (5 min-90 min)
    history_windows: int = 288  # a scope's own history before the spans: one day of 5-min windows
    min_flow: float = 30.0  # items of all scopes in the history before anything is scored
    # floor of the expected items per window of a ticker or topic: only a guard against a zero
    # estimate; the empirical-Bayes posterior sets the rate (a quiet ticker sees ~0.02 a window)
    min_rate: float = 0.02
    min_items: int = 6  # fewest items in a span for a volume alert
    min_negatives: int = 5  # fewest negative items for a count-based negative alert
    dispersion: float = 1.15  # news comes in small clusters: counts are over-dispersed
    cap_factor: float = 4.0  # a past window counts for at most this many times the mean
    prior_max_items: float = 3000.0  # most weight (items of flow) a rate prior may have
    warmup_windows: int = 6  # windows of history before the all scope is scored
    trailing_windows: int = 36  # trailing baseline of the all scope (3 h)
    min_seasonal_days: int = 3  # past days with the same slot before that baseline is used
    hampel_k: float = 4.0  # all-scope baseline points beyond median + k * spread are ignored
    cusum_windows: int = 6  # windows the CUSUM of the mean score runs over
    cusum_k: float = 0.5  # CUSUM slack (in baseline sd)
    cusum_h: float = 10.0  # CUSUM decision level
    cusum_min_items: int = 40  # items over the CUSUM windows before it may fire

    @classmethod
    def from_settings(cls, settings: object) -> DetectorConfig:
        """Read ``volume_threshold``, ``min_support``, ``baseline_days`` from settings.

        ``tone_threshold`` is read too, but never below 5: negative-share z-scores are exact tail
        probabilities here, and 4 (the old robust-z default) fires on chance over many tickers."""
        values: dict[str, object] = {
            name: getattr(settings, name)
            for name in ("volume_threshold", "min_support", "baseline_days")
            if hasattr(settings, name)
        }
        if hasattr(settings, "tone_threshold"):
            values["tone_threshold"] = max(float(settings.tone_threshold), MIN_TONE_THRESHOLD)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def longest_span(self) -> int:
        return max(self.spans)


@dataclass(frozen=True, slots=True)
class Score:
    """What a detector says about one span of one scope; a rule decides what to do with it.

    ``observed`` and ``expected`` describe exactly the span (``span`` windows ending with the one
    scored): a count of novel items, a negative share or a mean score.
    """

    metric: str
    value: float  # the anomaly score: a normal quantile of the tail probability, or a CUSUM
    observed: float
    expected: float
    support: int  # items in the span
    span: int  # windows the observation covers (ending at the scored window)
    tail_p: float = 1.0
    baseline: str = "history"  # history | prior | seasonal | trailing


class Detector(Protocol):
    """A detector: scores a span of a scope, and writes the text of the alerts it causes."""

    metric: str

    def score(self, history: History, key: ScopeKey, start: datetime, span: int) -> Score | None:
        """Score the ``span`` windows ending with the one starting at ``start``; None: no view."""

    def describe(self, alert: Alert) -> str:
        """What the alert found, in words (without severity or scope: the engine adds those)."""


def span_text(alert: Alert) -> str:
    """``14:05-14:40 UTC (35 min)``: the span an alert's numbers cover."""
    minutes = round((alert.window_end - alert.window_start).total_seconds() / 60)
    return f"{alert.window_start:%H:%M}-{alert.window_end:%H:%M} UTC ({minutes} min)"
