"""Entity-level evaluation reports the headlines whose companies differ in tone apart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from finsentry.schema import Target, TargetSentiment, TextScore
from finsentry.scoring.engine import Scorer
from finsentry.training.data import load_examples
from finsentry.training.report import (
    MIXED_SUBSET,
    evaluate_with_scorer,
    report_json,
    report_markdown,
)

LEAN = {"negative": (0.8, 0.1, 0.1), "neutral": (0.1, 0.8, 0.1), "positive": (0.1, 0.1, 0.8)}


class HeadlineTone:
    """Scores every company of a text with one tone: the first word's ("Up ...", "Down ...")."""

    def score(self, texts: list[str], targets: Sequence[Sequence[Target]]) -> list[TextScore]:
        out = []
        for text, wanted in zip(texts, targets, strict=True):
            tone = "positive" if text.startswith("Up") else "negative"
            out.append(
                TextScore(*LEAN[tone], "Company | News", 0.5,
                          tuple(TargetSentiment(t.name, *LEAN[tone]) for t in wanted))  # fmt: skip
            )
        return out


def test_companies_of_different_tone_are_measured_apart(tmp_path: Path) -> None:
    data = tmp_path / "entities.csv"
    data.write_text(
        "title,entities\n"
        '"Up day for Infosys","{""Infosys"": ""positive""}"\n'
        '"Down day for Wipro","{""Wipro"": ""negative""}"\n'
        '"Up Infosys as Wipro slips","{""Infosys"": ""positive"", ""Wipro"": ""negative""}"\n'
    )
    metrics = evaluate_with_scorer(cast(Scorer, HeadlineTone()), load_examples(data, "entity"))
    entity = metrics["entity"]
    assert entity.count == 4 and entity.accuracy == 0.75  # the headline's tone misses Wipro once
    among = "most likely among negative, positive"  # the data has no neutral label
    assert entity.subsets == ((MIXED_SUBSET, 0.5, 2), (among, 0.75, 4))
    as_json = report_json("m", str(data), metrics)["tasks"]["entity"]["subsets"]
    assert as_json == {
        MIXED_SUBSET: {"accuracy": 0.5, "count": 2},
        among: {"accuracy": 0.75, "count": 4},
    }
    assert f"{MIXED_SUBSET}: accuracy 0.5000 (2 examples)" in report_markdown("m", "d", metrics)
    json.dumps(report_json("m", "d", metrics))  # serialisable


class Hedging:
    """Neutral first for every text, with positive above negative when the text says "up"."""

    labels = {"sentiment": ["negative", "neutral", "positive"]}

    def probabilities(
        self, texts: list[str], targets: object = None, *, calibrated: bool = True
    ) -> dict[str, np.ndarray]:
        rows = [(0.2, 0.5, 0.3) if "up" in t else (0.3, 0.5, 0.2) for t in texts]
        return {"sentiment": np.asarray(rows)}


def test_two_class_data_is_also_scored_among_its_own_classes(tmp_path: Path) -> None:
    data = tmp_path / "binary.csv"
    data.write_text("text,label\nshares up,positive\nshares down,negative\nprofit up,negative\n")
    (sentiment,) = evaluate_with_scorer(cast(Scorer, Hedging()), load_examples(data, "sentiment")).values()
    assert sentiment.accuracy == 0.0  # neutral, a class the data never uses, every time
    assert sentiment.subsets == (("most likely among negative, positive", 2 / 3, 3),)
    three = tmp_path / "three.csv"
    three.write_text("text,label\nshares up,positive\nflat,neutral\nshares down,negative\n")
    (full,) = evaluate_with_scorer(cast(Scorer, Hedging()), load_examples(three, "sentiment")).values()
    assert full.subsets == ()  # all three classes in the data: nothing to add
