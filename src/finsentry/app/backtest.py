"""Compare alerts with the ground truth of a labelled stream (``finsentry simulate`` writes one).

``match_incidents(alerts, truth, window_s)`` is used by ``finsentry demo`` and ``finsentry backtest``;
keep its result fields stable. ``run_backtest`` runs a labelled stream through the pipeline (the same
``run_files`` that ``finsentry ingest`` uses) into a temporary store and matches its alerts.

An incident counts as detected when a ticker alert on its ticker has a window that overlaps
``[start, end + grace]``; the delay is from the incident's start to the end of the first such
window (when the alert could first be raised). A ticker alert that matches no incident is false.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsentry.config import Settings
from finsentry.schema import Alert, ScopeKind, iso

if TYPE_CHECKING:
    from finsentry.pipeline import TextScorer
    from finsentry.store.base import Store


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
        return (
            sum(m.detected for m in self.incidents) / len(self.incidents) if self.incidents else 1.0
        )

    @property
    def precision(self) -> float:
        if not self.ticker_alerts:
            return 1.0
        return (self.ticker_alerts - self.false_alerts) / self.ticker_alerts

    @property
    def median_delay_s(self) -> float | None:
        delays = sorted(m.delay_s for m in self.incidents if m.delay_s is not None)
        if not delays:
            return None
        mid = len(delays) // 2
        return delays[mid] if len(delays) % 2 else (delays[mid - 1] + delays[mid]) / 2

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


def inconsistent_alerts(store: Store, alerts: Sequence[Alert], limit: int = 100_000) -> list[str]:
    """Alerts whose ``observed`` is not what the store holds for their scope and window.

    For ``count``: the novel items published in ``[window_start, window_end)``; for
    ``negative_share``: their negative share (towards the ticker, for a ticker); for
    ``mean_score``: their mean score. Returns one line per alert that does not add up."""
    bad: list[str] = []
    for alert in alerts:
        items = [
            i
            for i in store.items_between(
                alert.window_start, alert.window_end, alert.scope_kind, alert.scope_value, limit
            )
            if i.novel
        ]
        ticker = alert.scope_value if alert.scope_kind == ScopeKind.TICKER else None
        scores = [i.towards(ticker) if ticker else i.scores for i in items]
        if alert.metric == "count":
            want = float(len(items))
        elif alert.metric == "negative_share":
            want = sum(s.sentiment == "negative" for s in scores) / len(items) if items else 0.0
        elif alert.metric == "mean_score":
            want = sum(s.score for s in scores) / len(items) if items else 0.0
        else:
            continue
        if abs(alert.observed - want) > 1e-3:
            bad.append(
                f"{alert.rule} {alert.scope_kind}:{alert.scope_value} "
                f"{iso(alert.window_start)}-{iso(alert.window_end)}: observed {alert.observed:g}, "
                f"the store holds {want:g}"
            )
    return bad


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """A backtest: the match report plus what the run itself did."""

    match: MatchReport
    window_s: int
    items: int
    dead_lettered: int
    alerts: list[Alert]
    elapsed_s: float
    inconsistent: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.match.to_json()
        delay = self.match.mean_delay_s
        data.update(
            {
                "window_s": self.window_s,
                "mean_delay_windows": None if delay is None else delay / self.window_s,
                "items": self.items,
                "dead_lettered": self.dead_lettered,
                "alerts": len(self.alerts),
                "alerts_by_rule": _count_by(self.alerts, lambda a: a.rule),
                "alerts_by_scope_kind": _count_by(self.alerts, lambda a: str(a.scope_kind)),
                "elapsed_s": round(self.elapsed_s, 2),
                "median_delay_s": self.match.median_delay_s,
                "inconsistent_alerts": self.inconsistent,
            }
        )
        for row, match in zip(data["incidents"], self.match.incidents, strict=True):
            row["delay_windows"] = None if match.delay_s is None else match.delay_s / self.window_s
        return data


def _count_by(alerts: Sequence[Alert], key: Callable[[Alert], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for alert in alerts:
        out[key(alert)] = out.get(key(alert), 0) + 1
    return dict(sorted(out.items()))


def load_truth(path: str | Path) -> dict[str, Any]:
    """Read a truth file (``finsentry simulate`` writes ``<stream>.truth.json``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"truth file {path} not found: pass --truth (finsentry simulate writes <FILE>.truth.json)"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("incidents"), list):
        raise ValueError(f"{path}: a truth file is a JSON object with an 'incidents' list")
    return data


def run_backtest(
    stream: str | Path,
    truth: dict[str, Any],
    settings: Settings,
    *,
    db: str | None = None,
    scorer: TextScorer | None = None,
    progress: bool = False,
    grace_windows: int = 2,
) -> BacktestResult:
    """Run a labelled stream through the pipeline into a fresh store and match alerts to truth.

    The store is a temporary SQLite file unless ``db`` names one (it must be empty: an existing
    store would mix earlier alerts in). No notification is sent: delivery channels are cleared.
    """
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run_files
    from finsentry.store import open_store

    started = time.perf_counter()
    quiet = settings.model_copy(update={"smtp_host": None, "mail_to": (), "webhook_urls": ()})
    with tempfile.TemporaryDirectory(prefix="finsentry-backtest-") as tmp:
        url = db or str(Path(tmp) / "backtest.db")
        quiet = quiet.model_copy(update={"db": url})
        store = open_store(url)
        if store.counts().get("items", 0):
            store.close()
            raise ValueError(f"backtest store {url} is not empty: give a new --db path")
        pipeline = Pipeline.from_settings(quiet, store=store, scorer=scorer)
        try:
            totals = run_files([stream], quiet, pipeline=pipeline, progress=progress)
            alerts = pipeline.store.alerts()
            inconsistent = inconsistent_alerts(pipeline.store, alerts)
        finally:
            pipeline.close()
    match = match_incidents(alerts, truth, quiet.detect_window_s, grace_windows)
    return BacktestResult(
        match=match,
        window_s=quiet.detect_window_s,
        items=totals.processed,
        dead_lettered=totals.dead_lettered,
        alerts=alerts,
        elapsed_s=time.perf_counter() - started,
        inconsistent=inconsistent,
    )


def format_backtest(result: BacktestResult) -> str:
    """A readable backtest report."""
    m = result.match
    lines = [f"{'incident':<10} {'kind':<15} {'ticker':<8} {'start (UTC)':<17} result"]
    for inc in m.incidents:
        if inc.detected and inc.delay_s is not None:
            status = f"detected after {inc.delay_s / 60:.0f} min ({inc.delay_s / result.window_s:.1f} windows)"
        else:
            status = "MISSED"
        lines.append(
            f"{inc.incident_id:<10} {inc.kind:<15} {inc.scope_value:<8} "
            f"{inc.start:%Y-%m-%d %H:%M} {status}"
        )
    delay = m.mean_delay_s
    lines.append("")
    lines.append(
        f"recall {m.recall:.0%} ({sum(i.detected for i in m.incidents)}/{len(m.incidents)}), "
        f"precision {m.precision:.0%} ({m.ticker_alerts - m.false_alerts}/{m.ticker_alerts} ticker "
        f"alerts), false alerts {m.false_alerts}, mean delay "
        + ("n/a" if delay is None else f"{delay / 60:.1f} min")
        + ("" if m.median_delay_s is None else f", median {m.median_delay_s / 60:.1f} min")
    )
    if result.inconsistent:
        lines.append(f"{len(result.inconsistent)} alert(s) whose numbers the store does not hold:")
        lines.extend(f"  {line}" for line in result.inconsistent[:5])
    by_rule = ", ".join(f"{k} {v}" for k, v in _count_by(result.alerts, lambda a: a.rule).items())
    lines.append(
        f"{result.items} items, {result.dead_lettered} dead-lettered, {len(result.alerts)} alerts"
        f" ({by_rule or 'none'}) in {result.elapsed_s:.1f}s"
    )
    return "\n".join(lines)
