"""Reading a labelled table in the shapes public data sets come in (see :mod:`.data`): CSV or TSV
with or without a header, JSON lines or a JSON array, Parquet, the Financial PhraseBank's
``sentence@label`` lines; UTF-8, else Latin-1; column names in any case and common other names."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from finsentry.scoring.modeldir import SENTIMENT_SYNONYMS

__all__ = ["DataError", "read_table"]


class DataError(ValueError):
    """Training or evaluation data that cannot be used; the message says how to fix it."""


TEXT_COLUMNS = ("sentence", "headline", "title", "tweet", "content", "news")
LABEL_COLUMNS = ("sentiment", "class", "labels")
TARGET_COLUMNS = ("company",)  # another name of a one-company-per-row file's entity column


def _read_text(path: Path) -> str:
    """A file's text: UTF-8, else Latin-1 (the Financial PhraseBank's files are Latin-1)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _phrase_bank(path: Path) -> pd.DataFrame:
    """``sentence@label`` lines, as the Financial PhraseBank distributes its sentences."""
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("@")
        if not sep or not text.strip():
            raise DataError(
                f"{path} line {number}: a .txt data file holds 'sentence@label' lines "
                "(or use a .csv, .tsv or .jsonl file with text and label columns)"
            )
        rows.append({"text": text.strip(), "label": label.strip()})
    return pd.DataFrame(rows, columns=["text", "label"])


def _named_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``text``, ``label`` (and an entity-level file's ``title``, ``entities``, ``entity``, and
    ``task``) found whatever their case, and taken from a common other name where the file lacks
    them (never from ``title`` when an ``entities`` column makes the file entity-level)."""
    by_lower: dict[str, str] = {}
    for column in frame.columns:
        by_lower.setdefault(str(column).strip().lower(), column)
    renames: dict[object, str] = {}

    def take(want: str, aliases: Sequence[str]) -> None:
        if want in frame.columns:
            return
        for name in (want, *aliases):
            column = by_lower.get(name)
            if column is not None and column not in renames:
                renames[column] = want
                return

    for want in ("entities", "title", "task"):
        take(want, ())
    entity_level = "entities" in by_lower
    take("text", [a for a in TEXT_COLUMNS if not (entity_level and a == "title")])
    take("label", LABEL_COLUMNS)
    if not entity_level:
        take("entity", TARGET_COLUMNS)
    return frame.rename(columns=renames) if renames else frame


def _label_like(value: object) -> bool:
    text = str(value).strip().lower()
    return text in SENTIMENT_SYNONYMS or text.lstrip("-").isdigit()


def _headerless(frame: pd.DataFrame, text: str, sep: str) -> pd.DataFrame | None:
    """A two-column file without a header (``neutral,"According to ..."``, as the Financial
    PhraseBank's CSV copies come): read again with ``label`` the column whose every cell, the
    first row's included, is a sentiment name or an id, and ``text`` the other. None when the file
    is not like that."""
    if len(frame.columns) != 2:
        return None
    header = [str(c) for c in frame.columns]
    if sum(_label_like(h) for h in header) != 1:
        return None
    label_at = 0 if _label_like(header[0]) else 1
    raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, header=None, keep_default_na=False)
    if not all(_label_like(v) for v in raw[label_at]):
        return None
    return pd.DataFrame({"text": raw[1 - label_at], "label": raw[label_at]})


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        frame = pd.DataFrame(_json_rows(path))
    elif suffix in (".csv", ".tsv"):
        text, sep = _read_text(path), "\t" if suffix == ".tsv" else ","
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str)
        if not {"text", "label"} <= set(_named_columns(frame).columns):
            frame = _headerless(frame, text, sep) if "entities" not in frame.columns else None
            if frame is None:
                frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str)
    elif suffix == ".parquet":
        frame = _parquet(path)
    elif suffix == ".txt":
        frame = _phrase_bank(path)
    else:
        raise DataError(
            f"{path}: use a .csv, .tsv, .jsonl, .json or .parquet file with text and label columns"
        )
    frame = _named_columns(frame)
    missing = {"text", "label"} - set(frame.columns)
    if missing and {"title", "entities"} <= set(frame.columns):
        return frame
    if missing:
        raise DataError(f"{path} lacks column(s) {sorted(missing)}; it has {list(frame.columns)}")
    return frame


def _json_rows(path: Path) -> list[dict[str, object]]:
    """JSON lines, or one JSON array of objects (as ``datasets``' ``to_json(lines=False)``)."""
    text = _read_text(path)
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not JSON lines or a JSON array (line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DataError(f"{path}: each record must be a JSON object with text and label fields")
    return rows


def _parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow (pip install pyarrow); or save the table as "
            "CSV or JSON lines"
        ) from None
    return frame.astype({c: str for c in frame.columns if frame[c].dtype == object})
