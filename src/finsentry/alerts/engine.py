"""The alert engine: evaluates final windows, stores alerts, enqueues their notifications.

:meth:`AlertEngine.evaluate` is called by the pipeline with the watermark. It evaluates every
window of ``settings.detect_window_s`` that became final since the last call (progress is kept in
the store's ``pipeline_state`` under ``detector_progress``), for every scope (all, each ticker, each
topic) that has statistics, with every rule of :mod:`finsentry.alerts.rules`.

The window history is held in memory (:mod:`finsentry.alerts.window_history`): loaded from the
store at the first call, then updated from the windows each batch touched, late ones included, so
a call costs the same however long the history is. Cooldowns and open alerts come from the stored
alerts, and alert keys are deterministic: the same window series gives the same alerts whatever the
batch split, and a restart or a replay cannot fire twice. ``fired_at`` is the only wall-clock field
of an alert.

An alert's ``window_start``/``window_end`` is the span its detector scored (one window for a sharp
spike, up to 90 minutes for a sustained run), and ``observed``/``expected`` are that span's numbers:
exactly what the store holds for the scope between those two times.

Silences (``finsentry silence``) are looked up at the wall-clock time of evaluation (``clock``),
not at the window's event time: an alert raised now for a window of last week is silenced when a
silence is active now. It is stored with status ``silenced`` (it still counts for the cooldown) and
no notification is written for it.

Steps of one call, each idempotent so a crash between them is repaired by the next call:
insert alerts (keyed) -> enqueue notifications (keyed by alert id + channel) -> save progress.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from finsentry.aggregate import window_start
from finsentry.alerts.channels import configured_channels
from finsentry.alerts.rules import ALERT_SCOPES, Rule, default_rules
from finsentry.alerts.window_history import WindowHistory
from finsentry.config import Settings
from finsentry.detectors.base import Detector, DetectorConfig, Score
from finsentry.detectors.history import History, ScopeKey, ScopeSeries
from finsentry.detectors.registry import REGISTRY
from finsentry.schema import Alert, AlertStatus, Evidence, ScopeKind, ScoredItem, iso, utc_now
from finsentry.store.base import Notification, Store

log = logging.getLogger(__name__)

PROGRESS_KEY = "detector_progress"
EVIDENCE_ITEMS = 5
CHART_WINDOWS = 36
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def order_evidence(
    items: Sequence[ScoredItem], order: str, ticker: str | None = None
) -> list[ScoredItem]:
    """Novel items first; then the most negative (or most recent), then the most recent.

    For a ticker's alert "most negative" means towards that ticker."""

    def key(item: ScoredItem) -> tuple[Any, ...]:
        recency = -item.published_at.timestamp()
        score = item.towards(ticker).score if ticker else item.scores.score
        if order == "recent":
            return (not item.novel, recency, score, item.id)
        return (not item.novel, score, recency, item.id)

    return sorted(items, key=key)


def to_evidence(item: ScoredItem, ticker: str | None = None) -> Evidence:
    """An alert's evidence item; for a ticker's alert, with the sentiment towards that ticker."""
    towards = item.towards(ticker) if ticker else None
    return Evidence(
        id=item.id,
        headline=item.item.headline,
        published_at=item.published_at,
        score=towards.score if towards else item.scores.score,
        sentiment=towards.sentiment if towards else item.scores.sentiment,
        url=item.item.url,
        novel=item.novel,
    )


class AlertEngine:
    """Evaluates final windows with the rules; stores alerts and enqueues notifications."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime] = utc_now,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.rules = list(rules) if rules is not None else default_rules(settings)
        self.size_s = settings.detect_window_s
        self.step = timedelta(seconds=self.size_s)
        self.channels = configured_channels(settings)
        config = DetectorConfig.from_settings(settings)
        self.windows = WindowHistory(store, self.size_s, config, ALERT_SCOPES)

    def note_items(self, items: Sequence[ScoredItem]) -> None:
        """The pipeline stored these items: late ones mark old windows for re-reading."""
        self.windows.note_items(items)

    # -- progress ---------------------------------------------------------------------------

    def _progress(self, end_bound: datetime) -> tuple[datetime, datetime] | None:
        """(origin, next window to evaluate), or None when there is no data yet."""
        state = self.store.get_state(PROGRESS_KEY)
        if isinstance(state, dict) and state.get("size_s") == self.size_s:
            origin = datetime.fromisoformat(str(state["origin"]))
            return origin, datetime.fromisoformat(str(state["next"]))
        first = self.store.window_stats(self.size_s, EARLIEST, end_bound, ScopeKind.ALL, "*")
        if not first:
            return None
        origin = first[0].start
        return origin, origin

    def _known_alerts(self, next_start: datetime) -> tuple[dict[AlertKey, datetime], list[Alert]]:
        """When each (rule, scope) last fired (the window it fired at), and the open alerts."""
        max_cooldown = max((r.cooldown_windows for r in self.rules), default=0)
        known = self.store.alerts(since=next_start - (max_cooldown + 288) * self.step)
        last_fired: dict[AlertKey, datetime] = {}
        open_alerts: list[Alert] = []
        for alert in known:
            fkey = (alert.rule, str(alert.scope_kind), alert.scope_value)
            at = alert.window_end - self.step
            last_fired[fkey] = max(last_fired.get(fkey, at), at)
            if alert.status == AlertStatus.FIRING and at < next_start:
                open_alerts.append(alert)
        return last_fired, open_alerts

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, final_until: datetime) -> list[Alert]:
        """Evaluate the windows that ended by ``final_until`` and were not evaluated; new alerts."""
        end_bound = window_start(final_until, self.size_s)
        progress = self._progress(end_bound)
        if progress is None:
            return []
        origin, next_start = progress
        if next_start >= end_bound:
            return []
        history = self.windows.sync(origin, next_start, end_bound)
        last_fired, open_alerts = self._known_alerts(next_start)
        run = _Run(history, last_fired, open_alerts)
        start = next_start
        while start < end_bound:
            self._resolve(run, start)
            for scope_key in _active(history, start):
                for rule in self.rules:
                    if ScopeKind(scope_key[0]) in rule.scopes:
                        self._consider(run, rule, scope_key, start)
            start += self.step

        new = self.store.insert_alerts(run.fired) if run.fired else []
        for alert_id, at in run.resolved:
            self.store.resolve_alert(alert_id, at)
        notify = [a for a in run.fired if a.status is AlertStatus.FIRING]
        if notify and self.channels:
            self.store.enqueue_notifications(self._notifications(notify, run.extras))
        self.store.set_state(
            PROGRESS_KEY, {"size_s": self.size_s, "origin": iso(origin), "next": iso(end_bound)}
        )
        if new:
            log.info("%d new alert(s) up to %s", len(new), iso(end_bound))
        return new

    def _resolve(self, run: _Run, start: datetime) -> None:
        """Open alerts whose condition no longer holds at ``start`` resolve at its end."""
        rules = {rule.name: rule for rule in self.rules}
        still_open: list[Alert] = []
        holds: dict[tuple[str, str, str], bool] = {}  # one check per rule and scope, however
        for alert in run.open_alerts:  # many of its alerts are open
            rule = rules.get(alert.rule)
            key = (str(alert.scope_kind), alert.scope_value)
            check = (alert.rule, *key)
            if rule is not None and check not in holds:
                holds[check] = rule.holds(run.history, key, start)[0]
            if rule is None or holds[check]:
                still_open.append(alert)
            else:
                run.resolved.append((alert.id, start + self.step))
        run.open_alerts = still_open

    def _consider(self, run: _Run, rule: Rule, scope_key: ScopeKey, start: datetime) -> None:
        """Fire ``rule`` on a scope at ``start`` if it holds and is not cooling down; inside an
        active silence (wall-clock time) the alert is stored as silenced."""
        fkey = (rule.name, scope_key[0], scope_key[1])
        previous = run.last_fired.get(fkey)
        if previous is not None and start - previous < rule.cooldown_windows * self.step:
            return
        holds, score = rule.holds(run.history, scope_key, start)
        if not holds or score is None:
            return
        silence = self.store.silence_for(scope_key[0], scope_key[1], rule.name, self.clock())
        alert = self._alert(rule, scope_key, start, score)
        if silence is not None:
            log.info("silenced by %s: %s on %s:%s at %s", silence.id, rule.name, *scope_key,
                     iso(start))  # fmt: skip
            alert = dataclasses.replace(alert, status=AlertStatus.SILENCED)
        series = run.history.series(scope_key)
        run.extras[alert.id] = {
            "span": score.span,
            "baseline": score.baseline,
            "score": round(score.value, 3),
            "series": _chart_series(series, start) if series is not None else [],
        }
        run.last_fired[fkey] = start
        run.fired.append(alert)
        if silence is None:
            run.open_alerts.append(alert)

    def _alert(self, rule: Rule, scope_key: ScopeKey, start: datetime, score: Score) -> Alert:
        """The alert of a score: its window is the span the score's numbers cover."""
        kind = ScopeKind(scope_key[0])
        span_start = start - (score.span - 1) * self.step
        items = self.store.items_between(span_start, start + self.step, kind, scope_key[1], 500)
        ticker = scope_key[1] if kind is ScopeKind.TICKER else None
        evidence = tuple(
            to_evidence(i, ticker) for i in order_evidence(items, rule.evidence_order, ticker)
        )
        return Alert(
            rule=rule.name,
            scope_kind=kind,
            scope_value=scope_key[1],
            metric=score.metric,
            window_start=span_start,
            window_end=start + self.step,
            fired_at=self.clock(),
            severity=rule.severity(score),
            observed=round(score.observed, 6),
            expected=round(score.expected, 6),
            evidence=evidence[:EVIDENCE_ITEMS],
        )

    def _notifications(
        self, alerts: Sequence[Alert], extras: dict[str, dict[str, Any]]
    ) -> list[Notification]:
        """One notification per channel for each group of alerts fired at the same window."""
        groups: dict[datetime, list[Alert]] = defaultdict(list)
        for alert in alerts:
            groups[alert.window_end].append(alert)
        out: list[Notification] = []
        severity_rank = {"critical": 0, "warning": 1}
        for end in sorted(groups):
            group = sorted(
                groups[end],
                key=lambda a: (severity_rank.get(a.severity, 2), a.scope_kind != "ticker", a.id),
            )
            payload = notification_payload(group, extras, self.settings.public_url)
            for channel in self.channels:
                out.append(Notification(alert_id=group[0].id, channel=channel, payload=payload))
        return out


AlertKey = tuple[str, str, str]


@dataclass(slots=True)
class _Run:
    """What one evaluation call carries from window to window."""

    history: History
    last_fired: dict[AlertKey, datetime]
    open_alerts: list[Alert]
    fired: list[Alert] = field(default_factory=list)
    resolved: list[tuple[str, datetime]] = field(default_factory=list)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)


def _active(history: History, start: datetime) -> list[ScopeKey]:
    """The scopes with items in the window starting at ``start`` (a span can only gain there)."""
    index = history.index(start)
    out = []
    for key, series in history.scopes.items():
        stat = series.stats.get(index)
        if stat is not None and stat.count > 0:
            out.append(key)
    return sorted(out)


def _chart_series(scope: ScopeSeries, start: datetime) -> list[list[Any]]:
    """[window start, count, negative, mean score] for the windows up to ``start``."""
    out: list[list[Any]] = []
    for i in range(CHART_WINDOWS - 1, -1, -1):
        slot = start - i * scope.step
        if not scope.known(slot):
            continue
        stat = scope.get(slot)
        if stat is None:
            out.append([iso(slot), 0, 0, 0.0])
        else:
            out.append([iso(slot), stat.count, stat.negative, round(stat.mean_score, 4)])
    return out


@functools.cache
def _describers() -> dict[str, Detector]:
    config = DetectorConfig()
    return {reg.rule: reg.detector(config) for reg in REGISTRY}


def describe(alert: Alert) -> str:
    """One line about an alert, for subjects, chat messages and logs; the detector that caused
    it writes what it found."""
    scope = "everything" if alert.scope_kind == ScopeKind.ALL else alert.scope_value
    detector = _describers().get(alert.rule)
    if detector is not None:
        what = detector.describe(alert)
    else:
        what = f"{alert.metric} {alert.observed:g} (expected {alert.expected:g})"
    return f"[{alert.severity}] {alert.rule.replace('_', ' ')} on {scope}: {what}"


def notification_payload(
    group: Sequence[Alert], extras: dict[str, dict[str, Any]], public_url: str | None
) -> dict[str, Any]:
    """The JSON a notification carries: the group's alerts with their evidence and series."""
    lead = group[0]
    title = describe(lead)
    if len(group) > 1:
        title += f" (+{len(group) - 1} more)"
    alerts = []
    for alert in group:
        data = alert.to_json()
        data["summary"] = describe(alert)
        data.update(extras.get(alert.id, {}))
        alerts.append(data)
    return {
        "title": title,
        "window_start": iso(lead.window_start),
        "window_end": iso(lead.window_end),
        "alerts": alerts,
        "dashboard_url": public_url,
    }
