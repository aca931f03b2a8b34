"""Detectors on constructed window series: spikes, surges, level shifts, quiet rhythms."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from finsentry.anomaly import (
    DetectorConfig,
    LevelShiftDetector,
    NegativeSurgeDetector,
    ScopeSeries,
    VolumeSpikeDetector,
    best_score,
    poisson_sf,
    robust_baseline,
)
from finsentry.schema import ScopeKind, WindowStat

STEP = 300
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _stat(i: int, count: int, negative: int = 0, score_sum: float | None = None) -> WindowStat:
    positive = max(0, (count - negative) // 2)
    neutral = count - negative - positive
    if score_sum is None:
        score_sum = 0.5 * positive - 0.6 * negative
    return WindowStat(
        STEP,
        T0 + timedelta(seconds=i * STEP),
        ScopeKind.TICKER,
        "ACME",
        count,
        negative,
        neutral,
        positive,
        score_sum,
    )


def _series(stats: list[WindowStat]) -> ScopeSeries:
    return ScopeSeries(STEP, [s for s in stats if s.count], T0)


def _start(i: int) -> datetime:
    return T0 + timedelta(seconds=i * STEP)


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method; fine for the small rates used here
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_poisson_sf_matches_closed_forms() -> None:
    assert poisson_sf(0, 2.0) == 1.0
    assert poisson_sf(1, 2.0) == pytest.approx(1 - math.exp(-2.0))
    exact = 1 - sum(math.exp(-0.5) * 0.5**k / math.factorial(k) for k in range(7))
    assert poisson_sf(7, 0.5) == pytest.approx(exact, rel=1e-6)
    assert poisson_sf(50, 1.0) < 1e-40


def test_robust_baseline_ignores_a_past_spike() -> None:
    values = [10.0, 11, 9, 10, 12, 10, 9, 11, 80, 10]
    mean, sd, kept = robust_baseline(values, 4.0)
    assert kept == 9
    assert 9.5 < mean < 11
    assert sd < 3


def test_volume_spike_fires_and_warmup_stays_silent() -> None:
    rng = random.Random(1)
    stats = [_stat(i, _poisson(rng, 6.0)) for i in range(60)]
    stats.append(_stat(60, 40))
    series = _series(stats)
    det = VolumeSpikeDetector(DetectorConfig())
    spike = det.score(series, _start(60))
    assert spike is not None and det.decide(spike)
    assert spike.observed == 40 and 4 < spike.expected < 8
    quiet = [det.score(series, _start(i)) for i in range(10, 60)]
    assert not any(s is not None and det.decide(s) for s in quiet)
    assert det.score(series, _start(2)) is None  # warm-up


def test_sparse_scope_does_not_fire_on_three_or_four_items() -> None:
    stats = [_stat(i, 1 if i % 7 == 0 else 0) for i in range(80)]
    stats.append(_stat(80, 4, negative=4))
    series = _series(stats)
    cfg = DetectorConfig()
    for det in (VolumeSpikeDetector(cfg), NegativeSurgeDetector(cfg)):
        score = best_score(det, series, _start(80))
        assert score is not None
        assert not det.decide(score), (det, score)


def test_negative_surge_under_low_volume_fires_by_count() -> None:
    rng = random.Random(2)
    stats = []
    for i in range(80):
        n = _poisson(rng, 0.3)
        stats.append(_stat(i, n, negative=min(n, _poisson(rng, 0.1))))
    # a burst of 9 negative items spread over two windows on a quiet ticker
    stats.append(_stat(80, 4, negative=4))
    stats.append(_stat(81, 5, negative=5))
    series = _series(stats)
    det = NegativeSurgeDetector(DetectorConfig())
    first = best_score(det, series, _start(80))
    second = best_score(det, series, _start(81))
    assert first is not None and not det.decide(first)
    assert second is not None and det.decide(second) and second.span == 2


def test_negative_share_surge_needs_support() -> None:
    rng = random.Random(3)
    stats = [_stat(i, 20, negative=_poisson(rng, 4.0)) for i in range(60)]
    stats.append(_stat(60, 20, negative=15))
    series = _series(stats)
    det = NegativeSurgeDetector(DetectorConfig())
    s = det.score(series, _start(60))
    assert s is not None and det.decide(s) and s.observed == 0.75
    assert s.expected < 0.35
    strict = NegativeSurgeDetector(DetectorConfig(min_support=25, min_negatives=100))
    s2 = strict.score(series, _start(60))
    assert s2 is not None and not strict.decide(s2)


def test_daily_rhythm_without_event_is_quiet() -> None:
    rng = random.Random(4)
    per_day = 86400 // STEP
    stats = []
    for i in range(per_day * 5):
        hour = (i % per_day) * STEP / 3600
        lam = 2.0 + 18.0 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 2.0
        n = _poisson(rng, lam)
        stats.append(_stat(i, n, negative=sum(rng.random() < 0.3 for _ in range(n))))
    series = _series(stats)
    cfg = DetectorConfig()
    fired = []
    for det in (VolumeSpikeDetector(cfg), NegativeSurgeDetector(cfg)):
        for i in range(len(stats)):
            s = best_score(det, series, _start(i))
            if s is not None and det.decide(s):
                fired.append((det.metric, i, s))
    assert fired == []
    # and the seasonal baseline is used once a few days exist
    late = VolumeSpikeDetector(cfg).score(series, _start(per_day * 4 + 100))
    assert late is not None and late.baseline == "seasonal"


def test_level_shift_cusum_detects_a_sustained_drop() -> None:
    rng = random.Random(5)
    stats = []
    for i in range(80):
        n = 12
        mean = 0.1 if i < 70 else -0.35
        score_sum = sum(mean + rng.gauss(0, 0.4) for _ in range(n))
        stats.append(_stat(i, n, negative=3, score_sum=score_sum))
    series = _series(stats)
    det = LevelShiftDetector(DetectorConfig())
    before = [det.score(series, _start(i)) for i in range(20, 70)]
    assert not any(s is not None and det.decide(s) for s in before)
    after = det.score(series, _start(75))
    assert after is not None and det.decide(after)
    assert after.observed < after.expected


def test_scores_do_not_depend_on_input_order() -> None:
    rng = random.Random(6)
    stats = [_stat(i, _poisson(rng, 3.0), negative=_poisson(rng, 1.0)) for i in range(50)]
    a = _series(stats)
    shuffled = stats[:]
    rng.shuffle(shuffled)
    b = _series(shuffled)
    cfg = DetectorConfig()
    for det in (VolumeSpikeDetector(cfg), NegativeSurgeDetector(cfg), LevelShiftDetector(cfg)):
        for i in range(50):
            assert det.score(a, _start(i)) == det.score(b, _start(i))


def test_rule_for_windows_cooldown_and_severity() -> None:
    from finsentry.alerts.rules import Rule

    stats = [_stat(i, 5) for i in range(40)]
    stats += [_stat(40, 40), _stat(41, 60), _stat(42, 5)]
    series = _series(stats)
    cfg = DetectorConfig()
    once = Rule("volume_spike", VolumeSpikeDetector(cfg), cfg.volume_threshold)
    twice = Rule("volume_spike", VolumeSpikeDetector(cfg), cfg.volume_threshold, for_windows=2)
    assert once.holds(series, _start(40))[0]
    assert not twice.holds(series, _start(40))[0]  # the condition has held one window only
    assert twice.holds(series, _start(41))[0]
    assert not once.holds(series, _start(42))[0]
    held, score = once.holds(series, _start(41))
    assert held and score is not None
    assert once.severity(score) == "critical" and score.value >= 2 * cfg.volume_threshold
    mild = Rule("volume_spike", VolumeSpikeDetector(cfg), cfg.volume_threshold, critical_factor=1e9)
    assert mild.severity(score) == "warning"
