"""Compare alerts with the ground truth of a labelled stream (``finsentry simulate`` writes one).

``match_incidents(alerts, truth, window_s)`` is used by ``finsentry demo`` and ``finsentry backtest``;
keep its result fields stable.

An incident counts as detected when a ticker alert on its ticker has a window that overlaps
``[start, end + grace]``; the delay is from the incident's start to the end of the first such
window (when the alert could first be raised). A ticker alert that matches no incident is false.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from finsentry.schema import Alert, ScopeKind


@dataclass(frozen=True, slots=True)
class IncidentMatch:
    incident_id: str
    kind: str
    scope_value: str
    start: datetime
    end: datetime
    detected: bool
    delay_s: float | None
    alert_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchReport:
    incidents: list[IncidentMatch]
    ticker_alerts: int
    false_alerts: int
    false_alert_ids: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return sum(m.detected for m in self.incidents) / len(self.incidents) if self.incidents else 1.0

    @property
    def precision(self) -> float:
        if not self.ticker_alerts:
            return 1.0
        return (self.ticker_alerts - self.false_alerts) / self.ticker_alerts

    @property
    def mean_delay_s(self) -> float | None:
        delays = [m.delay_s for m in self.incidents if m.delay_s is not None]
        return sum(delays) / len(delays) if delays else None

    def to_json(self) -> dict[str, Any]:
        return {
            "recall": self.recall,
            "precision": self.precision,
            "ticker_alerts": self.ticker_alerts,
            "false_alerts": self.false_alerts,
            "mean_delay_s": self.mean_delay_s,
            "incidents": [
                {
                    "id": m.incident_id,
                    "kind": m.kind,
                    "scope_value": m.scope_value,
                    "start": m.start.isoformat(),
                    "end": m.end.isoformat(),
                    "detected": m.detected,
                    "delay_s": m.delay_s,
                    "alert_ids": list(m.alert_ids),
                }
                for m in self.incidents
            ],
        }


def match_incidents(
    alerts: Sequence[Alert], truth: dict[str, Any], window_s: int, grace_windows: int = 2
) -> MatchReport:
    grace = timedelta(seconds=window_s * grace_windows)
    ticker_alerts = [a for a in alerts if a.scope_kind == ScopeKind.TICKER]
    matched_alerts: set[str] = set()
    results: list[IncidentMatch] = []
    for incident in truth.get("incidents", []):
        start = datetime.fromisoformat(incident["start"])
        end = datetime.fromisoformat(incident["end"])
        hits = sorted(
            (
                a
                for a in ticker_alerts
                if a.scope_value == incident["scope_value"]
                and a.window_end > start
                and a.window_start < end + grace
            ),
            key=lambda a: a.window_end,
        )
        matched_alerts.update(a.id for a in hits)
        results.append(
            IncidentMatch(
                incident_id=str(incident["id"]),
                kind=str(incident["kind"]),
                scope_value=str(incident["scope_value"]),
                start=start,
                end=end,
                detected=bool(hits),
                delay_s=(hits[0].window_end - start).total_seconds() if hits else None,
                alert_ids=tuple(a.id for a in hits),
            )
        )
    false_ids = [a.id for a in ticker_alerts if a.id not in matched_alerts]
    return MatchReport(results, len(ticker_alerts), len(false_ids), false_ids)
