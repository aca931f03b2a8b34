"""Numenta Anomaly Benchmark: run a detector over the NAB corpus and score it with the NAB rules.

    nice python benchmarks/nab.py --nab-dir ../shared/data/nab [--detector series]
        [--baseline finsentry --baseline random] [--two-fold] [--json]

The scoring follows NAB's published description (Lavin & Ahmad 2015 and the NAB README):

- each labelled anomaly window (``labels/combined_windows.json``) rewards only its earliest detection,
  with ``tpWeight`` times the scaled sigmoid of the detection's relative position in the window
  (``2 / (1 + exp(5 y)) - 1``, y = -(rows from the detection to the window's end + 1) / window
  rows, so -1 at the first row), divided by its value at y = -1 (as NAB's sweeper): a detection on
  the window's first row earns exactly ``tpWeight``, a late one ~0;
- a detection outside every window is a false positive, weighted ``fpWeight`` times the scaled
  sigmoid of its distance past the previous window's last row (in that window's rows - 1; -1
  before any window or 3 or more past it), so detections right after a window cost little;
- every window without a detection costs ``fnWeight`` (a window wholly in the probationary
  period is not scored, as in NAB);
- detections in the probationary period (the first 15% of each file, at most 750 rows, as NAB's
  ``getProbationPeriod``) are ignored;
- costs come from ``config/profiles.json`` (standard, reward_low_FP_rate, reward_low_FN_rate);
- a detector gives a score in [0, 1] per row; as in NAB, the detection threshold is the one that
  maximises the summed raw score over the corpus, per profile;
- the result is normalised as NAB's runner does: 100 * (raw - null) / (perfect - null), where null
  is the raw score of a detector that never fires and perfect = ``tpWeight`` x the number of
  windows.

Checked against NAB's ``sweeper.py`` and ``runner.normalize`` (the published scoreboard's code).

Detectors: ``series`` (the default: the product's :class:`finsentry.detectors.series.SeriesDetector`
through :func:`series_scores`; ``history`` is the file's probationary period kept within 50-750
rows, as NAB passes its probation to every detector, the seasonal ``period`` is rows per day when
the timestamps have a regular step that divides a day, and the other parameters are global, see
:data:`SERIES_DEFAULT` and :data:`SERIES_GRID`), ``univariate`` (:class:`benchmarks.univariate.UnivariateDetector`: value, jump,
anomaly-likelihood and new-extreme views, rank-calibrated, gated and suppressed; see
:func:`univariate_scores`), ``finsentry`` (robust value, jump and new-extreme novelty, rank-calibrated, fires once
per anomaly; see :func:`finsentry_scores`),
``random`` (uniform scores, seeded; NAB publishes a mean of about 11 on the standard profile),
``null`` and ``perfect`` (for checking the scorer).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from benchmarks.univariate import (  # noqa: E402
    UnivariateConfig,
    UnivariateDetector,
    gate,
    magnitude_z,
    suppress,
)

from finsentry.app.scan import benchmarked_config, parse_time, read_csv_series  # noqa: E402
from finsentry.detectors.series import SeriesConfig, SeriesDetector  # noqa: E402

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PROBATION_SHARE = 0.15
MAX_TP = float(2.0 / (1.0 + math.exp(-5.0)) - 1.0)  # scaled sigmoid at a window's first row
PUBLISHED_STANDARD = {"ARTime": 74.9, "Numenta HTM": 70.5, "Skyline": 58.2, "Twitter ADVec": 47.1}


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One NAB file: its name (``category/file.csv``), timestamps, values and window row ranges."""

    name: str
    timestamps: np.ndarray  # datetime64[s]
    values: np.ndarray  # float64
    windows: tuple[tuple[int, int], ...]  # inclusive row ranges

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def probation(self) -> int:
        return probation_rows(len(self.values))


def probation_rows(n: int) -> int:
    return int(min(math.floor(PROBATION_SHARE * n), PROBATION_SHARE * 5000))


def window_rows(
    timestamps: np.ndarray, windows: Sequence[Sequence[str]]
) -> tuple[tuple[int, int], ...]:
    """Row ranges (inclusive) of the labelled windows."""
    out = []
    for start, end in windows:
        lo = int(np.searchsorted(timestamps, parse_time(start), "left"))
        hi = int(np.searchsorted(timestamps, parse_time(end), "right")) - 1
        if hi >= lo:
            out.append((lo, hi))
    return tuple(out)


def load_corpus(nab_dir: Path, only: str | None = None) -> list[Series]:
    labels = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    corpus = []
    for name in sorted(labels):
        path = nab_dir / "data" / name
        if not path.exists() or (only and not name.startswith(only)):
            continue
        stamps, values, missing = read_csv_series(path)
        if not len(values) or missing == len(values):
            print(f"{name}: no numeric values, skipped", file=sys.stderr)
            continue
        if missing:
            print(f"{name}: {missing} missing values carried forward", file=sys.stderr)
        corpus.append(Series(name, stamps, values, window_rows(stamps, labels[name])))
    if not corpus:
        raise SystemExit(f"no NAB files under {nab_dir}/data: check --nab-dir")
    return corpus


# NAB's published cost matrices (config/profiles.json), used when a corpus comes without them.
DEFAULT_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}


def load_profiles(nab_dir: Path) -> dict[str, dict[str, float]]:
    path = nab_dir / "config" / "profiles.json"
    if not path.exists():
        print(f"{path} not found: NAB's published cost matrices are used", file=sys.stderr)
        return {name: dict(DEFAULT_PROFILES[name]) for name in PROFILES}
    data = json.loads(path.read_text())
    return {name: dict(data[name]["CostMatrix"]) for name in PROFILES}


# --- scoring ---------------------------------------------------------------------------------


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    return np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0)


@dataclass
class FileTable:
    """Per-row NAB weights of one file, so any threshold can be scored quickly.

    ``tp_pos[w]`` holds the scaled sigmoid of each row of window ``w``; ``fp_weight`` the (negative)
    scaled sigmoid of each row outside the windows (0 in probation, where nothing counts).
    """

    n_windows: int
    window_slices: list[tuple[int, int]]
    tp_value: list[np.ndarray]
    outside: np.ndarray  # bool mask of rows that count as false positives when detected
    fp_value: np.ndarray


def file_table(series: Series) -> FileTable:
    n = len(series.values)
    probation = series.probation
    inside = np.zeros(n, dtype=bool)
    fp_value = np.full(n, -1.0)
    tp_values, slices = [], []
    previous: tuple[int, int] | None = None
    for lo, hi in series.windows:
        length = hi - lo + 1
        idx = np.arange(lo, hi + 1)
        tp_values.append(scaled_sigmoid(-(hi - idx + 1) / length) / MAX_TP)
        slices.append((lo, hi))
        inside[lo : hi + 1] = True
        if previous is not None:
            _past_window(fp_value, previous, lo)
        previous = (lo, hi)
    if previous is not None:
        _past_window(fp_value, previous, n)
    outside = ~inside
    outside[:probation] = False
    # detections in probation inside windows do not count either
    for k, (lo, _) in enumerate(slices):
        if lo < probation:
            cut = min(probation - lo, len(tp_values[k]))
            tp_values[k] = tp_values[k].copy()
            tp_values[k][:cut] = np.nan
    return FileTable(len(slices), slices, tp_values, outside, fp_value)


def _past_window(fp_value: np.ndarray, window: tuple[int, int], until: int) -> None:
    lo, hi = window
    length = hi - lo + 1
    idx = np.arange(hi + 1, until)
    fp_value[hi + 1 : until] = scaled_sigmoid((idx - hi) / max(length - 1, 1))


def raw_scores(
    table: FileTable, scores: np.ndarray, thresholds: np.ndarray, cost: dict[str, float]
) -> np.ndarray:
    """Raw NAB score of one file for every threshold (detection = score >= threshold)."""
    total = np.zeros(len(thresholds))
    for (lo, hi), tp in zip(table.window_slices, table.tp_value, strict=True):
        if np.isnan(tp).all():
            continue  # wholly in probation: NAB does not score it
        window_scores = np.where(np.isnan(tp), -np.inf, scores[lo : hi + 1])
        running = np.maximum.accumulate(window_scores)
        first = np.searchsorted(running, thresholds, side="left")  # first row reaching threshold
        hit = first < len(running)
        gained = np.where(
            hit, tp[np.minimum(first, len(tp) - 1)] * cost["tpWeight"], -cost["fnWeight"]
        )
        total += gained
    out_scores = scores[table.outside]
    out_weight = table.fp_value[table.outside]
    order = np.argsort(-out_scores, kind="stable")
    sorted_scores = out_scores[order]
    cum = np.concatenate([[0.0], np.cumsum(out_weight[order])])
    # number of outside rows with score >= threshold
    count = np.searchsorted(-sorted_scores, -thresholds, side="right")
    total += cum[count] * cost["fpWeight"]
    return total


@dataclass
class ProfileResult:
    profile: str
    threshold: float
    score: float
    per_category: dict[str, float] = field(default_factory=dict)


def normalise(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null)


def _raw_total(
    tables: dict[str, FileTable],
    detections: dict[str, np.ndarray],
    names: Sequence[str],
    thresholds: np.ndarray,
    cost: dict[str, float],
) -> np.ndarray:
    per_file = [raw_scores(tables[n], detections[n], thresholds, cost) for n in names]
    return np.asarray(np.sum(per_file, axis=0), dtype=float)


def score_corpus(
    corpus: Sequence[Series],
    detections: dict[str, np.ndarray],
    profiles: dict[str, dict[str, float]],
    thresholds: np.ndarray | None = None,
) -> dict[str, ProfileResult]:
    """Optimise the threshold per profile over the corpus, then normalise overall and per category.

    A category without windows (artificialNoAnomaly) has no perfect score to normalise by: its
    entry is NaN, though its false positives count in the overall score.
    """
    tables = {s.name: file_table(s) for s in corpus}
    if thresholds is None:
        thresholds = candidate_thresholds(detections)
    null_det = {s.name: null_scores(s) for s in corpus}
    windows = {s.name: len(s.windows) for s in corpus}
    half = np.array([0.5])
    names = [s.name for s in corpus]
    categories = sorted({s.category for s in corpus})
    results = {}
    for profile, cost in profiles.items():
        best = int(np.argmax(_raw_total(tables, detections, names, thresholds, cost)))
        theta = np.array([thresholds[best]])

        def norm(subset: Sequence[str], theta: np.ndarray, cost: dict[str, float]) -> float:
            raw = float(_raw_total(tables, detections, subset, theta, cost)[0])
            null = float(_raw_total(tables, null_det, subset, half, cost)[0])
            perfect = cost["tpWeight"] * sum(windows[n] for n in subset)
            return normalise(raw, null, perfect) if perfect != null else float("nan")

        results[profile] = ProfileResult(
            profile,
            float(theta[0]),
            norm(names, theta, cost),
            {c: norm([s.name for s in corpus if s.category == c], theta, cost) for c in categories},
        )
    return results


def candidate_thresholds(detections: dict[str, np.ndarray], count: int = 400) -> np.ndarray:
    """Thresholds to sweep: quantiles of all scores, a grid near 1, the 3000 highest distinct
    scores exactly, and 1.01 (never fire)."""
    pooled = np.concatenate(list(detections.values()))
    quantiles = np.quantile(pooled, np.linspace(0.5, 1.0, count))
    grid = 1.0 - np.logspace(-8, 0, 200)
    top = np.unique(pooled)[-3000:]  # the few hundred detections that matter lie up here
    return np.unique(np.concatenate([quantiles, grid, top, [1.01]]))


def folds(corpus: Sequence[Series], k: int = 2) -> list[list[str]]:
    """Files split into ``k`` folds, alternating by name within each category."""
    out: list[list[str]] = [[] for _ in range(k)]
    for category in sorted({s.category for s in corpus}):
        names = sorted(s.name for s in corpus if s.category == category)
        for i, name in enumerate(names):
            out[i % k].append(name)
    return out


@dataclass
class FoldResult:
    profile: str
    score: float  # held-out: each half scored with what was chosen on the other half
    chosen: list[str]  # per fold: parameters and threshold chosen on the training half


def two_fold(
    corpus: Sequence[Series],
    candidates: dict[str, dict[str, np.ndarray]],
    profiles: dict[str, dict[str, float]],
) -> dict[str, FoldResult]:
    """Honest score: per fold, choose the parameter set (a key of ``candidates``) and threshold
    that maximise the raw score on the other fold's files, then score this fold's files with them;
    the held-out raw scores of both folds are summed and normalised together."""
    tables = {s.name: file_table(s) for s in corpus}
    null_det = {s.name: null_scores(s) for s in corpus}
    windows = {s.name: len(s.windows) for s in corpus}
    half = np.array([0.5])
    parts = folds(corpus)
    results = {}
    for profile, cost in profiles.items():
        raw = null = perfect = 0.0
        chosen = []
        for k, test in enumerate(parts):
            train = [n for j, p in enumerate(parts) if j != k for n in p]
            best: tuple[float, str, float] | None = None
            for label, det in candidates.items():
                thresholds = candidate_thresholds({n: det[n] for n in train})
                totals = _raw_total(tables, det, train, thresholds, cost)
                i = int(np.argmax(totals))
                if best is None or totals[i] > best[0]:
                    best = (float(totals[i]), label, float(thresholds[i]))
            assert best is not None
            _, label, theta = best
            raw += float(_raw_total(tables, candidates[label], test, np.array([theta]), cost)[0])
            null += float(_raw_total(tables, null_det, test, half, cost)[0])
            perfect += cost["tpWeight"] * sum(windows[n] for n in test)
            chosen.append(f"fold {k}: {label}, threshold {theta:.4f}")
        results[profile] = FoldResult(profile, normalise(raw, null, perfect), chosen)
    return results


# --- detectors -------------------------------------------------------------------------------

Detector = Callable[[Series], np.ndarray]


def null_scores(series: Series) -> np.ndarray:
    return np.zeros(len(series.values))


def perfect_scores(series: Series) -> np.ndarray:
    out = np.zeros(len(series.values))
    for lo, _ in series.windows:
        out[max(lo, series.probation)] = 1.0
    return out


def random_detector(seed: int) -> Detector:
    def detect(series: Series) -> np.ndarray:
        digest = sum(ord(c) for c in series.name)
        return np.random.default_rng(seed * 100_003 + digest).random(len(series.values))

    return detect


def robust_z(v: pd.Series, long: int) -> pd.Series:
    """|v - trailing median| / trailing robust spread (IQR / 1.349), from past rows only."""
    past = v.shift(1)
    q25 = past.rolling(long, min_periods=10).quantile(0.25)
    q50 = past.rolling(long, min_periods=10).quantile(0.5)
    q75 = past.rolling(long, min_periods=10).quantile(0.75)
    floor = 0.01 * v.abs().expanding().mean().shift(1).fillna(0) + 1e-9
    spread = np.maximum(((q75 - q25) / 1.349).fillna(0), floor)
    return ((v - q50).abs() / spread).fillna(0).clip(upper=1e6)


def record_strength(raw: np.ndarray, warmup: int = 10) -> np.ndarray:
    """How extreme each value is against everything before it, on a scale of 0 to 1.

    -log10 of the share of past values at least as large (a rank tail probability), divided by
    the most that share can say after t rows (log10(t + 2)): 1 means larger than anything seen.
    """
    history: list[float] = []
    out = np.zeros(len(raw))
    for t, value in enumerate(raw):
        if t >= warmup:
            at_least = len(history) - bisect.bisect_left(history, value)
            out[t] = -math.log10((at_least + 1) / (len(history) + 1)) / math.log10(t + 2)
        bisect.insort(history, float(value))
    return out


def finsentry_scores(series: Series) -> np.ndarray:
    """The finsentry detector for a generic series, causal (row t uses rows <= t only).

    Three views of the series, each scored as in the window detectors by how far it is from a
    trailing robust baseline (median and IQR over the last ``min(probation, 750)`` rows): the
    value, its first difference (jumps), and the raw value itself in both directions (new highs
    and lows). Each view's score becomes a rank tail probability against its own history
    (:func:`record_strength`), so one threshold fits every file; the row's score is the strongest
    view. As the alert rules' cooldown, a row only scores if it beats every score of the
    preceding ``long`` rows: an ongoing anomaly fires once.
    """
    x = pd.Series(series.values, dtype=float)
    long = max(min(max(series.probation, 20), 750), 50)
    views = [
        robust_z(x, long).to_numpy(),
        robust_z(x.diff().fillna(0.0), long).to_numpy(),
        x.to_numpy(),
        (-x).to_numpy(),
    ]
    score = np.clip(np.max([record_strength(v) for v in views], axis=0), 0.0, 1.0)
    previous = pd.Series(score).shift(1).rolling(long, min_periods=1).max().fillna(0.0).to_numpy()
    score = np.where(score > previous, score, 0.0)
    score[:10] = 0.0
    return score


def learning_rows(series: Series) -> int:
    """History rows for a series: its probationary period, kept within 50-750 rows."""
    return max(min(max(series.probation, 20), 750), 50)


# The univariate detector's global parameters: threshold, gate and suppression (as shares of the
# history rows) and the magnitude floor min_z. Chosen on this corpus from the grid below; the
# two-fold run re-chooses them on half of the files and scores the other half.
UNIVARIATE_DEFAULT = (0.8, 1.0, 0.1, 2.0)
UNIVARIATE_GRID = tuple(
    (theta, g, sup, min_z)
    for theta in (0.75, 0.8, 0.85, 0.9)
    for g in (0.5, 1.0)
    for sup in (0.05, 0.1, 0.2)
    for min_z in (0.0, 2.0, 4.0)
)


def univariate_config(
    series: Series, params: tuple[float, float, float, float]
) -> UnivariateConfig:
    theta, gate_share, suppress_share, min_z = params
    rows = learning_rows(series)
    return UnivariateConfig(
        history=rows,
        threshold=theta,
        gate=max(1, int(gate_share * rows)),
        suppress=int(suppress_share * rows),
        min_z=min_z,
    )


def univariate_scores(series: Series) -> np.ndarray:
    """The :mod:`benchmarks.univariate` detector with the default global parameters."""
    detector = UnivariateDetector(univariate_config(series, UNIVARIATE_DEFAULT))
    return detector.decision_score(series.values, series.timestamps)


def univariate_grid(corpus: Sequence[Series]) -> dict[str, dict[str, np.ndarray]]:
    """Detections of every parameter set of :data:`UNIVARIATE_GRID` (the views once per file)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for s in tqdm(corpus, desc="univariate grid", unit="file"):
        unfloored = univariate_config(s, (*UNIVARIATE_DEFAULT[:3], 0.0))
        score = UnivariateDetector(unfloored).score(s.values, s.timestamps)
        magnitude = magnitude_z(s.values, unfloored.history)
        for params in UNIVARIATE_GRID:
            cfg = univariate_config(s, params)
            floored = np.where(magnitude >= cfg.min_z, score, 0.0)
            label = "threshold {} gate {} suppress {} min_z {}".format(*params)
            out.setdefault(label, {})[s.name] = suppress(
                gate(floored, cfg.gate_rows), cfg.threshold, cfg.suppress_rows
            )
    return out


# The product detector (finsentry.detectors.series): the multi-span scan with the global
# parameters (gate and cooldown as shares of the history rows, magnitude floor min_z, rank
# tolerance, the seasonal view on or off) chosen on this corpus; the two-fold run re-chooses them
# from SERIES_GRID on half of the files and scores the other half. The scan span (32 rows), the
# scan floor (6) and the rule's threshold (0.8; NAB's sweep picks one at or above it) stay fixed.
SeriesParams = tuple[tuple[int, ...], float, float, float, float, bool]
SERIES_DEFAULT: SeriesParams = ((32,), 1.5, 0.1, 2.0, 0.02, True)
SERIES_GRID: tuple[SeriesParams, ...] = tuple(
    ((32,), g, sup, min_z, tolerance, season)
    for g in (1.0, 1.5, 3.0)
    for sup in (0.05, 0.1, 0.2)
    for min_z in (1.5, 2.0, 2.5)
    for tolerance in (0.0, 0.02, 0.05)
    for season in (False, True)
)
SERIES_LABEL = "spans {} gate {} suppress {} min_z {} tolerance {} seasonal {}"


def series_config(series: Series, params: SeriesParams) -> SeriesConfig:
    """The detector's configuration for one file, as ``finsentry scan`` builds it
    (:func:`finsentry.app.scan.benchmarked_config`): ``history`` from its probation, the seasonal
    period = rows per day when its timestamps have a regular step that divides a day."""
    spans, gate_share, suppress_share, min_z, tolerance, season = params
    return benchmarked_config(
        series.timestamps,
        len(series.values),
        history=learning_rows(series),
        spans=spans,
        gate=gate_share,
        suppress=suppress_share,
        min_z=min_z,
        tolerance=tolerance,
        seasonal=season,
    )


def series_scores(series: Series) -> np.ndarray:
    """The product's series detector (:mod:`finsentry.detectors.series`), default parameters."""
    detector = SeriesDetector(series_config(series, SERIES_DEFAULT))
    return detector.decision_score(series.values)


def series_grid(corpus: Sequence[Series]) -> dict[str, dict[str, np.ndarray]]:
    """Detections of every parameter set of :data:`SERIES_GRID` (the statistics once per file
    and tolerance; the seasonal ones are left out of the score when the seasonal view is off)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for s in tqdm(corpus, desc="series grid", unit="file"):
        parts = {}
        for params in SERIES_GRID:
            det = SeriesDetector(series_config(s, params))
            key = (params[0], params[4])
            if key not in parts:
                full = series_config(s, (*params[:5], True))
                parts[key] = SeriesDetector(full).components(s.values)
            label = SERIES_LABEL.format(*params)
            out.setdefault(label, {})[s.name] = det.decide(det.combine(parts[key]))
    return out


DETECTORS: dict[str, Callable[[int], Detector]] = {
    "series": lambda seed: series_scores,
    "univariate": lambda seed: univariate_scores,
    "finsentry": lambda seed: finsentry_scores,
    "random": random_detector,
    "null": lambda seed: null_scores,
    "perfect": lambda seed: perfect_scores,
}


def run_detector(corpus: Sequence[Series], detector: Detector, label: str) -> dict[str, np.ndarray]:
    return {s.name: detector(s) for s in tqdm(corpus, desc=label, unit="file")}


# --- report ----------------------------------------------------------------------------------


def report_rows(results: dict[str, ProfileResult]) -> list[str]:
    lines = []
    standard = results["standard"]
    cats = list(standard.per_category)
    head = f"{'profile':<20} {'overall':>8} " + " ".join(f"{c[:16]:>16}" for c in cats)
    lines.append(head)
    for name, res in results.items():
        cells = " ".join(f"{res.per_category[c]:>16.1f}" for c in cats)
        lines.append(f"{name:<20} {res.score:>8.1f} {cells}   (threshold {res.threshold:.6f})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--nab-dir", type=Path, default=Path(os.environ.get("NAB_DIR", "../shared/data/nab"))
    )
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="series")
    parser.add_argument(
        "--baseline",
        choices=sorted(DETECTORS),
        action="append",
        help="Detector(s) measured in the same run for the ratio (repeatable; default: "
        "univariate, finsentry and random).",
    )
    parser.add_argument(
        "--two-fold",
        action="store_true",
        help="Also score with a 2-fold split: parameters and threshold chosen on half of the "
        "files, scored on the other half (series and univariate: their parameter grids; others: "
        "threshold).",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        action="append",
        help="Profiles to report (default: all three).",
    )
    parser.add_argument("--only", help="Only files whose name starts with this (e.g. realTweets).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpus = load_corpus(args.nab_dir, args.only)
    profiles = load_profiles(args.nab_dir)
    if args.profile:
        profiles = {k: v for k, v in profiles.items() if k in args.profile}
    baselines = args.baseline or ["univariate", "finsentry", "random"]
    out: dict[str, dict[str, ProfileResult]] = {}
    held_out: dict[str, dict[str, FoldResult]] = {}
    timings = {}
    for label in dict.fromkeys([args.detector, *baselines]):
        t0 = time.perf_counter()
        detections = run_detector(corpus, DETECTORS[label](args.seed), label)
        out[label] = score_corpus(corpus, detections, profiles)
        if args.two_fold and label not in ("null", "perfect"):
            grid = (
                univariate_grid(corpus)
                if label == "univariate"
                else series_grid(corpus)
                if label == "series"
                else {"-": detections}
            )
            held_out[label] = two_fold(corpus, grid, profiles)
        timings[label] = time.perf_counter() - t0
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({
            "files": len(corpus),
            "windows": sum(len(s.windows) for s in corpus),
            "elapsed_s": round(elapsed, 1),
            "results": {
                det: {p: {"score": round(r.score, 2), "threshold": r.threshold,
                          "per_category": {c: round(v, 2) for c, v in r.per_category.items()}}
                      for p, r in res.items()}
                for det, res in out.items()
            },
            "two_fold": {
                det: {p: {"score": round(r.score, 2), "chosen": r.chosen} for p, r in res.items()}
                for det, res in held_out.items()
            },
        }))  # fmt: skip
        return 0
    print(f"NAB corpus: {len(corpus)} files, {sum(len(s.windows) for s in corpus)} windows, "
          f"{sum(len(s.values) for s in corpus)} rows ({args.nab_dir})")  # fmt: skip
    for det, res in out.items():
        print(f"\n{det} ({timings[det]:.1f}s)")
        for line in report_rows(res):
            print("  " + line)
        for profile, fold in held_out.get(det, {}).items():
            print(
                f"  two-fold held-out {profile:<20} {fold.score:>6.1f}   ({'; '.join(fold.chosen)})"
            )
    if "standard" in profiles:
        ours = out[args.detector]["standard"].score
        for baseline in baselines:
            if baseline == args.detector:
                continue
            base = out[baseline]["standard"].score
            ratio = ours / base if base else float("inf")
            print(f"standard: {args.detector} {ours:.1f} vs {baseline} {base:.1f} (x{ratio:.2f})")
        print("published: " + ", ".join(f"{k} {v}" for k, v in PUBLISHED_STANDARD.items()))
    print(f"elapsed {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
