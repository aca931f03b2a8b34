"""Alert rules: which detector watches which scopes, and how a score becomes an alert.

A :class:`Rule` pairs a detector with the lifecycle settings of its alerts:

- ``for_windows``: how many consecutive final windows the condition must hold before it fires;
- ``cooldown_windows``: after an alert, the same rule on the same scope stays quiet this long;
- ``severity``: ``warning``, or ``critical`` when the score reaches ``critical_factor`` times the
  threshold;
- the dedup key of an alert is (rule, scope kind, scope value, window start) - :attr:`Alert.id`;
- grouping: alerts of one window become one notification per channel (see the engine).

A firing alert is resolved at the end of the first later window in which its condition no longer
holds. Mutes (``finsentry mute``) suppress a rule, or all rules, on one scope until a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from finsentry.anomaly import (
    DetectorConfig,
    LevelShiftDetector,
    NegativeSurgeDetector,
    ScopeSeries,
    Score,
    VolumeSpikeDetector,
    best_score,
)
from finsentry.config import Settings
from finsentry.schema import ScopeKind

ALERT_SCOPES: tuple[ScopeKind, ...] = (ScopeKind.ALL, ScopeKind.TICKER, ScopeKind.TOPIC)


class Detector(Protocol):
    metric: str

    def score(self, series: ScopeSeries, start: datetime, span: int = 1) -> Score | None: ...

    def decide(self, score: Score) -> bool: ...


@dataclass(frozen=True)
class Rule:
    """One alerting rule: a detector, the scopes it watches and the lifecycle of its alerts."""

    name: str
    detector: Detector
    threshold: float
    spans: tuple[int, ...] = (1,)
    scopes: tuple[ScopeKind, ...] = ALERT_SCOPES
    for_windows: int = 1
    cooldown_windows: int = 6
    critical_factor: float = 2.0
    evidence_order: str = "negative"  # negative | recent
    description: str = field(default="", compare=False)

    def score(self, series: ScopeSeries, start: datetime) -> Score | None:
        """The score that counts for this rule at the window starting at ``start``."""
        scorable = self.detector
        if isinstance(scorable, VolumeSpikeDetector | NegativeSurgeDetector):
            spans = [s for s in self.spans if scorable.can_fire(series, start, s)]
            return best_score(scorable, series, start, spans) if spans else None
        return scorable.score(series, start, max(self.spans))

    def holds(self, series: ScopeSeries, start: datetime) -> tuple[bool, Score | None]:
        """Whether the condition holds at ``start`` for ``for_windows`` windows in a row."""
        score = self.score(series, start)
        if score is None or not self.detector.decide(score):
            return False, score
        for back in range(1, self.for_windows):
            earlier = self.score(series, start - back * series.step)
            if earlier is None or not self.detector.decide(earlier):
                return False, score
        return True, score

    def severity(self, score: Score) -> str:
        return "critical" if score.value >= self.critical_factor * self.threshold else "warning"


def default_rules(settings: Settings, config: DetectorConfig | None = None) -> list[Rule]:
    """The rules finsentry runs by default; thresholds come from ``settings``."""
    cfg = config or DetectorConfig.from_settings(settings)
    return [
        Rule(
            "volume_spike",
            VolumeSpikeDetector(cfg),
            cfg.volume_threshold,
            spans=(1, 2, 3),
            evidence_order="recent",
            description="items in one or two windows far above the expected level",
        ),
        Rule(
            "negative_surge",
            NegativeSurgeDetector(cfg),
            cfg.tone_threshold,
            spans=(1, 2, 3),
            description="share or number of negative items far above the baseline",
        ),
        Rule(
            "tone_shift",
            LevelShiftDetector(cfg),
            cfg.cusum_h,
            scopes=(ScopeKind.ALL, ScopeKind.TOPIC),
            cooldown_windows=24,
            description="sustained drop of the mean score (CUSUM)",
        ),
    ]


def rule_names(rules: Sequence[Rule]) -> list[str]:
    return [rule.name for rule in rules]
