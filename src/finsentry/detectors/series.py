"""Generic numeric series: the product's span scan applied to any stream of values, row by row.

The window detectors (:mod:`.volume`, :mod:`.negative`) score counts and shares of news items. This
module is the same machinery for a stream of plain numbers (a price, a latency, a metric scope, the
NAB corpus in ``benchmarks/nab.py``), causal: the score of row ``t`` uses rows ``0..t`` only, so
appending rows never changes an earlier score or decision.

How a row is scored:

1. **Robust baseline.** Each value is standardised against the median and the IQR-based spread of
   the ``history`` rows before it: ``z_t = (x_t - median) / spread`` (signed). The first difference
   is standardised the same way (sudden jumps).
2. **Multi-span scan.** As the window detectors scan spans of 1-18 windows, the sum of the last
   ``s`` standardised deviations, for every span ``s`` in ``spans`` and in both directions, so a
   sustained moderate shift stands out even when no single row is extreme. A **spread term** does
   the same for the mean absolute deviation over the span (a change of variance at a steady level).
3. **Seasonal view** (when ``period`` is set, e.g. rows per day). Each value is compared with the
   envelope (lowest to highest) of the same slot, give or take ``season_width`` rows, on the
   previous ``season_cycles`` cycles; the distance outside that envelope, over the spread of the
   plain seasonal residual, is scanned as in 2. It replaces the plain scan on the rows where the
   series is seasonal: where the trailing mean absolute seasonal residual is below
   ``season_ratio`` of the series' own mean absolute deviation (a rhythm that explains most of the
   movement), so a missing daily peak is strange while every ordinary peak is not.
4. **Calibration.** Each statistic becomes a rank tail probability against its own past
   (``-log10`` of the share of earlier values at least as large, over the most that share can say
   after ``m`` rows): 1 means stranger than anything seen. Ranks make one threshold fit every series
   whatever its scale or autocorrelation. New highs and lows of the raw value are statistics too.
   An earlier value counts as "at least as large" unless the row beats it by more than
   ``tolerance`` of the row's own excursion (from the median for highs and lows, from 0 for a
   scan), so a peak that merely ties a recurring earlier one is not a new record.
5. **Score, then decide.** The row's score is the strongest statistic, counted only if the robust z
   of the value or of the jump is at least ``min_z`` (or a scan reaches ``scan_min_z``).
   :meth:`SeriesDetector.decision_score` then applies the rule: a row is a candidate when its
   score beats every score of the previous ``gate`` rows (an ongoing anomaly does not fire again),
   a candidate reaching ``threshold`` fires, and the detector stays silent ``suppress`` rows after
   it fires (the rule's cooldown).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "Components",
    "SeriesConfig",
    "SeriesDetector",
    "cooldown",
    "gate",
    "rank_strength",
    "robust_z",
    "seasonal_excess",
]


@dataclass(frozen=True)
class SeriesConfig:
    """Parameters of :class:`SeriesDetector` (global: the same for every series).

    ``history``: rows of the trailing robust baseline (and the default gate); ``spans``: rows the
    scan sums over (1 = the row alone); ``spread_spans``: spans of the spread term (empty: off);
    ``threshold``: score (0-1) at which a candidate fires; ``gate`` and ``suppress`` as shares of
    ``history``; ``min_z``: magnitude floor (robust z of value or jump; 4 keeps new extremes of
    plain noise quiet, as an alert desk wants; NAB's benchmark passes 2); ``scan_min_z``: the same
    floor reached by a scan over more than one row (its sum over sqrt(span), so a sustained shift
    of a little over 1 z per row for 32 rows passes; ``inf``: off); ``warmup``: rows before
    anything scores; ``extremes``: new highs and lows are statistics; ``jump``: so is the robust z
    of the first difference (off by default: the extremes and the scan already see jumps, and on
    NAB it added false alarms); ``tolerance``: share of a row's excursion by which it must beat
    an earlier value to rank above it (0: plain ranks); ``period``: rows per seasonal cycle (0:
    no seasonal view); ``season_cycles``, ``season_width`` and ``season_ratio``: see the module
    docstring.
    """

    history: int = 750
    spans: tuple[int, ...] = (1, 4, 16)
    spread_spans: tuple[int, ...] = (16,)
    threshold: float = 0.8
    gate: float = 1.0
    suppress: float = 0.1
    min_z: float = 4.0
    scan_min_z: float = 6.0
    warmup: int = 20
    extremes: bool = True
    jump: bool = False
    tolerance: float = 0.02
    period: int = 0
    season_cycles: int = 7
    season_width: int = 2
    season_ratio: float = 0.4

    def __post_init__(self) -> None:
        if self.history < 10 or self.warmup < 1:
            raise ValueError("history must be >= 10 rows and warmup >= 1")
        if not self.spans or min(self.spans) < 1 or min(self.spread_spans, default=2) < 2:
            raise ValueError("spans must be >= 1 row and spread_spans >= 2 rows")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if self.gate < 0 or self.suppress < 0:
            raise ValueError("gate and suppress must be >= 0 (shares of history)")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError("tolerance must be in [0, 1) (a share of the excursion)")
        if self.period and (self.period <= 2 * self.season_width or self.season_cycles < 1):
            raise ValueError("period must exceed 2 x season_width rows, season_cycles >= 1")

    @property
    def gate_rows(self) -> int:
        return int(round(self.gate * self.history))

    @property
    def suppress_rows(self) -> int:
        return int(round(self.suppress * self.history))


def robust_baseline(
    values: np.ndarray, history: int, min_periods: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Trailing median and spread (IQR / 1.349) of the ``history`` rows before each row; the
    spread is floored at 1 % of the mean magnitude so far (flat stretches)."""
    x = pd.Series(values, dtype=float)
    past = x.shift(1).rolling(history, min_periods=min_periods)
    q25, q50, q75 = past.quantile(0.25), past.quantile(0.5), past.quantile(0.75)
    scale = x.abs().shift(1).expanding().mean().fillna(0.0)
    spread = np.maximum(((q75 - q25) / 1.349).fillna(0.0), 0.01 * scale + 1e-9)
    return np.asarray(q50.to_numpy(), dtype=float), np.asarray(spread.to_numpy(), dtype=float)


def robust_z(values: np.ndarray, history: int, min_periods: int = 10) -> np.ndarray:
    """Signed ``(x_t - median) / spread`` against :func:`robust_baseline`."""
    median, spread = robust_baseline(np.asarray(values, dtype=float), history, min_periods)
    z = np.nan_to_num((np.asarray(values, dtype=float) - median) / spread, nan=0.0)
    return np.asarray(np.clip(z, -1e6, 1e6), dtype=float)


def span_scan(z: np.ndarray, spans: Sequence[int]) -> dict[str, np.ndarray]:
    """For each span, the absolute sum of the last ``span`` signed z over sqrt(span)."""
    s = pd.Series(np.clip(z, -50.0, 50.0))
    out = {}
    for span in spans:
        total = s.rolling(span, min_periods=1).sum() / math.sqrt(span)
        out[f"scan{span}"] = np.abs(total.to_numpy())
    return out


def spread_scan(z: np.ndarray, spans: Sequence[int]) -> dict[str, np.ndarray]:
    """For each span, the mean absolute z over the span (a change of variance or of shape)."""
    s = pd.Series(np.minimum(np.abs(z), 50.0))
    return {f"spread{k}": s.rolling(k, min_periods=1).mean().to_numpy() for k in spans}


def seasonal_excess(values: np.ndarray, cfg: SeriesConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the signed distance outside the same-slot envelope of the previous cycles over
    the spread of the plain seasonal residual (0 inside it), and whether the series is seasonal
    there (trailing mean absolute residual below ``season_ratio`` of the series' own)."""
    x = pd.Series(values, dtype=float)
    p, w, h = cfg.period, cfg.season_width, cfg.history
    slots = [x.shift(p * k + j) for k in range(1, cfg.season_cycles + 1) for j in range(-w, w + 1)]
    lagged = pd.concat(slots, axis=1)
    low, high = lagged.min(axis=1).to_numpy(), lagged.max(axis=1).to_numpy()
    v = x.to_numpy()
    excess = np.nan_to_num(np.maximum(v - high, 0.0) + np.minimum(v - low, 0.0), nan=0.0)
    same_slot = pd.concat([x.shift(p * k) for k in range(1, cfg.season_cycles + 1)], axis=1)
    residual = (x - same_slot.median(axis=1)).fillna(0.0).to_numpy()
    _, spread = robust_baseline(residual, h)
    scale = pd.Series(np.abs(v)).shift(1).expanding().mean().fillna(0.0).to_numpy()
    z = excess / np.maximum(spread, 0.01 * scale + 1e-9)  # the series' scale floors it, too
    z[:p] = 0.0
    own, left = _mean_abs_deviation(v, h), _mean_abs_deviation(residual, h)
    seasonal = (own > 0) & (left < cfg.season_ratio * own)
    seasonal[: 2 * p] = False
    return z, seasonal


def _mean_abs_deviation(values: np.ndarray, history: int) -> np.ndarray:
    """Mean of |x - trailing median| over the ``history`` rows before each row (NaN -> 0)."""
    x = pd.Series(values, dtype=float)
    deviation = (x - x.shift(1).rolling(history, min_periods=10).median()).abs()
    mad = deviation.shift(1).rolling(history, min_periods=10).mean()
    return np.asarray(mad.fillna(0.0).to_numpy(), dtype=float)


def rank_strength(
    raw: np.ndarray, warmup: int, memory: int | None = None, margin: np.ndarray | None = None
) -> np.ndarray:
    """Each value as a rank tail probability against earlier ones, on a 0-1 scale.

    ``-log10((k + 1) / (m + 1)) / log10(m + 2)`` where ``k`` of the ``m`` earlier values (all of
    them, or the last ``memory``) were at least as large (``raw[t] - margin[t]`` or more when a
    per-row ``margin`` is given); rows before ``warmup`` score 0.
    """
    seen: list[float] = []
    values = raw.tolist()
    margins = [0.0] * len(values) if margin is None else np.asarray(margin, float).tolist()
    out = np.zeros(len(values))
    for t, value in enumerate(values):
        if t >= warmup:
            m = len(seen)
            at_least = m - bisect.bisect_left(seen, value - margins[t])
            out[t] = -math.log10((at_least + 1) / (m + 1)) / math.log10(m + 2)
        bisect.insort(seen, value)
        if memory is not None and t >= memory:
            del seen[bisect.bisect_left(seen, values[t - memory])]
    return np.clip(out, 0.0, 1.0)


def gate(score: np.ndarray, rows: int) -> np.ndarray:
    """Keep a score only where it is above every score of the previous ``rows`` rows."""
    if rows <= 0:
        return np.asarray(score, dtype=float).copy()
    s = pd.Series(score, dtype=float)
    previous = s.shift(1).rolling(rows, min_periods=1).max().fillna(-np.inf).to_numpy()
    return np.where(s.to_numpy() > previous, s.to_numpy(), 0.0)


def cooldown(score: np.ndarray, threshold: float, rows: int) -> np.ndarray:
    """Keep a score where it reaches ``threshold`` more than ``rows`` rows after the previous
    kept one; every other row becomes 0."""
    out = np.zeros(len(score))
    last = -rows - 1
    for t in np.flatnonzero(np.asarray(score) >= threshold).tolist():
        if t - last > rows:
            out[t] = score[t]
            last = t
    return out


@dataclass(frozen=True)
class Components:
    """What a score is made of, per row: each statistic's 0-1 strength, the magnitudes the floor
    reads (plain and seasonal), and the rows where the seasonal view replaces the plain scan."""

    strengths: dict[str, np.ndarray]
    point: np.ndarray
    scan: np.ndarray
    season_point: np.ndarray
    season_scan: np.ndarray
    seasonal: np.ndarray


@dataclass
class SeriesDetector:
    """Causal detector of one numeric series: :meth:`statistics`, :meth:`score`, :meth:`detect`."""

    config: SeriesConfig = field(default_factory=SeriesConfig)

    def statistic_names(self) -> list[str]:
        """Names of the statistics :meth:`statistics` returns, in order."""
        cfg = self.config
        names = [f"scan{k}" for k in cfg.spans] + [f"spread{k}" for k in cfg.spread_spans]
        names += ["jump"] * cfg.jump + ["high", "low"] * cfg.extremes
        return names + [f"season{k}" for k in self.season_spans()]

    def season_spans(self) -> list[int]:
        """Spans of the seasonal scan (the row alone and the scan's spans); none without a
        period."""
        return sorted({1, *self.config.spans}) if self.config.period else []

    def statistics(self, values: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
        """Each raw statistic per row (before rank calibration), all 'larger is stranger'."""
        return self._statistics(np.asarray(values, dtype=float))[0]

    def _statistics(
        self, x: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Statistics, the margin each must beat earlier values by, the seasonal z and mask."""
        cfg = self.config
        median, spread = robust_baseline(x, cfg.history)
        z = np.clip(np.nan_to_num((x - median) / spread, nan=0.0), -1e6, 1e6)
        stats = span_scan(z, cfg.spans)
        stats.update(spread_scan(z, cfg.spread_spans))
        if cfg.jump:
            stats["jump"] = np.abs(robust_z(np.diff(x, prepend=x[:1]), cfg.history))
        if cfg.extremes:
            stats["high"], stats["low"] = x.copy(), -x
        season_z, seasonal = np.zeros(len(x)), np.zeros(len(x), dtype=bool)
        if cfg.period:
            season_z, seasonal = seasonal_excess(x, cfg)
            scans = span_scan(season_z, self.season_spans())
            stats.update({f"season{k}": scans[f"scan{k}"] for k in self.season_spans()})
        excursion = np.abs(np.nan_to_num(x - median, nan=0.0))
        margins = {
            k: cfg.tolerance * (excursion if k in ("high", "low") else v) for k, v in stats.items()
        }
        return stats, margins, season_z, seasonal

    def components(self, values: Sequence[float] | np.ndarray) -> Components:
        """Strengths and magnitudes of every row (what :meth:`combine` turns into a score)."""
        cfg = self.config
        x = np.asarray(values, dtype=float)
        stats, margins, season_z, seasonal = self._statistics(x)
        strengths = {k: rank_strength(v, cfg.warmup, margin=margins[k]) for k, v in stats.items()}
        point, scan = self.magnitude(x)
        long = [f"season{k}" for k in self.season_spans() if k > 1]
        season_scan = np.max(np.vstack([stats[k] for k in long]), axis=0) if long else 0 * x
        return Components(strengths, point, scan, np.abs(season_z), season_scan, seasonal)

    def magnitude(self, values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the larger of |robust z| of the value and of its first difference, and the
        largest scan over more than one row (0 when the spans hold only 1)."""
        cfg = self.config
        x = np.asarray(values, dtype=float)
        z = robust_z(x, cfg.history)
        jump = robust_z(np.diff(x, prepend=x[:1]), cfg.history)
        point = np.asarray(np.maximum(np.abs(z), np.abs(jump)))
        scans = list(span_scan(z, [k for k in cfg.spans if k > 1]).values())
        scan = np.max(np.vstack(scans), axis=0) if scans else np.zeros(len(x))
        return point, scan

    def strengths(self, values: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
        """Each statistic's 0-1 rank strength per row."""
        return self.components(values).strengths

    def combine(self, parts: Components) -> np.ndarray:
        """The strongest statistic per row, floored; on seasonal rows the seasonal scan takes
        the plain scan's place (the extremes stay)."""
        cfg = self.config
        names = [k for k in parts.strengths if not k.startswith("season")]
        plain = self.floor(_strongest(parts.strengths, names), (parts.point, parts.scan))
        if not cfg.period:
            return plain
        extremes = self.floor(
            _strongest(parts.strengths, ["high", "low"] * cfg.extremes), (parts.point, parts.scan)
        )
        season = self.floor(
            _strongest(parts.strengths, [f"season{k}" for k in self.season_spans()]),
            (parts.season_point, parts.season_scan),
        )
        return np.where(parts.seasonal, np.maximum(season, extremes), plain)

    def score(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """The strongest statistic per row, 0-1 (0 in warm-up and below ``min_z``)."""
        return self.combine(self.components(values))

    def floor(self, score: np.ndarray, magnitude: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``score`` where the value or jump reaches ``min_z`` or a scan ``scan_min_z`` (after
        warm-up), else 0: a rank says how unusual a row is, the floor that it is also large.
        ``magnitude`` is what :meth:`magnitude` returns for the same values."""
        point, scan = magnitude
        big = (point >= self.config.min_z) | (scan >= self.config.scan_min_z)
        out = np.where(big, score, 0.0)
        out[: self.config.warmup] = 0.0
        return out

    def decide(self, score: np.ndarray) -> np.ndarray:
        """The rule on a score series: gate, threshold and cooldown; 0 where nothing fires."""
        cfg = self.config
        return cooldown(gate(score, cfg.gate_rows), cfg.threshold, cfg.suppress_rows)

    def decision_score(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """The score on rows that fire, 0 elsewhere (a higher threshold selects a subset)."""
        return self.decide(self.score(values))

    def detect(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Boolean detections per row."""
        return self.decision_score(values) > 0.0


def _strongest(strengths: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Row-wise maximum of the named strengths (0 when none is named)."""
    rows = len(next(iter(strengths.values())))
    out: np.ndarray = np.max(np.vstack([strengths[k] for k in names] + [np.zeros(rows)]), axis=0)
    return out
