"""The detectors finsentry runs, one registration each, with the default rule around it.

Adding a detector: write a module with a class that follows :class:`~.base.Detector` (``metric``,
``score``, ``describe``), then add one :class:`Registration` here. The rule's threshold, spans,
scopes, ``for`` and cooldown are set here and nowhere in the detector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from finsentry.detectors.base import Detector, DetectorConfig
from finsentry.detectors.negative import NegativeSurgeDetector
from finsentry.detectors.tone import ToneShiftDetector
from finsentry.detectors.volume import VolumeDetector
from finsentry.schema import ScopeKind

__all__ = ["REGISTRY", "Registration"]

WATCHED: tuple[ScopeKind, ...] = (ScopeKind.ALL, ScopeKind.TICKER, ScopeKind.TOPIC)


@dataclass(frozen=True)
class Registration:
    """A detector and the defaults of the rule that watches with it."""

    rule: str
    detector: Callable[[DetectorConfig], Detector]
    threshold: Callable[[DetectorConfig], float]
    spans: Callable[[DetectorConfig], tuple[int, ...]]
    description: str
    scopes: tuple[ScopeKind, ...] = WATCHED
    cooldown_windows: int = 24
    evidence_order: str = "negative"  # negative | recent


REGISTRY: tuple[Registration, ...] = (
    Registration(
        "volume_spike",
        VolumeDetector,
        lambda c: c.volume_threshold,
        lambda c: c.spans,
        "items in 5-90 minutes far above the scope's share of the flow",
        evidence_order="recent",
    ),
    Registration(
        "negative_surge",
        NegativeSurgeDetector,
        lambda c: c.tone_threshold,
        lambda c: c.spans,
        "negative share or number of negative items in 5-90 minutes far above the baseline",
    ),
    Registration(
        "tone_shift",
        ToneShiftDetector,
        lambda c: c.cusum_h,
        lambda c: (c.cusum_windows,),
        "sustained drop of the mean score (CUSUM)",
        scopes=(ScopeKind.ALL, ScopeKind.TOPIC),
    ),
)
