"""The hand-written news-sentences evaluation set: its shape and the rules it was written to."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.eval_sets import read_eval_set

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "news_sentences.csv"
HEADER = ["id", "text", "label", "category"]
LABELS = {"negative", "neutral", "positive"}
MIN_WORDS, MAX_WORDS = 6, 35


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_eval_set(DATA.name, HEADER)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_row_count(rows: list[dict[str, str]]) -> None:
    assert len(rows) >= 360


def test_ids_are_numbered_in_order(rows: list[dict[str, str]]) -> None:
    assert [r["id"] for r in rows] == [f"ns-{i:04d}" for i in range(1, len(rows) + 1)]


def test_labels_and_categories_are_valid(rows: list[dict[str, str]]) -> None:
    assert {r["label"] for r in rows} == LABELS
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", r["category"]) for r in rows)


def test_each_label_is_at_least_a_quarter(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["label"] for r in rows)
    assert all(counts[label] >= 0.25 * len(rows) for label in LABELS), counts


def test_every_category_has_at_least_ten_rows(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["category"] for r in rows)
    assert min(counts.values()) >= 10, counts


def test_one_sentence_per_row_within_word_bounds(rows: list[dict[str, str]]) -> None:
    for row in rows:
        text = row["text"]
        assert text == text.strip() and "\n" not in text, row["id"]
        assert MIN_WORDS <= len(text.split()) <= MAX_WORDS, row["id"]


def test_texts_are_unique_and_not_near_duplicates(rows: list[dict[str, str]]) -> None:
    lowered = [r["text"].strip().lower() for r in rows]
    assert len(set(lowered)) == len(lowered)
    # no two sentences differ only in their figures or punctuation
    letters = [" ".join(re.findall(r"[a-z]+", t)) for t in lowered]
    assert len(set(letters)) == len(letters)
    # nor share most of their words
    sets = [(r["id"], words(r["text"])) for r in rows]
    close = [
        (i, j)
        for (i, a), (j, b) in itertools.combinations(sets, 2)
        if len(a & b) / len(a | b) >= 0.75
    ]
    assert close == []
