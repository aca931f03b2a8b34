"""The hand-written adverse-events evaluation set: its shape and the rules it was written to."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.eval_sets import read_eval_set

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "adverse_events.csv"
HEADER = ["id", "title", "entities", "kind", "event"]
LABELS = {"negative", "neutral", "positive"}
MARKET_WORDS = [
    "shares",
    "stock",
    "stocks",
    "price",
    "prices",
    "investors",
    "market",
    "markets",
    "trading",
    "plunge",
    "plunges",
    "slump",
    "tumble",
    "fall",
    "falls",
    "drop",
    "drops",
    "slide",
    "sinks",
    "down",
    "loss",
    "losses",
    "bearish",
    "sell-off",
    "selloff",
    "rally",
    "valuation",
    "profit warning",
]
MARKET_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(w) for w in MARKET_WORDS) + r")\b", re.IGNORECASE
)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_eval_set(DATA.name, HEADER)


def entities(row: dict[str, str]) -> dict[str, str]:
    parsed = json.loads(row["entities"])
    assert isinstance(parsed, dict) and parsed, row["id"]
    return {str(k): str(v) for k, v in parsed.items()}


def test_counts_per_kind(rows: list[dict[str, str]]) -> None:
    kinds = [r["kind"] for r in rows]
    assert set(kinds) == {"adverse", "lookalike"}
    assert kinds.count("adverse") >= 220
    assert kinds.count("lookalike") >= 110


def test_ids_and_titles_are_unique(rows: list[dict[str, str]]) -> None:
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"ae-\d{4}", i) for i in ids)
    titles = [r["title"].strip().lower() for r in rows]
    assert len(set(titles)) == len(titles)
    assert all(r["event"] for r in rows)


def test_entities_occur_verbatim_with_known_labels(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for name, label in entities(row).items():
            assert name in row["title"], (row["id"], name)
            assert label in LABELS, (row["id"], label)


def test_adverse_rows_hit_exactly_one_company(rows: list[dict[str, str]]) -> None:
    for row in rows:
        labels = list(entities(row).values())
        if row["kind"] == "adverse":
            assert labels.count("negative") == 1, row["id"]
        else:
            assert "negative" not in labels, row["id"]


def test_adverse_titles_have_no_market_words(rows: list[dict[str, str]]) -> None:
    hits = [
        (r["id"], m.group(0))
        for r in rows
        if r["kind"] == "adverse" and (m := MARKET_RE.search(r["title"]))
    ]
    assert hits == []


def test_market_word_pattern_matches_on_word_boundaries() -> None:
    assert MARKET_RE.search("Shares of Acme fall")
    assert MARKET_RE.search("a sell-off in Acme")
    assert not MARKET_RE.search("Regulator orders shutdown after downgrade")
