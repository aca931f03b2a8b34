"""``finsentry scan``: the product's series detector over a numeric series, after the fact.

The live rules watch counts and negative shares window by window. ``scan`` runs
:class:`~finsentry.detectors.series.SeriesDetector` (robust baseline, span scan, seasonal view,
rank calibration; see its module) over a whole series at once: a scope's windows in the store
(items, negative share or mean score per window, empty windows included) or any CSV of
``timestamp,value`` rows (a price, a latency, a metric exported from Grafana, a NAB file). It is
causal: a row's score uses that row and the rows before it only, so the anomalies it lists are
the ones it would have flagged at the time.

The parameters are the ones measured on the Numenta Anomaly Benchmark (``benchmarks/nab.py``
reads its files and builds its detector with :func:`benchmarked_config`, so the benchmark and this
command run the same detector): history = 15 % of the rows within 50-750, a 32-row scan, gate
1.5 and suppression 0.1 of the history, magnitude floor 2, tolerance 0.02, the seasonal view with
one day of rows as period when the rows have a regular step that divides a day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsentry.app.series_csv import (
    CsvSeries,
    LabelAgreement,
    filled,
    label_agreement,
    parse_time,
    read_csv,
    read_csv_series,
)
from finsentry.detectors.series import SeriesConfig, SeriesDetector, robust_baseline
from finsentry.schema import ScopeKind, WindowStat

if TYPE_CHECKING:
    from finsentry.store.base import Store

__all__ = [
    "METRICS",
    "CsvSeries",
    "Finding",
    "LabelAgreement",
    "benchmarked_config",
    "label_agreement",
    "learning_period",
    "learning_rows",
    "parse_time",
    "read_csv",
    "read_csv_series",
    "rows_per_period",
    "scan",
    "scopes_series",
]

METRICS = ("count", "negative_share", "mean_score")
DAY_S = 86_400
PROBATION_SHARE = 0.15  # NAB's probationary share of a file, at most 750 rows
# a scope's series: window starts, values, how many values were carried, novel items per window
ScopeSeries = tuple[np.ndarray, np.ndarray, int, np.ndarray]


@dataclass(frozen=True, slots=True)
class Finding:
    """A row the detector flags: its time and value, the median and robust z of the value against
    the ``history`` rows before it, the detector's 0-1 score, and which way the value moved."""

    at: datetime
    value: float
    median: float
    z: float
    score: float
    position: int | None = None  # a CSV whose first column counts rows, not time: its number

    @property
    def direction(self) -> str:
        return "above" if self.z >= 0 else "below"

    def to_json(self) -> dict[str, object]:
        where: dict[str, object] = (
            {"at": self.at.isoformat()} if self.position is None else {"position": self.position}
        )
        return {
            **where,
            "value": self.value,
            "median": self.median,
            "z": round(self.z, 3),
            "score": round(self.score, 6),
            "direction": self.direction,
        }


def learning_rows(n: int) -> int:
    """History rows for a series of ``n`` rows: NAB's probation (15 %, at most 750), kept within
    50-750."""
    probation = int(min(math.floor(PROBATION_SHARE * n), PROBATION_SHARE * 5000))
    return max(min(max(probation, 20), 750), 50)


def rows_per_period(
    timestamps: np.ndarray | None, n: int, period_s: int = DAY_S, min_cycles: int = 2
) -> int:
    """Rows per day when the timestamps have a regular step that divides a day and the series
    holds at least ``min_cycles`` days, else 0."""
    if timestamps is None or n < 3:
        return 0
    stamps = np.asarray(timestamps).astype("datetime64[s]").astype(np.int64)
    step = int(np.median(np.diff(stamps[: min(n, 200)])))
    if step <= 0 or period_s % step:
        return 0
    rows = period_s // step
    return rows if 4 <= rows <= n // min_cycles else 0


def benchmarked_config(
    timestamps: np.ndarray | None,
    n: int,
    *,
    history: int | None = None,
    spans: tuple[int, ...] = (32,),
    gate: float = 1.5,
    suppress: float = 0.1,
    min_z: float = 2.0,
    tolerance: float = 0.02,
    seasonal: bool = True,
    threshold: float = 0.8,
    min_cycles: int = 2,
) -> SeriesConfig:
    """The detector's configuration for a series of ``n`` rows, as measured on NAB. The seasonal
    view is on when the rows have a daily period and span ``min_cycles`` days or more."""
    return SeriesConfig(
        history=history or learning_rows(n),
        spans=spans,
        spread_spans=(),
        gate=gate,
        suppress=suppress,
        min_z=min_z,
        scan_min_z=6.0,
        tolerance=tolerance,
        threshold=threshold,
        period=rows_per_period(timestamps, n, min_cycles=min_cycles) if seasonal else 0,
    )


def learning_period(config: SeriesConfig) -> int:
    """Rows at the start in which nothing is listed: the baseline's history, and two cycles when
    the seasonal view is on (it needs them to know the rhythm). NAB ignores detections in its
    probationary period, about as long, for the same reason."""
    return max(config.history, 2 * config.period)


def scan(
    timestamps: np.ndarray,
    values: np.ndarray,
    config: SeriesConfig,
    eligible: np.ndarray | None = None,
    positions: bool = False,
) -> list[Finding]:
    """The rows the detector flags after the learning period, oldest first; with ``eligible``,
    only rows where it is true (e.g. windows holding enough items to mean something). With
    ``positions`` the timestamps are row numbers (:func:`read_csv`), given as such."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return []
    fired = SeriesDetector(config).decision_score(x)
    fired[: learning_period(config)] = 0.0
    if eligible is not None:
        fired[~np.asarray(eligible, dtype=bool)] = 0.0
    median, spread = robust_baseline(x, config.history)
    out = []
    for row in np.flatnonzero(fired > 0.0).tolist():
        z = float(np.nan_to_num((x[row] - median[row]) / spread[row], nan=0.0))
        at = pd.Timestamp(timestamps[row]).to_pydatetime().replace(tzinfo=UTC)
        position = _seconds(timestamps[row]) if positions else None
        out.append(Finding(at, float(x[row]), float(median[row]), z, float(fired[row]), position))
    return out


def _seconds(stamp: np.datetime64) -> int:
    return int(np.asarray(stamp).astype("datetime64[s]").astype(np.int64))


def scopes_series(
    store: Store,
    scope: tuple[str, str],
    metric: str,
    size_s: int,
    start: datetime,
    end: datetime,
) -> dict[str, ScopeSeries]:
    """One value per window of ``size_s`` seconds from ``start`` to ``end`` (both rounded down to
    a window start) of a scope, or of every scope of its kind that has windows in the stretch
    when its value is ``*`` (``ticker:*``), by scope value, read from the store's window
    statistics: novel items (``count``), their negative share or their mean score. Windows
    without items count 0; their share and mean take the value before them. Each series comes
    with how many values were carried and the novel items of every window."""
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r}: use one of {', '.join(METRICS)}")
    kind, value = scope
    starts = _grid(start, end, size_s)
    until = starts[-1].to_pydatetime() + timedelta(seconds=size_s)
    every = value == "*" and kind != str(ScopeKind.ALL)
    stats = store.window_stats(
        size_s, starts[0].to_pydatetime(), until, ScopeKind(kind), None if every else value
    )
    grouped: dict[str, dict[datetime, WindowStat]] = {}
    for stat in stats:
        grouped.setdefault(stat.scope_value, {})[stat.start] = stat
    return {name: _series(by_start, metric, starts) for name, by_start in sorted(grouped.items())}


def _grid(start: datetime, end: datetime, size_s: int) -> pd.DatetimeIndex:
    first, last = _window_start(start, size_s), _window_start(end, size_s)
    return pd.date_range(first, last, freq=f"{size_s}s")


def _series(
    by_start: dict[datetime, WindowStat], metric: str, starts: pd.DatetimeIndex
) -> ScopeSeries:
    values, counts = [], []
    for at in starts:
        stat = by_start.get(at.to_pydatetime())
        count = stat.count if stat is not None else 0
        counts.append(count)
        if metric == "count":
            values.append(float(count))
        elif count == 0 or stat is None:
            values.append(math.nan)
        elif metric == "negative_share":
            values.append(stat.negative / count)
        else:
            values.append(stat.score_sum / count)
    stamps = np.array([at.tz_convert(None).to_datetime64() for at in starts], dtype="datetime64[s]")
    return (*filled(stamps, np.array(values, dtype=float)), np.array(counts, dtype=np.int64))


def _window_start(at: datetime, size_s: int) -> datetime:
    seconds = int(at.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(seconds - seconds % size_s, UTC)


def describe_series(timestamps: np.ndarray, config: SeriesConfig, positions: bool = False) -> str:
    """One line: rows, span, history and the seasonal period used."""
    if len(timestamps) == 0:
        return "no rows"
    if positions:
        span = f"numbered {_seconds(timestamps[0])} to {_seconds(timestamps[-1])}"
    else:
        first = pd.Timestamp(timestamps[0]).strftime("%Y-%m-%d %H:%M")
        last = pd.Timestamp(timestamps[-1]).strftime("%Y-%m-%d %H:%M")
        span = f"{first} to {last} UTC"
    season = (
        f"seasonal view over {config.period} rows a day" if config.period else "no seasonal view"
    )
    return (
        f"{len(timestamps)} rows, {span}; baseline: the {config.history} rows "
        f"before each row; {season}; threshold {config.threshold}; nothing listed in the first "
        f"{learning_period(config)} rows (learning)"
    )
