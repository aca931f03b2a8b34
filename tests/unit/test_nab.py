"""The NAB scorer on synthetic files: null 0, perfect 100, and the rules in between."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from benchmarks import nab

PROFILES = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}


def series(name: str, n: int, windows: list[tuple[int, int]], seed: int = 0) -> nab.Series:
    stamps = np.arange(n).astype("datetime64[m]").astype("datetime64[s]")
    rng = np.random.default_rng(seed)
    values = rng.normal(10, 1, n)
    for lo, hi in windows:
        values[(lo + hi) // 2] += 15
    return nab.Series(name, stamps, values, tuple(windows))


@pytest.fixture
def corpus() -> list[nab.Series]:
    return [
        series("catA/one.csv", 2000, [(600, 700), (1500, 1600)], 1),
        series("catA/two.csv", 1000, [(500, 560)], 2),
        series("catB/three.csv", 3000, [(900, 1000), (2000, 2100), (2700, 2800)], 3),
    ]


def fire_at(corpus: list[nab.Series], where: dict[str, list[int]]) -> dict[str, np.ndarray]:
    out = {}
    for s in corpus:
        d = np.zeros(len(s.values))
        d[where.get(s.name, [])] = 1.0
        out[s.name] = d
    return out


def scores(corpus: list[nab.Series], dets: dict[str, np.ndarray]) -> dict[str, float]:
    res = nab.score_corpus(corpus, dets, PROFILES, thresholds=np.array([0.5]))
    return {p: r.score for p, r in res.items()}


def test_null_scores_zero_and_perfect_scores_hundred(corpus: list[nab.Series]) -> None:
    null = scores(corpus, {s.name: nab.null_scores(s) for s in corpus})
    perfect = scores(corpus, {s.name: nab.perfect_scores(s) for s in corpus})
    for profile in PROFILES:
        assert null[profile] == pytest.approx(0.0)
        assert perfect[profile] == pytest.approx(100.0)
    per_cat = nab.score_corpus(
        corpus, {s.name: nab.perfect_scores(s) for s in corpus}, PROFILES, np.array([0.5])
    )["standard"].per_category
    assert per_cat == {"catA": pytest.approx(100.0), "catB": pytest.approx(100.0)}


def test_scaled_sigmoid_rewards_early_detection() -> None:
    assert float(nab.scaled_sigmoid(-1.0)) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert float(nab.scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(nab.scaled_sigmoid(4.0)) == -1.0
    assert float(nab.scaled_sigmoid(-0.5)) > float(nab.scaled_sigmoid(-0.1)) > 0


def test_earliest_detection_counts_once_and_late_ones_earn_less(corpus: list[nab.Series]) -> None:
    early = {s.name: [lo for lo, _ in s.windows] for s in corpus}
    late = {s.name: [hi for _, hi in s.windows] for s in corpus}
    twice = {s.name: [lo for lo, _ in s.windows] + [lo + 5 for lo, _ in s.windows] for s in corpus}
    s_early = scores(corpus, fire_at(corpus, early))["standard"]
    s_late = scores(corpus, fire_at(corpus, late))["standard"]
    s_twice = scores(corpus, fire_at(corpus, twice))["standard"]
    assert s_early == pytest.approx(100.0)
    assert s_twice == pytest.approx(s_early)  # a second detection in the window is ignored
    assert 0 < s_late < s_early


def test_false_positives_cost_by_profile_and_probation_is_ignored(
    corpus: list[nab.Series],
) -> None:
    fp_rows = {s.name: [s.probation + 10] for s in corpus}  # before every window: weight -1
    s_fp = scores(corpus, fire_at(corpus, fp_rows))
    windows = sum(len(s.windows) for s in corpus)
    perfect_raw = windows * 1.0  # NAB: tpWeight per window
    # raw = -windows (all missed) - 3 * fpWeight; null raw = -windows
    assert s_fp["standard"] == pytest.approx(100 * (-3 * 0.11) / (perfect_raw + windows))
    assert s_fp["reward_low_FP_rate"] == pytest.approx(2 * s_fp["standard"])
    in_probation = {s.name: [5] for s in corpus}
    assert scores(corpus, fire_at(corpus, in_probation))["standard"] == pytest.approx(0.0)
    assert nab.probation_rows(1000) == 150 and nab.probation_rows(100_000) == 750


def test_fp_right_after_a_window_costs_less_than_far_after(corpus: list[nab.Series]) -> None:
    one = [corpus[0]]
    lo, hi = one[0].windows[0]
    near = scores(one, fire_at(one, {one[0].name: [hi + 2]}))["standard"]
    far = scores(one, fire_at(one, {one[0].name: [hi + 500]}))["standard"]
    assert far < near < 0
    # NAB's sweeper: distance past the window in (window rows - 1), weight = scaled sigmoid
    table = nab.file_table(one[0])
    width = hi - lo + 1
    assert table.fp_value[hi + 10] == pytest.approx(float(nab.scaled_sigmoid(10 / (width - 1))))
    assert table.fp_value[one[0].probation + 1] == -1.0  # before any window


def test_tp_weight_is_the_sigmoid_relative_to_the_first_row() -> None:
    s = series("c/one.csv", 1000, [(400, 499)])
    table = nab.file_table(s)
    assert table.tp_value[0][0] == pytest.approx(1.0)  # first row: exactly tpWeight
    assert table.tp_value[0][50] == pytest.approx(float(nab.scaled_sigmoid(-50 / 100)) / nab.MAX_TP)
    # a detection half-way in: raw = 0.848.. / 0.986..; normalised against null -1 and perfect 1
    half = {s.name: np.eye(1, 1000, 450).ravel()}
    res = nab.score_corpus([s], half, PROFILES, thresholds=np.array([0.5]))["standard"]
    assert res.score == pytest.approx(100 * (table.tp_value[0][50] + 1) / 2)


def test_threshold_is_optimised_over_the_corpus(corpus: list[nab.Series]) -> None:
    dets = {}
    for s in corpus:
        d = np.full(len(s.values), 0.2)
        for lo, _ in s.windows:
            d[lo] = 0.9
        d[s.probation + 3] = 0.6  # a false positive that a threshold in (0.6, 0.9] avoids
        dets[s.name] = d
    res = nab.score_corpus(corpus, dets, PROFILES)
    assert res["standard"].score == pytest.approx(100.0)
    assert 0.6 < res["standard"].threshold <= 0.9


def test_detectors_on_a_synthetic_spike_beat_random(corpus: list[nab.Series]) -> None:
    ours = nab.score_corpus(corpus, {s.name: nab.finsentry_scores(s) for s in corpus}, PROFILES)
    rand = nab.score_corpus(corpus, nab.run_detector(corpus, nab.random_detector(1), "r"), PROFILES)
    assert ours["standard"].score > 50 > rand["standard"].score


def test_corpus_loading_and_window_rows(tmp_path: Path) -> None:
    (tmp_path / "data" / "catA").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    (tmp_path / "config").mkdir()
    rows = ["timestamp,value"] + [f"2020-01-01 00:{m:02d}:00,{m}" for m in range(60)]
    (tmp_path / "data" / "catA" / "f.csv").write_text("\n".join(rows) + "\n")
    windows = {"catA/f.csv": [["2020-01-01 00:10:00.000000", "2020-01-01 00:19:00.000000"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    profiles = {k: {"CostMatrix": v} for k, v in PROFILES.items()}
    (tmp_path / "config" / "profiles.json").write_text(json.dumps(profiles))
    corpus = nab.load_corpus(tmp_path)
    assert corpus[0].windows == ((10, 19),) and corpus[0].category == "catA"
    assert nab.load_profiles(tmp_path)["reward_low_FN_rate"]["fnWeight"] == 2.0


def test_product_series_detector_finds_the_spikes_in_sample_and_held_out(
    corpus: list[nab.Series],
) -> None:
    ours = nab.score_corpus(corpus, nab.run_detector(corpus, nab.series_scores, "s"), PROFILES)
    assert ours["standard"].score > 80
    grid = nab.series_grid(corpus)
    assert len(grid) == len(nab.SERIES_GRID)
    standard = {"standard": PROFILES["standard"]}
    held_out = nab.two_fold(corpus, grid, standard)["standard"]
    rand = nab.two_fold(
        corpus, {"r": nab.run_detector(corpus, nab.random_detector(1), "r")}, standard
    )
    assert held_out.score > 40 > rand["standard"].score  # two tiny folds: thresholds move
    assert all("spans" in c for c in held_out.chosen)


def test_series_default_is_in_its_grid() -> None:
    assert nab.SERIES_DEFAULT in nab.SERIES_GRID


def test_series_adapter_passes_rows_per_day_as_the_seasonal_period() -> None:
    five_minutes = (np.arange(4000) * 5).astype("datetime64[m]").astype("datetime64[s]")
    daily = nab.Series("catA/daily.csv", five_minutes, np.zeros(4000), ())
    on = nab.series_config(daily, nab.SERIES_DEFAULT)
    assert on.period == 288 and on.tolerance == 0.02
    off = nab.series_config(daily, (*nab.SERIES_DEFAULT[:5], False))
    assert off.period == 0
    short = nab.Series("catA/short.csv", five_minutes[:400], np.zeros(400), ())
    assert nab.series_config(short, nab.SERIES_DEFAULT).period == 0  # under two days of rows


def test_a_corpus_from_elsewhere_reads_gaps_offsets_and_disorder(tmp_path: Path) -> None:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    lines = ["timestamp,value"]
    lines += [f"2020-01-01T00:{m:02d}:00Z,{m}" for m in range(10, 40)]  # ISO 8601 with Z
    lines[5] = "2020-01-01T00:14:00Z,"  # a missing value
    lines[6] = "2020-01-01T00:15:00Z,nan"
    lines += ["2020-01-01T00:05:00+00:00,-1", "not a time,3"]  # out of order, unparseable
    (tmp_path / "data" / "cat" / "odd.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "data" / "cat" / "empty.csv").write_text("timestamp,value\n2020-01-01 00:00:00,\n")
    windows = {"cat/odd.csv": [["2020-01-01 00:20:00.000000", "2020-01-01 00:25:00.000000"]],
               "cat/empty.csv": [], "cat/absent.csv": []}  # fmt: skip
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (only,) = nab.load_corpus(tmp_path)  # no numeric value, or no file: skipped
    assert only.name == "cat/odd.csv"
    assert len(only.values) == 31 and only.values[0] == -1  # in time order, bad time dropped
    assert list(only.values[4:8]) == [13.0, 13.0, 13.0, 16.0]  # gaps take the value before
    assert only.windows == ((11, 16),)
    assert nab.load_profiles(tmp_path) == PROFILES  # NAB's published costs without config/
    det = nab.series_scores(only)
    assert det.shape == (31,) and np.isfinite(det).all()
