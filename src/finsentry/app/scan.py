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

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsentry.detectors.series import SeriesConfig, SeriesDetector, robust_baseline
from finsentry.schema import ScopeKind, WindowStat, unix_seconds

if TYPE_CHECKING:
    from finsentry.store.base import Store

__all__ = [
    "METRICS",
    "CsvSeries",
    "Finding",
    "benchmarked_config",
    "learning_period",
    "learning_rows",
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


def parse_time(text: str) -> np.datetime64:
    """A timestamp (``2014-04-01 00:00:00``; ISO 8601 with ``T``, fractions or an offset too)
    as a naive UTC datetime64; a time without offset is taken as UTC."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(stamp, "s")


@dataclass(frozen=True, slots=True)
class CsvSeries:
    """A CSV file's series (:func:`read_csv`). ``positions``: its first column numbers the rows
    (1, 2, 3 ...) rather than dating them; ``timestamps`` then hold those numbers as seconds
    after 1970, which no output shows as a time."""

    timestamps: np.ndarray
    values: np.ndarray
    missing: int
    positions: bool = False


EPOCH_S_FROM = 1e8  # a Unix time in seconds from 1973 on; smaller numbers count the rows


def read_csv(path: Path, time_column: str | None = None, value_column: str | None = None) -> CsvSeries:
    """Timestamps and values of a CSV file, in time order, and how many values were missing.

    The columns are ``time_column`` and ``value_column`` when given (a name of the header, any
    case: :class:`ValueError` when absent), else ``timestamp`` and ``value``, else the first two.
    A timestamp is a date and
    time (:func:`parse_time`) or, when the first row's is a number, a Unix time in seconds or
    milliseconds (by its size), or a row number (numbers below 1e8, as in Yahoo's S5 files). A
    missing or non-numeric value (blank, ``nan``, ``inf``) takes the last value before it (the
    first valid one at the start): the detector sees no change there. Rows whose timestamp does
    not parse are dropped. A file of values alone (one column, or numbers separated by blanks,
    as in the UCR anomaly archive), with or without a header line, is numbered 1, 2, 3 ...
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return CsvSeries(np.array([], dtype="datetime64[s]"), np.array([]), 0)
    if time_column is None and value_column is None and (bare := _bare_values(rows)):
        t = np.arange(1, len(bare) + 1, dtype=np.int64).astype("datetime64[s]")
        return CsvSeries(*_filled(t, np.array(bare, dtype=float)), positions=True)
    header = [h.strip().lower() for h in rows[0]]
    t_col = _column(header, time_column, "timestamp", 0, path)
    v_col = _column(header, value_column, "value", 1, path)
    rows = [row for row in rows[1:] if len(row) > max(t_col, v_col) and row[t_col].strip()]
    numeric = bool(rows) and _number(rows[0][t_col]) is not None
    cells: list[float | np.datetime64] = []
    values = []
    for row in rows:
        stamp: float | np.datetime64 | None
        if numeric:
            stamp = _number(row[t_col])
        else:
            try:
                stamp = parse_time(row[t_col])
            except ValueError:
                stamp = None
        if stamp is None:
            continue
        try:
            value = float(row[v_col])
        except ValueError:
            value = math.nan
        cells.append(stamp)
        values.append(value if math.isfinite(value) else math.nan)
    positions = False
    if numeric:
        numbers = np.array(cells, dtype=float)
        largest = float(np.abs(numbers).max()) if len(numbers) else 0.0
        scale = 1e-3 if unix_seconds(largest) != largest else 1.0  # one unit for the file
        positions = largest < EPOCH_S_FROM
        t = np.round(numbers * scale).astype(np.int64).astype("datetime64[s]")
    else:
        t = np.array(cells, dtype="datetime64[s]")
    order = np.argsort(t, kind="stable")
    t, x, missing = _filled(t[order], np.array(values, dtype=float)[order])
    return CsvSeries(t, x, missing, positions)


def _bare_values(rows: list[list[str]]) -> list[float] | None:
    """The numbers of a file that holds nothing else (after an optional header line), in file
    order, non-finite ones as NaN; None for any other file."""
    if any(len(row) > 1 for row in rows):
        return None
    cells = [cell for row in rows if row for cell in row[0].split()]
    if cells and _float(cells[0]) is None:
        cells = cells[1:]  # a header
    values = [_float(cell) for cell in cells]
    if not values or None in values:
        return None
    return [v if v is not None and math.isfinite(v) else math.nan for v in values]


def _float(text: str) -> float | None:
    """``text`` as a float (``nan`` and ``inf`` included), or None."""
    try:
        return float(text)
    except ValueError:
        return None


def _column(header: list[str], wanted: str | None, usual: str, fallback: int, path: Path) -> int:
    if wanted is None:
        return header.index(usual) if usual in header else fallback
    name = wanted.strip().lower()
    if name not in header:
        raise ValueError(f"{path} has no column {wanted!r}; its columns: {', '.join(header)}")
    return header.index(name)


def read_csv_series(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`read_csv` as (timestamps, values, missing)."""
    series = read_csv(path)
    return series.timestamps, series.values, series.missing


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _filled(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    missing = int(np.isnan(x).sum())
    if missing and missing < len(x):
        x = pd.Series(x).ffill().bfill().to_numpy(dtype=float)
    return t, x, missing


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
    return (*_filled(stamps, np.array(values, dtype=float)), np.array(counts, dtype=np.int64))


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
