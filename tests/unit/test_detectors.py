"""Detectors on constructed window series: spikes and sustained runs, cold start, quiet rhythms."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from finsentry.alerts.rules import Rule
from finsentry.detectors.base import DetectorConfig
from finsentry.detectors.history import ALL_KEY, History
from finsentry.detectors.negative import NegativeSurgeDetector
from finsentry.detectors.stats import (
    betabinom_log_sf,
    nbinom_log_sf,
    poisson_log_sf,
    poisson_sf,
    z_of_log_p,
)
from finsentry.detectors.tone import ToneShiftDetector
from finsentry.detectors.volume import VolumeDetector, flow_baseline, robust_baseline
from finsentry.schema import Alert, ScopeKind, WindowStat

STEP = 300
T0 = datetime(2026, 1, 5, tzinfo=UTC)
CFG = DetectorConfig()
TICKERS = [f"T{i:02d}" for i in range(30)]


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _stat(kind: ScopeKind, value: str, i: int, count: int, negative: int) -> WindowStat:
    positive = (count - negative) // 2
    return WindowStat(
        STEP, T0 + timedelta(seconds=i * STEP), kind, value, count, negative,
        count - negative - positive, positive, 0.5 * positive - 0.6 * negative,
    )  # fmt: skip


def _start(i: int) -> datetime:
    return T0 + timedelta(seconds=i * STEP)


def _ix(i: int) -> int:
    """The history's number of the i-th window of these tests."""
    return int(_start(i).timestamp()) // STEP


def market(
    windows: int, seed: int, extra: dict[int, tuple[int, int]] | None = None, ticker: str = "T07"
) -> History:
    """30 tickers with Zipf-like rates (about 6 items a window in all), 25% negative; ``extra``
    adds (items, negatives) to ``ticker`` at given windows."""
    rng = random.Random(seed)
    rates = [1.5 / (rank + 1) for rank in range(len(TICKERS))]
    stats: list[WindowStat] = []
    names = TICKERS if ticker in TICKERS else [*TICKERS, ticker]
    rates += [0.0] * (len(names) - len(rates))
    for i in range(windows):
        total = total_neg = 0
        for name, rate in zip(names, rates, strict=True):
            n = _poisson(rng, rate) if rate else 0
            neg = sum(rng.random() < 0.25 for _ in range(n))
            if extra and name == ticker and i in extra:
                n, neg = n + extra[i][0], neg + extra[i][1]
            if n:
                stats.append(_stat(ScopeKind.TICKER, name, i, n, neg))
            total, total_neg = total + n, total_neg + neg
        if total:
            stats.append(_stat(ScopeKind.ALL, "*", i, total, total_neg))
    history = History(STEP, T0, CFG.history_windows)
    history.replace(stats, T0, _start(windows))
    return history


def fired(rule: Rule, history: History, key: tuple[str, str], windows: range) -> list[int]:
    return [i for i in windows if rule.holds(history, key, _start(i))[0]]


def volume_rule() -> Rule:
    return Rule("volume_spike", VolumeDetector(CFG), CFG.volume_threshold, spans=CFG.spans)


def negative_rule() -> Rule:
    return Rule("negative_surge", NegativeSurgeDetector(CFG), CFG.tone_threshold, spans=CFG.spans)


def test_tails_match_closed_forms() -> None:
    assert poisson_sf(1, 2.0) == 1.0  # not above the mean: no evidence
    exact = 1 - sum(math.exp(-0.5) * 0.5**k / math.factorial(k) for k in range(7))
    assert poisson_sf(7, 0.5) == pytest.approx(exact, rel=1e-6)
    assert poisson_log_sf(50, 1.0) < math.log(1e-40)
    # a negative binomial with a huge shape is the Poisson; a small shape has a heavier tail
    assert nbinom_log_sf(9, 1e7, 1.0) == pytest.approx(poisson_log_sf(9, 1.0), rel=1e-3)
    assert nbinom_log_sf(9, 0.5, 1.0) > poisson_log_sf(9, 1.0) + 5
    # beta-binomial: 15 of 15 at a share of 0.3 known from few items is less surprising
    weak, strong = betabinom_log_sf(15, 15, 3, 7), betabinom_log_sf(15, 15, 300, 700)
    assert weak > strong and strong == pytest.approx(15 * math.log(0.3), rel=0.02)
    assert z_of_log_p(math.log(1e-9)) == pytest.approx(5.998, abs=0.01)
    assert 37 < z_of_log_p(-800.0) < 41


def test_robust_baseline_ignores_a_past_spike() -> None:
    mean, sd, kept = robust_baseline([10.0, 11, 9, 10, 12, 10, 9, 11, 80, 10], 4.0)
    assert kept == 9 and 9.5 < mean < 11 and sd < 3


def test_sharp_spike_fires_once_with_its_span() -> None:
    history = market(300, 1, {250: (14, 3)})
    key = ("ticker", "T07")
    rule = volume_rule()
    assert fired(rule, history, key, range(40, 300))[0] == 250
    held, score = rule.holds(history, key, _start(250))
    assert held and score is not None and score.span == 1
    series = history.series(key)
    assert series is not None and score.observed == series.stats[_ix(250)].count


def test_sustained_run_no_window_extreme_fires_with_its_span() -> None:
    # 3-4 items a window for 35 minutes on a ticker that sees ~0.1 a window
    run = {260 + i: (3 + i % 2, 0) for i in range(7)}
    history = market(300, 2, run, ticker="T14")
    key = ("ticker", "T14")
    rule = volume_rule()
    single = Rule("one", VolumeDetector(CFG), CFG.volume_threshold, spans=(1,))
    assert fired(single, history, key, range(40, 300)) == []  # no one window is extreme
    hits = fired(rule, history, key, range(40, 300))
    assert hits and 261 <= hits[0] <= 266, hits
    _, score = rule.holds(history, key, _start(hits[0]))
    assert score is not None and score.span >= 3
    first = hits[0] - score.span + 1
    assert first >= 258  # the span it names starts at the run, not long before
    series = history.series(key)
    assert series is not None
    assert score.observed == series.span_sum_at(_ix(hits[0]), score.span)
    assert score.observed >= sum(run[i][0] for i in range(max(first, 260), hits[0] + 1))


def test_rate_of_a_quiet_scope_comes_from_the_prior_not_a_floor() -> None:
    # a ticker never seen before: its expected count is the cross-section's rate (about 0.02 a
    # window here), so a run of 3-4 items a window fires at its second window, a window earlier
    # than with the old floor of 0.1 items a window; 4 items in one window stay quiet
    run = {260 + i: (3 + i % 2, 0) for i in range(7)}
    history = market(300, 2, run, ticker="NEWCO")
    key = ("ticker", "NEWCO")
    floored = Rule("old", VolumeDetector(replace(CFG, min_rate=0.1)), 6.0, spans=CFG.spans)
    assert fired(volume_rule(), history, key, range(40, 300))[:1] == [261]
    assert fired(floored, history, key, range(40, 300))[:1] == [262]
    _, score = volume_rule().holds(history, key, _start(261))
    assert score is not None and (score.span, score.observed) == (2, 7)
    assert score.expected < 0.1 * score.span
    lone = market(300, 2, {260: (4, 0)}, ticker="NEWCO")
    assert fired(volume_rule(), lone, key, range(40, 300)) == []
    alert = Alert(
        "volume_spike", ScopeKind.TICKER, "NEWCO", "count", _start(260), _start(262), _start(262),
        "critical", score.observed, round(score.expected, 6),
    )  # fmt: skip
    text = VolumeDetector(CFG).describe(alert)
    assert text.startswith("7 items in 21:40-21:50 UTC (10 min), expected 0.0")
    assert f"expected {score.expected:.2f} in that span" in text and "0.00" not in text


def test_negative_rate_is_the_volume_rate_times_the_share() -> None:
    history = market(300, 2)
    key = ("ticker", "T03")
    series = history.series(key)
    assert series is not None
    end = _ix(280)
    volume = flow_baseline(history, key, series, end, 3, CFG)
    vague = flow_baseline(history, key, series, end, 3, CFG, (0.25, 2.0))
    firm = flow_baseline(history, key, series, end, 3, CFG, (0.25, 300.0))
    assert volume is not None and vague is not None and firm is not None
    assert vague[1] == pytest.approx(0.25 * volume[1]) == firm[1]
    # a product of uncertain rate and share is less certain than either; a firmer share helps
    assert vague[0] < firm[0] < volume[0]
    assert firm[0] > 0.5 * volume[0]


def test_quiet_market_raises_nothing() -> None:
    history = market(600, 3)
    for rule in (volume_rule(), negative_rule()):
        for name in TICKERS[:12]:
            assert fired(rule, history, ("ticker", name), range(0, 600)) == [], (rule.name, name)
        assert fired(rule, history, ALL_KEY, range(0, 600)) == []


def test_sparse_ticker_does_not_fire_on_three_or_four_items() -> None:
    history = market(300, 4, {250: (4, 4)}, ticker="T25")
    for rule in (volume_rule(), negative_rule()):
        assert fired(rule, history, ("ticker", "T25"), range(200, 300)) == []


def test_negative_surge_without_volume_change() -> None:
    # the busiest ticker keeps its volume, but for 90 minutes nearly everything about it is negative
    rng = random.Random(5)
    history = market(300, 5)
    series = history.series(("ticker", "T00"))
    assert series is not None
    for i in range(240, 258):
        stat = series.stats.get(_ix(i))
        if stat is not None:
            neg = sum(rng.random() < 0.95 for _ in range(stat.count))
            series.stats[_ix(i)] = _stat(ScopeKind.TICKER, "T00", i, stat.count, neg)
    hits = fired(negative_rule(), history, ("ticker", "T00"), range(40, 300))
    assert hits and 242 <= hits[0] <= 257, hits
    assert fired(volume_rule(), history, ("ticker", "T00"), range(230, 260)) == []


def test_cold_start_new_ticker_borrows_the_cross_section() -> None:
    # a ticker never seen before gets 20 items in 15 minutes three hours into a store
    history = market(40, 6, {36: (7, 5), 37: (7, 6), 38: (6, 5)}, ticker="NEWCO")
    key = ("ticker", "NEWCO")
    score = volume_rule().score(history, key, _start(37))
    assert score is not None and score.baseline == "prior"
    assert fired(volume_rule(), history, key, range(30, 40))
    assert fired(negative_rule(), history, key, range(30, 40))
    # ... while two items on a new ticker are nothing
    calm = market(40, 6, {36: (2, 2)}, ticker="NEWCO")
    assert fired(volume_rule(), calm, key, range(30, 40)) == []
    assert fired(negative_rule(), calm, key, range(30, 40)) == []


def test_level_shift_cusum_detects_a_sustained_drop() -> None:
    rng = random.Random(7)
    stats = []
    for i in range(80):
        mean = 0.1 if i < 70 else -0.35
        score_sum = sum(mean + rng.gauss(0, 0.4) for _ in range(12))
        stats.append(WindowStat(STEP, _start(i), ScopeKind.ALL, "*", 12, 3, 5, 4, score_sum))
    history = History(STEP, T0, CFG.history_windows)
    history.replace(stats, T0, _start(80))
    det = ToneShiftDetector(CFG)
    rule = Rule("tone_shift", det, CFG.cusum_h, spans=(CFG.cusum_windows,))
    assert fired(rule, history, ALL_KEY, range(20, 70)) == []
    held, after = rule.holds(history, ALL_KEY, _start(75))
    assert held and after is not None and after.observed < after.expected


def test_scores_do_not_depend_on_input_order() -> None:
    a = market(200, 8, {150: (9, 6)})
    stats = [s for series in a.scopes.values() for s in series.stats.values()]
    random.Random(8).shuffle(stats)
    b = History(STEP, T0, CFG.history_windows)
    b.replace(stats, T0, _start(200))
    for rule in (volume_rule(), negative_rule()):
        for i in range(100, 200):
            assert rule.score(a, ("ticker", "T07"), _start(i)) == rule.score(
                b, ("ticker", "T07"), _start(i)
            )


def test_rule_for_windows_and_severity() -> None:
    history = market(300, 9, {250: (20, 2), 251: (25, 2)})
    key = ("ticker", "T07")
    once = volume_rule()
    twice = Rule("volume_spike", VolumeDetector(CFG), CFG.volume_threshold, for_windows=2)
    assert once.holds(history, key, _start(250))[0]
    assert not twice.holds(history, key, _start(250))[0]  # held one window only
    assert twice.holds(history, key, _start(251))[0]
    held, score = once.holds(history, key, _start(251))
    assert held and score is not None
    assert once.severity(score) == "critical"
    mild = Rule("volume_spike", VolumeDetector(CFG), CFG.volume_threshold, critical_factor=1e9)
    assert mild.severity(score) == "warning"


def test_a_dominant_topic_is_scored_on_the_days_still_held() -> None:
    """A topic holding all the news is scored on its own level, like the all scope; its windows
    are pruned after a day (the all scope keeps a week), so its earlier days are unknown, not
    empty: the expected count comes from what is held and a flat topic does not fire."""
    rng = random.Random(3)
    days = 4 * 288
    stats = []
    for i in range(days):
        n = _poisson(rng, 60.0)
        stats += [
            _stat(ScopeKind.ALL, "*", i, n, n // 4),
            _stat(ScopeKind.TOPIC, "News", i, n, n // 4),
        ]
    history = History(STEP, T0, CFG.history_windows)
    history.replace(stats, T0, _start(days))
    keep = CFG.history_windows + CFG.longest_span + CFG.trailing_windows + 2  # as the engine
    history.prune(_start(days - 48 - keep), T0)
    assert history.held_from(("topic", "News")) == _ix(days - 48 - keep)
    assert history.held_from(ALL_KEY) == _ix(0)
    detector = VolumeDetector(CFG)
    for span in CFG.spans:
        score = detector.score(history, ("topic", "News"), _start(days - 1), span)
        assert score is not None and score.expected > 40 * span, span
    assert fired(volume_rule(), history, ("topic", "News"), range(days - 48, days)) == []
