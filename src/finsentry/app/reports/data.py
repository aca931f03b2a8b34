"""What the daily report shows, computed from the store; rendering reads only :class:`DayReport`.

Numbers come from the store's window statistics (exact sums and counts) and its alerts:

- headline numbers: novel items, duplicates, late items, mean tone, negative share, alerts, each
  with the previous day's value;
- tone per topic and per busiest tickers, and the biggest movers against the previous day;
- what changed: the biggest tone moves of tickers and topics against the previous day and the
  mean of the seven days before;
- the alerts of the day; the models that scored the day's items; the days that have data, when
  the day has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from finsentry.app.reports import queries
from finsentry.inert import redact_dsn
from finsentry.schema import Alert, ScopeKind, WindowStat, utc_now
from finsentry.store.base import Store

DAY = timedelta(days=1)
WEEK_DAYS = 7
MIN_MOVE = 0.05  # a tone move smaller than this (against both references) is not a change


@dataclass(frozen=True, slots=True)
class ScopeDay:
    """One scope (everything, a topic, a ticker) on the day, the day before and the week before."""

    scope: str
    items: int
    negative: int
    tone: float | None
    prev_items: int
    prev_tone: float | None
    duplicates: int = 0
    late: int = 0
    prev_negative: int = 0
    prev_duplicates: int = 0
    prev_late: int = 0
    week_items: int = 0
    week_tone: float | None = None  # mean tone over the seven days before the day

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.items if self.items else None

    @property
    def prev_negative_share(self) -> float | None:
        return self.prev_negative / self.prev_items if self.prev_items else None

    @property
    def change(self) -> float | None:
        """Tone change against the previous day."""
        if self.tone is None or self.prev_tone is None:
            return None
        return self.tone - self.prev_tone

    @property
    def week_change(self) -> float | None:
        """Tone change against the mean of the seven days before."""
        if self.tone is None or self.week_tone is None:
            return None
        return self.tone - self.week_tone


@dataclass(frozen=True, slots=True)
class Change:
    """A tone move worth reading: a ticker's or topic's day against its recent past."""

    kind: str  # "ticker" | "topic"
    day: ScopeDay

    @property
    def size(self) -> float:
        return max(abs(self.day.change or 0.0), abs(self.day.week_change or 0.0))


@dataclass(frozen=True, slots=True)
class HourPoint:
    start: datetime
    items: int
    tone: float | None


@dataclass
class DayReport:
    """Everything the report shows about one UTC day."""

    day: date
    window_s: int
    total: ScopeDay
    topics: list[ScopeDay]
    tickers: list[ScopeDay]
    movers: list[ScopeDay]
    hours: list[HourPoint]
    alerts: list[Alert]
    prev_alerts: int
    charts: dict[str, bytes] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    models: list[tuple[str, int]] = field(default_factory=list)  # (model, items scored)
    store: str = ""
    generated_at: datetime = field(default_factory=utc_now)
    days_with_data: list[date] = field(default_factory=list)  # filled when the day has none

    @property
    def start(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)


def report_window(sizes: Sequence[int]) -> int:
    """The window size to read: the largest configured size up to an hour that tiles a day."""
    fits = [s for s in sizes if s <= 3600 and 86400 % s == 0]
    if not fits:
        raise ValueError(f"no window size up to 3600 s that divides a day among {list(sizes)}")
    return max(fits)


Sums = dict[str, tuple[int, int, float, int, int]]  # scope -> count, negative, score sum, dup, late
EMPTY = (0, 0, 0.0, 0, 0)


def fold(stats: Sequence[WindowStat]) -> Sums:
    """Per scope value: the sums of the windows' counts, negatives, scores, duplicates, late."""
    out: Sums = {}
    for w in stats:
        n, neg, s, dup, late = out.get(w.scope_value, EMPTY)
        out[w.scope_value] = (n + w.count, neg + w.negative, s + w.score_sum, dup + w.duplicates,
                              late + w.late)  # fmt: skip
    return out


def scope_days(today: Sums, before: Sums, week: Sums | None = None) -> list[ScopeDay]:
    """One :class:`ScopeDay` per scope of any of the periods, by scope name."""
    days = []
    for scope in sorted(set(today) | set(before)):
        n, neg, s, dup, late = today.get(scope, EMPTY)
        pn, pneg, ps, pdup, plate = before.get(scope, EMPTY)
        wn, _, ws, _, _ = (week or {}).get(scope, EMPTY)
        days.append(
            ScopeDay(
                scope,
                n,
                neg,
                s / n if n else None,
                pn,
                ps / pn if pn else None,
                dup,
                late,
                pneg,
                pdup,
                plate,
                wn,
                ws / wn if wn else None,
            )  # fmt: skip
        )
    return days


def changes(
    kinds: dict[str, list[ScopeDay]], min_items: int, top: int
) -> list[Change]:  # fmt: skip
    """The biggest tone moves per kind (ticker, topic), against the previous day or the week."""
    out: list[Change] = []
    for kind, rows in kinds.items():
        movable = [
            Change(kind, r)
            for r in rows
            if r.items >= min_items
            and ((r.prev_items >= min_items and r.change is not None)
                 or (r.week_items >= min_items and r.week_change is not None))
        ]  # fmt: skip
        movable = [c for c in movable if c.size >= MIN_MOVE]
        movable.sort(key=lambda c: (-c.size, c.day.scope))
        out.extend(movable[:top])
    return out


def hours_of(store: Store, size: int, start: datetime) -> list[HourPoint]:
    """Items and mean tone per hour of the day (all news)."""
    per_hour: dict[datetime, tuple[int, float]] = {}
    for w in store.window_stats(size, start, start + DAY, ScopeKind.ALL):
        hour = w.start.replace(minute=0, second=0, microsecond=0)
        n, s = per_hour.get(hour, (0, 0.0))
        per_hour[hour] = (n + w.count, s + w.score_sum)
    points = []
    for h in range(24):
        at = start + timedelta(hours=h)
        n, s = per_hour.get(at, (0, 0.0))
        points.append(HourPoint(at, n, s / n if n else None))
    return points


def build_report(
    store: Store, day: date, window_sizes_s: Sequence[int] = (3600,), *, top: int = 10,
    min_items: int = 3, charts: bool = True,
) -> DayReport:  # fmt: skip
    """Compute the report for a UTC day from the store's window statistics and alerts."""
    size = report_window(window_sizes_s)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end, prev, week = start + DAY, start - DAY, start - WEEK_DAYS * DAY

    def days(kind: ScopeKind) -> list[ScopeDay]:
        today = fold(store.window_stats(size, start, end, kind))
        before = fold(store.window_stats(size, prev, start, kind))
        return scope_days(today, before, fold(store.window_stats(size, week, start, kind)))

    totals = days(ScopeKind.ALL)
    total = totals[0] if totals else ScopeDay("*", 0, 0, None, 0, None)
    topic_days = days(ScopeKind.TOPIC)
    topics = sorted((t for t in topic_days if t.items), key=lambda t: (-t.items, t.scope))
    tickers = days(ScopeKind.TICKER)
    busiest = sorted((t for t in tickers if t.items), key=lambda t: (-t.items, t.scope))[:top]
    movers = sorted(
        (t for t in tickers if t.items >= min_items and t.prev_items >= min_items),
        key=lambda t: (-abs(t.change or 0.0), t.scope),
    )[:top]
    report = DayReport(
        day, size, total, topics, busiest, movers, hours_of(store, size, start),
        store.alerts(since=start, until=end), len(store.alerts(since=prev, until=start)),
        changes=changes({"ticker": tickers, "topic": topic_days}, min_items, max(3, top // 2)),
        models=queries.models_between(store, start, end),
        store=redact_dsn(str(getattr(store, "url", "") or "")),
    )  # fmt: skip
    if total.items == 0:
        report.days_with_data = queries.days_with_data(store, size)
    if charts:
        from finsentry.app.reports.charts import render_charts

        report.charts = render_charts(report)
    return report
