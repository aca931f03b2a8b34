"""Alert rules: which detector watches which scopes, and how a score becomes an alert.

A :class:`Rule` pairs a detector with the decision and the lifecycle of its alerts:

- ``threshold``: the score (a normal quantile of the tail probability; a CUSUM level for tone)
  at which the condition holds;
- ``spans``: the spans (windows) scanned at every window; the most anomalous one counts, so a
  sharp spike and a sustained run both give one alert that names its span;
- ``for_windows``: how many consecutive final windows the condition must hold before it fires;
- ``cooldown_windows``: after an alert, the same rule on the same scope stays quiet this long
  (counted from the window it fired at; longer than the longest span, so one incident is one alert);
- ``severity``: ``warning``, or ``critical`` when the score reaches ``critical_factor`` times the
  threshold;
- the dedup key of an alert is (rule, scope kind, scope value, span start) - :attr:`Alert.id`;
- grouping: alerts of one window become one notification per channel (see the engine).

A firing alert is resolved at the end of the first later window in which its condition no longer
holds. Mutes (``finsentry mute``) suppress a rule, or all rules, on one scope until a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from finsentry.config import Settings
from finsentry.detectors.base import Detector, DetectorConfig, Score
from finsentry.detectors.history import History, ScopeKey
from finsentry.detectors.registry import REGISTRY, WATCHED
from finsentry.schema import ScopeKind

ALERT_SCOPES: tuple[ScopeKind, ...] = WATCHED


@dataclass(frozen=True)
class Rule:
    """One alerting rule: a detector, the scopes it watches, its decision and lifecycle."""

    name: str
    detector: Detector
    threshold: float
    spans: tuple[int, ...] = (1,)
    scopes: tuple[ScopeKind, ...] = ALERT_SCOPES
    for_windows: int = 1
    cooldown_windows: int = 24
    critical_factor: float = 2.0
    evidence_order: str = "negative"  # negative | recent
    description: str = field(default="", compare=False)

    def score(self, history: History, key: ScopeKey, start: datetime) -> Score | None:
        """The most anomalous span ending at ``start`` (the shorter one on a tie)."""
        best: Score | None = None
        for span in self.spans:
            score = self.detector.score(history, key, start, span)
            if score is not None and (best is None or score.value > best.value):
                best = score
        return best

    def decide(self, score: Score | None) -> bool:
        return score is not None and score.value >= self.threshold

    def holds(self, history: History, key: ScopeKey, start: datetime) -> tuple[bool, Score | None]:
        """Whether the condition holds at ``start`` for ``for_windows`` windows in a row."""
        score = self.score(history, key, start)
        if not self.decide(score):
            return False, score
        for back in range(1, self.for_windows):
            if not self.decide(self.score(history, key, start - back * history.step)):
                return False, score
        return True, score

    def severity(self, score: Score) -> str:
        return "critical" if score.value >= self.critical_factor * self.threshold else "warning"


def default_rules(settings: Settings, config: DetectorConfig | None = None) -> list[Rule]:
    """The rules finsentry runs by default, one per registered detector; thresholds from settings."""
    cfg = config or DetectorConfig.from_settings(settings)
    return [
        Rule(
            reg.rule,
            reg.detector(cfg),
            reg.threshold(cfg),
            spans=reg.spans(cfg),
            scopes=reg.scopes,
            cooldown_windows=reg.cooldown_windows,
            evidence_order=reg.evidence_order,
            description=reg.description,
        )
        for reg in REGISTRY
    ]


def rule_names(rules: Sequence[Rule]) -> list[str]:
    return [rule.name for rule in rules]
