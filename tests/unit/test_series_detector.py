"""The generic series detector on constructed series: spikes, sustained shifts, noise, causality."""

from __future__ import annotations

import math

import numpy as np
import pytest

from finsentry.detectors.series import (
    SeriesConfig,
    SeriesDetector,
    cooldown,
    gate,
    rank_strength,
    robust_z,
    span_scan,
)

HISTORY = 300


def noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(10.0, 1.0, n)


def detector(**overrides: object) -> SeriesDetector:
    params: dict[str, object] = {"history": HISTORY, "gate": 1.0, "suppress": 0.1}
    params.update(overrides)
    return SeriesDetector(SeriesConfig(**params))  # type: ignore[arg-type]


def fired(det: SeriesDetector, x: np.ndarray) -> list[int]:
    return [int(i) + HISTORY for i in np.flatnonzero(det.detect(x)[HISTORY:])]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_a_spike_fires_once_at_once(seed: int, direction: float) -> None:
    x = noise(1500, seed)
    x[1000] += direction * 9.0
    assert fired(detector(), x) == [1000]


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_plain_noise_stays_silent(seed: int) -> None:
    x = noise(3000, seed)
    assert fired(detector(), x) == []
    # the rank alone calls a new extreme of noise strange: the magnitude floor keeps it quiet
    assert detector(min_z=0.0, scan_min_z=math.inf).score(x)[HISTORY:].max() > 0.8


def test_a_sustained_moderate_shift_is_found_by_the_scan_not_by_any_single_row() -> None:
    x = noise(2000, 7)
    x[1400:1440] += 1.8  # under 2 robust z per row on average; no new extreme by itself
    point, scan = detector().magnitude(x)
    assert np.median(point[1400:1440]) < 2.5
    assert scan[1400:1440].max() > 6.0
    shots = fired(detector(), x)
    assert len(shots) == 1 and 1405 <= shots[0] < 1440
    # without the scan (spans of one row only, no scan floor) it is seen late or not at all
    plain = fired(detector(spans=(1,), scan_min_z=math.inf, extremes=False), x)
    assert not plain or plain[0] > shots[0]


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_a_level_shift_fires_soon_and_the_new_level_becomes_normal(direction: float) -> None:
    x = noise(2400, 8)
    x[1200:] += direction * 6.0
    shots = fired(detector(), x)
    assert shots and 1200 <= shots[0] <= 1203
    assert len(shots) <= 2


def test_past_decisions_do_not_move_when_rows_are_appended_or_future_rows_change() -> None:
    x = noise(2000, 9)
    x[700] += 10.0
    x[1400:] += 5.0
    det = detector()
    full = det.decision_score(x)
    for cut in (400, 701, 1100, 1450):
        assert np.array_equal(det.decision_score(x[:cut]), full[:cut])
    altered = x.copy()
    altered[1500:] = -50.0
    assert np.array_equal(det.decision_score(altered)[:1500], full[:1500])


def test_robust_z_is_signed_and_uses_only_earlier_rows() -> None:
    x = np.concatenate([np.tile([9.0, 10.0, 11.0], 20), [20.0, 0.0]])
    z = robust_z(x, history=30)
    assert z[60] > 5 and z[61] < -5
    assert robust_z(x[:61], history=30)[60] == z[60]
    scan = span_scan(np.array([1.0, 1.0, 1.0, 1.0, -4.0]), (1, 4))
    assert scan["scan4"][3] == pytest.approx(4 / 2)  # sum of 4 rows over sqrt(4)
    assert scan["scan1"][4] == pytest.approx(4.0)  # both directions


def test_rank_strength_gate_and_cooldown() -> None:
    values = np.concatenate([np.arange(100.0), [1000.0, 50.0]])
    strength = rank_strength(values, warmup=10)
    assert strength[:10].sum() == 0.0
    assert strength[100] > 0.99 and strength[101] < 0.2
    score = np.array([0.0, 0.5, 0.4, 0.6, 0.6, 0.2, 0.1, 0.3])
    assert gate(score, 2).tolist() == [0.0, 0.5, 0.0, 0.6, 0.0, 0.0, 0.0, 0.3]
    held = np.zeros(100)
    held[[10, 20, 45, 46, 90]] = [0.9, 0.95, 0.99, 0.9, 0.7]
    assert np.flatnonzero(cooldown(held, 0.8, 30)).tolist() == [10, 45]


def test_statistic_names_match_the_statistics() -> None:
    det = detector(spans=(1, 8), spread_spans=(16,), jump=True)
    names = det.statistic_names()
    assert names == list(det.statistics(noise(100, 1)))
    assert names == ["scan1", "scan8", "spread16", "jump", "high", "low"]


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SeriesConfig(threshold=0.0)
    with pytest.raises(ValueError, match="spans"):
        SeriesConfig(spans=())
    with pytest.raises(ValueError, match="history"):
        SeriesConfig(history=5)
    with pytest.raises(ValueError, match="gate"):
        SeriesConfig(gate=-1.0)


def recurring_spikes(seed: int) -> np.ndarray:
    """Noise with a spike every 250 rows, each a hair (0.1 % of its height) above the last."""
    x = noise(3000, seed) * 0.3 + 7.0
    for i, row in enumerate(range(150, 3000, 250)):
        x[row] = 30.0 + 0.02 * i
    return x


def nab_like(**overrides: object) -> SeriesDetector:
    return detector(spans=(32,), spread_spans=(), **overrides)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_peak_that_merely_ties_recurring_ones_is_not_a_record(seed: int) -> None:
    x = recurring_spikes(seed)
    plain = fired(nab_like(tolerance=0.0), x)
    assert len(plain) >= 10  # every spike a new high by a hair: each one fires
    tolerant = fired(nab_like(), x)
    assert len(tolerant) <= 4
    x[2400] = 45.0  # a spike clearly above the others still fires at once
    assert 2400 in fired(nab_like(), x)


def seasonal(seed: int, period: int = 48, days: int = 60) -> np.ndarray:
    """A daily square wave (20 by night, 80 by day) with noise."""
    rows = np.arange(period * days)
    level = np.where(rows % period >= period // 2, 80.0, 20.0)
    return level + np.random.default_rng(seed).normal(0.0, 1.5, len(rows))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_missing_daily_peak_is_found_by_the_seasonal_view_only(seed: int) -> None:
    x = seasonal(seed)
    assert fired(nab_like(period=48), x) == [] and fired(nab_like(), x) == []
    start = 45 * 48 + 24
    x[start : start + 24] -= 40.0  # one day's high at 40 instead of 80: no new low, no new high
    shots = fired(nab_like(period=48), x)
    assert len(shots) == 1 and start <= shots[0] <= start + 4
    assert fired(nab_like(), x) == []  # against the plain baseline 40 is an ordinary value


def test_seasonal_decisions_do_not_move_when_rows_are_appended_or_change() -> None:
    x = seasonal(4)
    x[45 * 48 + 24 : 46 * 48] -= 40.0
    det = nab_like(period=48)
    full = det.decision_score(x)
    assert full.max() > 0.8
    for cut in (500, 1500, 2200):
        assert np.array_equal(det.decision_score(x[:cut]), full[:cut])
    altered = x.copy()
    altered[2300:] = 0.0
    assert np.array_equal(det.decision_score(altered)[:2300], full[:2300])


def test_seasonal_view_only_where_a_rhythm_explains_the_movement() -> None:
    det = nab_like(period=48)
    assert det.components(seasonal(5)).seasonal[300:].all()
    assert not det.components(noise(2880, 5)).seasonal.any()
    names = det.statistic_names()
    assert names == ["scan32", "high", "low", "season1", "season32"]
    assert names == list(det.statistics(seasonal(5)))


def test_config_rejects_bad_tolerance_and_period() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        SeriesConfig(tolerance=1.0)
    with pytest.raises(ValueError, match="period"):
        SeriesConfig(period=4, season_width=2)
