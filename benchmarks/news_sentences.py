"""Wire-style financial news sentences: is each one good, bad or no news for its company?

Reads ``benchmarks/data/news_sentences.csv`` (written by hand for finsentry, never trained on; see
``benchmarks/data/README.md``) and scores each sentence's headline sentiment with each ``--model``
in the same run. Prints, per model: accuracy, macro-F1, recall per label, the 3x3 confusion matrix
(rows: gold label, columns: predicted) and accuracy per category. ``--json PATH`` also writes the
figures, one object per model, to PATH.

    python benchmarks/news_sentences.py --model default --model /tmp/finsentry-minilm-1.3.0
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

from finsentry.config import Settings
from finsentry.scoring import load_scorer
from finsentry.sources.normalise import normalise_text
from finsentry.training.metrics import classification_metrics

DATA = Path(__file__).parent / "data" / "news_sentences.csv"
LABELS = ("negative", "neutral", "positive")


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["text"] = normalise_text(row["text"])
    return rows


def figures(gold: list[str], predicted: list[str], categories: list[str]) -> dict[str, object]:
    """The project's classification metrics (``finsentry evaluate``'s), and accuracy per category."""
    index = {label: i for i, label in enumerate(LABELS)}
    metrics = classification_metrics(
        "sentiment", LABELS, [index[g] for g in gold], [index[p] for p in predicted]
    )
    by_category: dict[str, list[bool]] = defaultdict(list)
    for c, g, p in zip(categories, gold, predicted, strict=True):
        by_category[c].append(g == p)
    return {
        "n": metrics.count,
        "accuracy": metrics.accuracy,
        "macro_f1": metrics.macro_f1,
        "recall": {c.label: c.recall for c in metrics.per_class},
        "f1": {c.label: c.f1 for c in metrics.per_class},
        "confusion": {
            g: dict(zip(LABELS, row, strict=True))
            for g, row in zip(LABELS, metrics.confusion, strict=True)
        },
        "categories": {
            c: {"n": len(hits), "accuracy": sum(hits) / len(hits)}
            for c, hits in sorted(by_category.items())
        },
    }


def measure(model: str, rows: list[dict[str, str]]) -> dict[str, object]:
    scorer = load_scorer(Settings(model=model))
    scores = scorer.score([r["text"] for r in rows])
    predicted = [s.sentiment for s in scores]
    result = figures([r["label"] for r in rows], predicted, [r["category"] for r in rows])
    return {"model": scorer.model_id, **result}


def report(result: dict[str, object]) -> None:
    recall, confusion, categories = result["recall"], result["confusion"], result["categories"]
    assert isinstance(recall, dict) and isinstance(confusion, dict)
    assert isinstance(categories, dict)
    print(f"{result['model']}:  (n={result['n']})")
    print(f"  accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}")
    print("  recall   " + "   ".join(f"{label} {recall[label]:.3f}" for label in LABELS))
    print("  confusion (rows gold, columns predicted)")
    print("  " + " " * 10 + "".join(f"{label:>10}" for label in LABELS))
    for gold in LABELS:
        print(f"  {gold:<10}" + "".join(f"{confusion[gold][p]:>10}" for p in LABELS))
    print("  accuracy per category")
    for category, values in categories.items():
        print(f"    {category:<26} {values['accuracy']:.3f}  (n={values['n']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", action="append", help="model (repeatable); default: default")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args()
    rows = load(args.data)
    results = []
    for model in args.model or ["default"]:
        result = measure(model, rows)
        report(result)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
