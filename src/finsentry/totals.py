"""What a batch and a run did: the counts every source reports, with ``consumed = processed +
dead_lettered`` for each batch and so for each run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from finsentry.schema import Alert, DeadLetter


@dataclass(slots=True)
class BatchReport:
    """What one call of :meth:`Pipeline.process` did."""

    consumed: int = 0
    processed: int = 0
    new_items: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    scoring_s: float = 0.0
    # the largest event time per input the pipeline knows, after this batch (event-lag metrics)
    input_times: dict[str, datetime] = field(default_factory=dict)

    @property
    def dead_lettered(self) -> int:
        return len(self.dead_letters)


@dataclass(slots=True)
class RunTotals:
    """Totals over a run; ``consumed == processed + dead_lettered`` always."""

    consumed: int = 0
    processed: int = 0
    new_items: int = 0
    duplicates: int = 0
    late: int = 0
    dead_lettered: int = 0
    alerts: list[Alert] = field(default_factory=list)
    dead_reasons: dict[str, int] = field(default_factory=dict)
    alert_count: int = 0
    # None keeps every alert (bounded runs print them all); a long-running consumer keeps only
    # the last N in memory (every alert is in the store anyway)
    keep_alerts: int | None = None

    def add_alerts(self, alerts: list[Alert]) -> None:
        self.alerts.extend(alerts)
        self.alert_count += len(alerts)
        if self.keep_alerts is not None and len(self.alerts) > self.keep_alerts:
            del self.alerts[: len(self.alerts) - self.keep_alerts]

    def add(self, report: BatchReport) -> None:
        self.consumed += report.consumed
        self.processed += report.processed
        self.new_items += report.new_items
        self.duplicates += report.duplicates
        self.late += report.late
        self.dead_lettered += report.dead_lettered
        self.add_alerts(report.alerts)
        for dead in report.dead_letters:
            self.dead_reasons[dead.reason_code] = self.dead_reasons.get(dead.reason_code, 0) + 1

    @property
    def balanced(self) -> bool:
        return self.consumed == self.processed + self.dead_lettered
