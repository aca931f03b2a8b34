"""An online anomaly detector for one generic univariate series (used by the NAB benchmark).

The pipeline's detectors (:mod:`finsentry.detectors`) work on event-time windows of news counts
and tones. This module scores any numeric series row by row, causally: the score of row ``t``
depends on rows ``0..t`` only, so appending rows never changes an earlier score or decision.

Each row is looked at through several views, each a non-negative "strangeness" score:

- ``value``: robust z of the value against the trailing median and IQR of the history window;
- ``jump``: the same for the first difference (sudden jumps);
- ``likelihood``: HTM's anomaly-likelihood idea: the mean of the last ``short`` value scores
  compared (as a Gaussian z) with the mean and spread of those scores over the history window,
  so a sustained, moderate change stands out even when no single row is extreme;
- ``season``: the value against the median of the same slot on the previous days (daily
  rhythm), scaled by the trailing spread of that residual; only when the timestamps have a
  regular step that divides a day;
- ``extreme``: new highs and new lows of the raw value.

Each view is turned into a rank tail probability against its own past (``-log10`` of the share
of past scores at least as large, divided by the most that share can say after ``t`` rows), so
1 means "stranger than anything seen so far" and one threshold fits every series; the row's score
is the strongest view. Two rules keep an ongoing anomaly from firing again and again (NAB rewards
the earliest detection in a window and charges every false positive, as a desk mutes a noisy
alert): a row is a candidate only if its score beats every score of the previous ``gate`` rows,
and after a detection the detector stays silent for ``suppress`` rows. A candidate whose score
reaches ``threshold`` is a detection.

The parameters are global (the same for every series); ``history`` may be set per series from
its expected learning period, as NAB passes its probationary period to every detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finsentry.app.scan import rows_per_period as regular_period
from finsentry.detectors.series import cooldown as suppress
from finsentry.detectors.series import gate, rank_strength, robust_z

VIEWS = ("value", "jump", "likelihood", "season", "extreme")
DEFAULT_VIEWS = ("value", "jump", "likelihood", "extreme")


@dataclass(frozen=True)
class UnivariateConfig:
    """Global parameters of :class:`UnivariateDetector`.

    ``history``: rows in the trailing baseline windows; ``short``: rows averaged by the
    likelihood view; ``threshold``: the score (0-1) at which a candidate is a detection;
    ``gate``: a candidate must beat every score of this many previous rows (``None``:
    ``history``); ``suppress``: rows kept silent after a detection (``None``: ``history // 10``);
    ``warmup``: rows before anything scores; ``season_days``: previous days compared by the
    season view; ``memory``: rank the views against only this many past rows (``None``: all);
    ``min_z``: a row scores only if the robust z of its value or of its jump reaches this
    (a magnitude floor under the rank calibration, so a barely new extreme of plain noise
    does not fire; 2 suits NAB, 4-5 suits an alert desk);
    ``views``: the views combined (the season view is available but off by default: it did not
    add to the NAB score, see docs/benchmarks.md).
    """

    history: int = 750
    short: int = 10
    threshold: float = 0.8
    gate: int | None = None
    suppress: int | None = None
    warmup: int = 20
    season_days: int = 7
    memory: int | None = None
    min_z: float = 4.0
    views: tuple[str, ...] = DEFAULT_VIEWS

    def __post_init__(self) -> None:
        if self.history < 10 or self.short < 1 or self.warmup < 1:
            raise ValueError("history must be >= 10, short and warmup >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if (self.gate is not None and self.gate < 0) or (
            self.suppress is not None and self.suppress < 0
        ):
            raise ValueError("gate and suppress must be >= 0 rows")
        unknown = set(self.views) - set(VIEWS)
        if unknown or not self.views:
            raise ValueError(f"views must be a non-empty subset of {VIEWS}, not {self.views}")

    @property
    def gate_rows(self) -> int:
        return self.history if self.gate is None else self.gate

    @property
    def suppress_rows(self) -> int:
        return self.history // 10 if self.suppress is None else self.suppress


# --- views -----------------------------------------------------------------------------------


def trailing_robust_z(values: np.ndarray, history: int, min_periods: int = 10) -> np.ndarray:
    """|x_t - median| / (IQR / 1.349) with median and IQR over the ``history`` rows before t."""
    return np.abs(robust_z(values, history, min_periods))


def likelihood_z(raw: np.ndarray, history: int, short: int) -> np.ndarray:
    """How far the mean of the last ``short`` raw scores is above their long-run mean, in
    standard errors of the long-run spread (from the ``history`` rows before the short window)."""
    r = pd.Series(np.minimum(raw, 50.0), dtype=float)
    recent = r.rolling(short, min_periods=1).mean()
    before = r.shift(short).rolling(history, min_periods=10)
    mean, std = before.mean(), before.std()
    z = (recent - mean) / (std.fillna(0.0) + 1e-6)
    return np.array(z.fillna(0.0).clip(lower=0.0, upper=1e6).to_numpy(), dtype=float)


def seasonal_z(values: np.ndarray, period: int, days: int, history: int) -> np.ndarray:
    """Robust z of x_t minus the median of x at the same slot on the previous ``days`` days."""
    if period <= 0:
        return np.zeros(len(values))
    x = pd.Series(values, dtype=float)
    lagged = pd.concat([x.shift(period * k) for k in range(1, days + 1)], axis=1)
    expected = lagged.median(axis=1, skipna=True)
    residual = (x - expected).to_numpy()  # NaN on the first day: skipped by the baseline
    z = trailing_robust_z(residual, history)
    z[: 2 * period] = 0.0  # a day of residuals before the view speaks
    return z


def magnitude_z(values: Sequence[float] | np.ndarray, history: int) -> np.ndarray:
    """The larger of the trailing robust z of the value and of its first difference."""
    x = np.asarray(values, dtype=float)
    jump = trailing_robust_z(np.diff(x, prepend=x[:1]), history)
    out: np.ndarray = np.maximum(trailing_robust_z(x, history), jump)
    return out


# --- detector --------------------------------------------------------------------------------


@dataclass
class UnivariateDetector:
    """Causal multi-view detector: :meth:`views` per row, :meth:`score` (0-1), :meth:`detect`."""

    config: UnivariateConfig = field(default_factory=UnivariateConfig)

    def raw_views(
        self, values: Sequence[float] | np.ndarray, timestamps: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Each configured view's raw strangeness per row (before rank calibration)."""
        cfg = self.config
        x = np.asarray(values, dtype=float)
        value_z = trailing_robust_z(x, cfg.history)
        raw: dict[str, np.ndarray] = {}
        if "value" in cfg.views:
            raw["value"] = value_z
        if "jump" in cfg.views:
            raw["jump"] = trailing_robust_z(np.diff(x, prepend=x[:1]), cfg.history)
        if "likelihood" in cfg.views:
            raw["likelihood"] = likelihood_z(value_z, cfg.history, cfg.short)
        if "season" in cfg.views:
            period = regular_period(timestamps, len(x))
            raw["season"] = seasonal_z(x, period, cfg.season_days, cfg.history)
        if "extreme" in cfg.views:
            raw["high"], raw["low"] = x.copy(), -x
        return raw

    def views(
        self, values: Sequence[float] | np.ndarray, timestamps: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Each configured view's 0-1 strength per row."""
        cfg = self.config
        ranked = {k: rank_strength(v, cfg.warmup, cfg.memory) for k, v in
                  self.raw_views(values, timestamps).items()}  # fmt: skip
        if "high" in ranked:
            ranked["extreme"] = np.maximum(ranked.pop("high"), ranked.pop("low"))
        return ranked

    def score(
        self, values: Sequence[float] | np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """The strongest view per row, 0-1 (0 during warm-up and below ``min_z``)."""
        views = self.views(values, timestamps)
        score: np.ndarray = np.max(np.vstack(list(views.values())), axis=0)
        if self.config.min_z > 0:
            big = magnitude_z(values, self.config.history) >= self.config.min_z
            score = np.where(big, score, 0.0)
        score[: self.config.warmup] = 0.0
        return score

    def candidate_score(
        self, values: Sequence[float] | np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`score` where it beats every score of the previous ``gate`` rows, else 0."""
        return gate(self.score(values, timestamps), self.config.gate_rows)

    def decision_score(
        self, values: Sequence[float] | np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """The candidate score on rows that are detections, 0 elsewhere.

        A threshold sweep at or above ``threshold`` over this (as NAB's scorer does) selects a
        subset of the detections of :meth:`detect`.
        """
        cfg = self.config
        return suppress(self.candidate_score(values, timestamps), cfg.threshold,
                        cfg.suppress_rows)  # fmt: skip

    def detect(
        self, values: Sequence[float] | np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """Boolean detections per row."""
        return self.decision_score(values, timestamps) > 0.0
