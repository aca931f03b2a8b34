"""Numeric series from CSV files, for ``finsentry scan --csv`` and ``benchmarks/nab.py``: the
time and value columns (dates, Unix times or row numbers; values alone, as the UCR archive
writes them), an optional label column, and how listed rows meet the labelled stretches."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from finsentry.schema import unix_seconds

__all__ = [
    "EPOCH_S_FROM", "CsvSeries", "LabelAgreement", "filled", "label_agreement", "parse_time",
    "read_csv", "read_csv_series",
]  # fmt: skip


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
    labels: np.ndarray | None = None  # 1 where a label column marks the row anomalous, else 0


EPOCH_S_FROM = 1e8  # a Unix time in seconds from 1973 on; smaller numbers count the rows


def read_csv(
    path: Path,
    time_column: str | None = None,
    value_column: str | None = None,
    label_column: str | None = None,
) -> CsvSeries:
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
    ``label_column`` names a column marking anomalous rows (any number but 0, as Yahoo's
    ``is_anomaly``), kept beside each row as 1 or 0.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return CsvSeries(np.array([], dtype="datetime64[s]"), np.array([]), 0)
    if time_column is None and value_column is None and (bare := _bare_values(rows)):
        t = np.arange(1, len(bare) + 1, dtype=np.int64).astype("datetime64[s]")
        return CsvSeries(*filled(t, np.array(bare, dtype=float)), positions=True)
    header = [h.strip().lower() for h in rows[0]]
    t_col = _column(header, time_column, "timestamp", 0, path)
    v_col = _column(header, value_column, "value", 1, path)
    l_col = _column(header, label_column, "", -1, path) if label_column else -1
    rows = [row for row in rows[1:] if len(row) > max(t_col, v_col, l_col) and row[t_col].strip()]
    numeric = bool(rows) and _number(rows[0][t_col]) is not None
    cells, values, marks = _cells(rows, (t_col, v_col, l_col), numeric)
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
    t, x, missing = filled(t[order], np.array(values, dtype=float)[order])
    labels = np.array(marks, dtype=np.int64)[order] if l_col >= 0 else None
    return CsvSeries(t, x, missing, positions, labels)


def _cells(
    rows: list[list[str]], columns: tuple[int, int, int], numeric: bool
) -> tuple[list[float | np.datetime64], list[float], list[int]]:
    """Each row's time (a number, or a parsed date; rows whose time does not parse are left
    out), value (NaN when not a finite number) and label (when ``columns[2]`` >= 0)."""
    t_col, v_col, l_col = columns
    cells: list[float | np.datetime64] = []
    values: list[float] = []
    marks: list[int] = []
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
        if l_col >= 0:
            marks.append(int(bool(_number(row[l_col]))))
    return cells, values, marks


@dataclass(frozen=True, slots=True)
class LabelAgreement:
    """Listed rows against a label column: of the labelled stretches (runs of anomalous rows),
    how many have a listed row within ``tolerance`` rows; how many listed rows have none."""

    stretches: int
    found: int
    others: int
    tolerance: int

    def to_json(self) -> dict[str, int]:
        return {
            "labelled_stretches": self.stretches, "found": self.found,
            "other_listings": self.others, "tolerance_rows": self.tolerance,
        }  # fmt: skip


def label_agreement(labels: np.ndarray, rows: Sequence[int], tolerance: int) -> LabelAgreement:
    """How the listed ``rows`` (indices into the series) meet the labelled stretches."""
    marked = np.flatnonzero(labels)
    stretches: list[tuple[int, int]] = []
    for index in marked.tolist():
        if stretches and index == stretches[-1][1] + 1:
            stretches[-1] = (stretches[-1][0], index)
        else:
            stretches.append((index, index))

    def near(row: int, stretch: tuple[int, int]) -> bool:
        return stretch[0] - tolerance <= row <= stretch[1] + tolerance

    found = sum(any(near(r, s) for r in rows) for s in stretches)
    others = sum(not any(near(r, s) for s in stretches) for r in rows)
    return LabelAgreement(len(stretches), found, others, tolerance)


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


def filled(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    missing = int(np.isnan(x).sum())
    if missing and missing < len(x):
        x = pd.Series(x).ffill().bfill().to_numpy(dtype=float)
    return t, x, missing
