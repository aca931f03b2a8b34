"""The univariate detector on constructed series: spikes, noise, level shifts, suppression, causality."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks import nab
from benchmarks.univariate import (
    UnivariateConfig,
    UnivariateDetector,
    gate,
    rank_strength,
    regular_period,
    suppress,
)

HISTORY = 300


def noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(10.0, 1.0, n)


def detector(**overrides: object) -> UnivariateDetector:
    params: dict[str, object] = {"history": HISTORY, "gate": HISTORY, "suppress": 30}
    params.update(overrides)
    return UnivariateDetector(UnivariateConfig(**params))  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spike_is_detected_at_once_and_nothing_else_fires(seed: int) -> None:
    x = noise(1500, seed)
    x[1000] += 9.0
    fired = np.flatnonzero(detector().detect(x)[HISTORY:]) + HISTORY
    assert fired.tolist() == [1000]


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_flat_noise_does_not_fire(seed: int) -> None:
    x = noise(3000, seed)
    assert detector().detect(x)[HISTORY:].sum() == 0
    # the score is rank-calibrated: plain noise reaches it only when it sets a new extreme,
    # which the magnitude floor (min_z) keeps from firing
    assert detector(min_z=0.0).score(x).max() > 0.8


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_level_shift_is_detected_once_soon_after_it_starts(direction: float) -> None:
    x = noise(2000, 7)
    x[1200:] += direction * 6.0
    fired = np.flatnonzero(detector().detect(x)[HISTORY:]) + HISTORY
    assert len(fired) >= 1
    assert 1200 <= fired[0] <= 1205
    # the new level is normal after a while: at most one more detection as the baseline adapts
    assert len(fired) <= 2


def test_suppression_silences_the_rows_after_a_detection() -> None:
    score = np.zeros(200)
    score[[10, 20, 45, 46, 100]] = [0.9, 0.95, 0.99, 0.9, 0.7]
    kept = suppress(score, threshold=0.8, rows=30)
    assert np.flatnonzero(kept).tolist() == [10, 45]
    assert kept[10] == pytest.approx(0.9) and kept[45] == pytest.approx(0.99)
    assert np.flatnonzero(suppress(score, threshold=0.8, rows=0)).tolist() == [10, 20, 45, 46]


def test_repeated_spikes_fire_once_per_suppression_period() -> None:
    x = noise(1500, 8)
    x[[1000, 1010, 1020]] += [12.0, 14.0, 16.0]  # each larger than the last: all pass the gate
    loose = detector(suppress=0).detect(x)
    quiet = detector(suppress=50).detect(x)
    # without suppression each spike fires (and the drop back after the largest, a record jump)
    assert {700, 710, 720} <= set(np.flatnonzero(loose[HISTORY:]).tolist())
    assert np.flatnonzero(quiet[HISTORY:]).tolist() == [700]


def test_gate_keeps_only_scores_above_the_recent_maximum() -> None:
    score = np.array([0.0, 0.5, 0.4, 0.6, 0.6, 0.2, 0.1, 0.3])
    assert gate(score, 2).tolist() == [0.0, 0.5, 0.0, 0.6, 0.0, 0.0, 0.0, 0.3]
    assert gate(score, 0).tolist() == score.tolist()


def test_rank_strength_is_one_for_a_new_maximum_and_low_for_an_ordinary_value() -> None:
    values = np.concatenate([np.arange(100.0), [1000.0, 50.0]])
    strength = rank_strength(values, warmup=10)
    assert strength[:10].sum() == 0.0
    assert strength[100] > 0.99
    assert strength[101] < 0.2
    values = np.array([5.0, 1.0, 2.0, 3.0, 4.0])
    windowed = rank_strength(values, warmup=1, memory=2)
    # 4.0 is the largest of the last two (the most two rows can say), though not larger than 5.0
    assert windowed[4] == pytest.approx(np.log10(3) / np.log10(4))
    assert rank_strength(values, warmup=1)[4] < windowed[4] - 0.2


def test_past_decisions_do_not_change_when_future_rows_arrive() -> None:
    x = noise(2000, 9)
    x[700] += 10.0
    x[1400:] += 5.0
    det = detector()
    full_score = det.score(x)
    full_decision = det.decision_score(x)
    for cut in (500, 701, 1100, 1450):
        assert np.array_equal(det.score(x[:cut]), full_score[:cut])
        assert np.array_equal(det.decision_score(x[:cut]), full_decision[:cut])
    # and changing a future row leaves the past alone
    altered = x.copy()
    altered[1500:] = 0.0
    assert np.array_equal(det.decision_score(altered)[:1500], full_decision[:1500])


def test_season_view_uses_the_daily_period_and_stays_causal() -> None:
    n = 288 * 12  # twelve days of 5-minute rows
    stamps = np.datetime64("2026-01-01T00:00:00") + np.arange(n) * np.timedelta64(300, "s")
    assert regular_period(stamps, n) == 288
    assert regular_period(stamps[::7], n // 7) == 0  # 35-minute step does not divide a day
    t = np.arange(n)
    x = 10 + 5 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(10).normal(0, 0.3, n)
    x[288 * 10 + 100] += 4.0  # unusual for this time of day, ordinary for the day's range
    det = detector(views=("season",), min_z=0.0, history=288 * 2, gate=288, suppress=288)
    score = det.score(x, stamps)
    assert score[: 2 * 288].max() == 0.0  # the view waits for a day of residuals
    assert np.argmax(score[288 * 3 :]) + 288 * 3 == 288 * 10 + 100
    assert det.detect(x, stamps)[288 * 10 + 100]
    plain = detector(views=("value",), min_z=0.0, history=288 * 2, gate=288, suppress=288)
    assert plain.score(x)[288 * 10 + 100] < score[288 * 10 + 100] - 0.3
    cut = 288 * 9
    assert np.array_equal(det.score(x[:cut], stamps[:cut]), det.score(x, stamps)[:cut])


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="views"):
        UnivariateConfig(views=("nope",))
    with pytest.raises(ValueError, match="threshold"):
        UnivariateConfig(threshold=0.0)
    with pytest.raises(ValueError, match="history"):
        UnivariateConfig(history=3)


# --- the benchmark's use of it: 2-fold scoring on synthetic files (no NAB data needed) ---------


def nab_series(name: str, n: int, windows: list[tuple[int, int]], seed: int) -> nab.Series:
    stamps = np.arange(n).astype("datetime64[m]").astype("datetime64[s]")
    values = noise(n, seed)
    for lo, hi in windows:
        values[(lo + hi) // 2] += 12.0
    return nab.Series(name, stamps, values, tuple(windows))


NAB_COSTS = {"standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}


def test_two_fold_alternates_within_categories_and_scores_null_and_perfect() -> None:
    corpus = [
        nab_series("a/1.csv", 1200, [(500, 600)], 1),
        nab_series("a/2.csv", 1200, [(700, 800)], 2),
        nab_series("b/1.csv", 1500, [(600, 700), (1100, 1200)], 3),
        nab_series("b/2.csv", 1500, [(900, 1000)], 4),
    ]
    assert nab.folds(corpus) == [["a/1.csv", "b/1.csv"], ["a/2.csv", "b/2.csv"]]
    perfect = {s.name: nab.perfect_scores(s) for s in corpus}
    null = {s.name: nab.null_scores(s) for s in corpus}
    both = nab.two_fold(corpus, {"perfect": perfect, "null": null}, NAB_COSTS)["standard"]
    assert both.score == pytest.approx(100.0)
    assert all("perfect" in c for c in both.chosen)
    assert nab.two_fold(corpus, {"null": null}, NAB_COSTS)["standard"].score == pytest.approx(0.0)
    # the univariate detector finds these spikes on held-out files too
    grid = {"default": {s.name: nab.univariate_scores(s) for s in corpus}}
    assert nab.two_fold(corpus, grid, NAB_COSTS)["standard"].score > 50.0
