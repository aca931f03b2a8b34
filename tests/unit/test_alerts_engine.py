"""The alert engine over a real embedded store: firing, evidence, idempotency, silences, grouping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.alerts.channels import webhook_channel
from finsentry.alerts.engine import PROGRESS_KEY, AlertEngine
from finsentry.config import Settings
from finsentry.schema import Alert, AlertStatus, NewsItem, ScopeKind, ScoredItem, TextScore
from finsentry.store import open_store
from finsentry.store.base import BatchWrite, Silence, Store

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
FIXED_NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
TICKERS = [f"T{i:02d}" for i in range(40)]


def clock() -> datetime:
    return FIXED_NOW


def item(n: int, at: datetime, ticker: str, negative: bool) -> ScoredItem:
    probs = (0.85, 0.1, 0.05) if negative else (0.1, 0.6, 0.3)
    news = NewsItem(
        id=f"i{n}",
        published_at=at,
        source="wire",
        headline=f"{ticker} {'plunges after fraud probe' if negative else 'holds annual meeting'} {n}",
        url=f"https://news.example/{n}",
        tickers=(ticker,),
    )
    return ScoredItem(
        item=news,
        scores=TextScore(*probs, topic="Markets" if not negative else "Legal", topic_prob=0.9),
        model="test@1",
        tickers=(ticker,),
    )


def stream(hours: float, seed: int, burst: tuple[str, datetime, int] | None) -> list[ScoredItem]:
    """~90 items/hour over 40 tickers, 25% negative; optionally a negative burst on one ticker."""
    rng = random.Random(seed)
    out: list[ScoredItem] = []
    t = T0
    n = 0
    while t < T0 + timedelta(hours=hours):
        t += timedelta(seconds=rng.expovariate(90 / 3600))
        ticker = TICKERS[min(int(rng.paretovariate(1.2)) - 1, len(TICKERS) - 1)]
        out.append(item(n, t, ticker, rng.random() < 0.25))
        n += 1
    if burst is not None:
        ticker, start, count = burst
        for k in range(count):
            at = start + timedelta(seconds=rng.uniform(0, 900))
            out.append(item(100_000 + k, at, ticker, True))
    return out


def load(store: Store, items: list[ScoredItem], chunks: int = 1) -> None:
    size = max(1, len(items) // chunks + 1)
    for i in range(0, len(items), size):
        store.write_batch(
            BatchWrite(items=items[i : i + size], dead_letters=(), window_sizes_s=(300,))
        )


def settings(tmp_path: Path, name: str, **extra: object) -> Settings:
    return Settings(db=str(tmp_path / name), **extra)  # type: ignore[arg-type]


def test_negative_burst_fires_on_its_ticker_with_evidence(tmp_path: Path) -> None:
    burst_at = T0 + timedelta(hours=8, minutes=2)
    s = settings(tmp_path, "a.db", webhook_urls="http://127.0.0.1:9/hook")
    store = open_store(s.db)
    load(store, stream(10, 1, ("T07", burst_at, 20)))
    engine = AlertEngine(s, store, clock=clock)
    new = engine.evaluate(T0 + timedelta(hours=10))
    ticker_alerts = [a for a in new if a.scope_kind == ScopeKind.TICKER]
    assert ticker_alerts, [a.to_json() for a in new]
    assert {a.scope_value for a in ticker_alerts} == {"T07"}
    first = min(ticker_alerts, key=lambda a: a.window_end)
    assert first.window_end - burst_at <= timedelta(minutes=15)
    assert first.fired_at == FIXED_NOW
    assert first.evidence and all("T07" in e.headline for e in first.evidence)
    assert first.evidence[0].sentiment == "negative"
    assert all(e.url for e in first.evidence)
    # notifications: one per group (alerts fired at the same window) and channel
    due = store.due_notifications(FIXED_NOW + timedelta(days=1))
    groups = {a.window_end for a in new}
    assert len(due) == len(groups)
    hook = "http://127.0.0.1:9/hook"
    assert all(n.channel == webhook_channel(hook) for n in due)
    assert not any(hook in n.key or hook in n.channel for n in due)  # no URL (a secret) stored
    assert any(len(n.payload["alerts"]) >= 1 and n.payload["alerts"][0]["series"] for n in due)
    # a second call, and a fresh engine (a restart), fire nothing new
    assert engine.evaluate(T0 + timedelta(hours=10)) == []
    assert AlertEngine(s, store, clock=clock).evaluate(T0 + timedelta(hours=10)) == []
    assert_numbers_add_up(store, new)
    store.close()


def assert_numbers_add_up(store: Store, alerts: list[Alert]) -> None:
    """Every count or negative-share alert describes exactly its stated window, as stored."""
    for alert in alerts:
        if alert.metric not in ("count", "negative_share"):
            continue
        items = [
            i
            for i in store.items_between(
                alert.window_start, alert.window_end, alert.scope_kind, alert.scope_value, 10_000
            )
            if i.novel
        ]
        if alert.scope_kind == ScopeKind.TICKER:
            negative = sum(i.towards(alert.scope_value).sentiment == "negative" for i in items)
        else:
            negative = sum(i.scores.sentiment == "negative" for i in items)
        want = len(items) if alert.metric == "count" else negative / len(items)
        assert abs(alert.observed - want) < 1e-6, (alert.to_json(), want)


def test_long_burst_is_one_alert_naming_its_span(tmp_path: Path) -> None:
    """18 items over 35 minutes on a quiet ticker: no window is extreme, the run is."""
    s = settings(tmp_path, "long.db")
    store = open_store(s.db)
    start = T0 + timedelta(hours=7)
    items = stream(9, 6, None)
    for j in range(18):
        items.append(item(300_000 + j, start + timedelta(seconds=115 * j + 7), "T33", False))
    load(store, items)
    new = AlertEngine(s, store, clock=clock).evaluate(T0 + timedelta(hours=9))
    t33 = [a for a in new if a.scope_value == "T33"]
    assert len([a for a in t33 if a.rule == "volume_spike"]) == 1, [a.to_json() for a in new]
    alert = t33[0]
    assert alert.window_end - alert.window_start >= timedelta(minutes=10)  # more than one window
    assert start - timedelta(minutes=5) <= alert.window_start
    assert alert.window_end <= start + timedelta(minutes=40)
    assert_numbers_add_up(store, new)
    store.close()


def test_quiet_stream_raises_nothing(tmp_path: Path) -> None:
    s = settings(tmp_path, "q.db")
    store = open_store(s.db)
    load(store, stream(24, 2, None))
    new = AlertEngine(s, store, clock=clock).evaluate(T0 + timedelta(hours=24))
    assert new == [], [a.to_json() for a in new]
    assert store.get_state(PROGRESS_KEY)["next"].startswith("2026-03-03")
    store.close()


def test_same_alerts_whatever_the_evaluation_steps(tmp_path: Path) -> None:
    items = stream(10, 3, ("T03", T0 + timedelta(hours=7, minutes=31), 25))
    a = open_store(str(tmp_path / "one.db"))
    load(a, items)
    one_go = AlertEngine(settings(tmp_path, "one.db"), a, clock=clock).evaluate(
        T0 + timedelta(hours=10)
    )
    b = open_store(str(tmp_path / "steps.db"))
    shuffled = items[:]
    random.Random(9).shuffle(shuffled)
    load(b, shuffled, chunks=7)
    stepped = []
    for minutes in range(0, 601, 17):
        engine = AlertEngine(settings(tmp_path, "steps.db"), b, clock=clock)
        stepped += engine.evaluate(T0 + timedelta(minutes=minutes))
    assert one_go
    assert [x.to_json() for x in one_go] == [x.to_json() for x in stepped]
    a.close()
    b.close()


def test_silence_stores_silenced_alerts_unsent_and_alerts_resolve(tmp_path: Path) -> None:
    burst = ("T05", T0 + timedelta(hours=6, minutes=1), 22)
    s = settings(tmp_path, "m.db", webhook_urls="http://127.0.0.1:9/hook")
    store = open_store(s.db)
    load(store, stream(8, 4, burst))
    until = FIXED_NOW + timedelta(hours=2)
    store.add_silence(Silence("s1", "ticker", "T05", None, FIXED_NOW, until, "known event"))
    new = AlertEngine(s, store, clock=clock).evaluate(T0 + timedelta(hours=8))
    silenced = [a for a in new if a.scope_value == "T05"]
    assert silenced and all(a.status == AlertStatus.SILENCED for a in silenced)
    queued = store.due_notifications(FIXED_NOW + timedelta(days=1), limit=1000)
    sent_ids = {x["id"] for n in queued for x in n.payload["alerts"]}
    assert not sent_ids & {a.id for a in silenced}
    assert {a.id: a.status for a in store.alerts()}[silenced[0].id] == AlertStatus.SILENCED

    other = settings(tmp_path, "r.db")
    store2 = open_store(other.db)
    load(store2, stream(8, 4, burst))
    fired = AlertEngine(other, store2, clock=clock).evaluate(T0 + timedelta(hours=8))
    t05 = [a for a in fired if a.scope_value == "T05"]
    assert t05
    stored = {a.id: a for a in store2.alerts()}
    assert all(stored[a.id].status == AlertStatus.RESOLVED for a in t05)
    store.close()
    store2.close()


def test_cooldown_keeps_one_alert_per_burst_and_restarts_after(tmp_path: Path) -> None:
    from finsentry.alerts.rules import default_rules

    s = settings(tmp_path, "c.db")
    store = open_store(s.db)
    start = T0 + timedelta(hours=6)
    items = stream(9, 5, None)
    for k in range(3):  # three separate bursts on T09: 0 h, +15 min, +2 h
        offset = (timedelta(minutes=15), timedelta(hours=2), timedelta(0))[k]
        for j in range(14):
            at = start + offset + timedelta(seconds=20 * j)
            items.append(item(200_000 + 100 * k + j, at, "T09", True))
    load(store, items)
    rules = [r for r in default_rules(s) if r.name == "volume_spike"]
    new = AlertEngine(s, store, clock=clock, rules=rules).evaluate(T0 + timedelta(hours=9))
    t09 = sorted(a.window_start for a in new if a.scope_value == "T09")
    assert_numbers_add_up(store, new)
    # the burst 15 minutes later falls in the 30-minute cooldown; the one 2 hours later fires
    assert t09 == [start, start + timedelta(hours=2)], t09
    store.close()


def test_in_memory_history_follows_late_items(tmp_path: Path) -> None:
    """Windows are read once; late items make the engine re-read exactly the windows they hit."""
    s = settings(tmp_path, "late.db")
    store = open_store(s.db)
    load(store, stream(8, 7, None))
    engine = AlertEngine(s, store, clock=clock)
    engine.evaluate(T0 + timedelta(hours=6))
    at = T0 + timedelta(hours=5, minutes=1)
    late = [item(400_000 + j, at + timedelta(seconds=j), "T21", j % 2 == 0) for j in range(4)]
    load(store, late)
    engine.note_items(late)
    engine.evaluate(T0 + timedelta(hours=8))
    history = engine.windows.history
    assert history is not None
    for scope in (ScopeKind.TICKER, ScopeKind.ALL):
        value = "T21" if scope is ScopeKind.TICKER else "*"
        stored = store.window_stats(
            300, at - timedelta(minutes=1), at + timedelta(minutes=4), scope, value
        )
        series = history.series((str(scope), value))
        assert series is not None and stored
        assert series.get(stored[0].start) == stored[0]
    assert stored[0].count >= 4
    # a fresh engine (loading everything at once) holds the same windows
    fresh = AlertEngine(s, store, clock=clock)
    fresh.windows.sync(history.origin, T0 + timedelta(hours=8), T0 + timedelta(hours=8))
    assert fresh.windows.history is not None
    for key, series in history.scopes.items():
        other = fresh.windows.history.series(key)
        recent = {i: v for i, v in series.stats.items() if v.start >= T0 + timedelta(hours=4)}
        assert other is not None and recent == {
            i: v for i, v in other.stats.items() if v.start >= T0 + timedelta(hours=4)
        }
    store.close()
