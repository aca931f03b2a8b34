"""Adverse corporate events without market words: are they negative for the company they hit?

Reads ``benchmarks/data/adverse_events.csv`` (written by hand for finsentry, never trained on; see
``benchmarks/data/README.md``) and scores each headline towards each company it names, with each
``--model`` in the same run (a model without an entity head is measured with its headline
sentiment, as the pipeline falls back). Prints, per model:

* adverse -> negative: share of adverse headlines scored negative towards the company hit (aim
  >= 0.90);
* look-alike -> negative: share of look-alike headlines scored negative towards any company they
  name (aim <= 0.10);
* bystander -> negative: in two-company adverse headlines, share of the neutral bystanders scored
  negative;
* the same first two with the headline sentiment, for comparison;
* adverse recall per event category.

    python benchmarks/adverse_events.py --model default --model /tmp/finsentry-minilm-1.3.0
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

from finsentry.config import Settings
from finsentry.entities import name_spans
from finsentry.schema import Target
from finsentry.scoring import load_scorer
from finsentry.sources.normalise import normalise_text

DATA = Path(__file__).parent / "data" / "adverse_events.csv"


def load(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["text"] = normalise_text(str(row["title"]))
        row["labels"] = json.loads(str(row["entities"]))
    return rows


def measure(model: str, rows: list[dict[str, object]]) -> dict[str, object]:
    scorer = load_scorer(Settings(model=model))
    texts = [str(r["text"]) for r in rows]
    targets = [
        [Target(name, name_spans(str(r["text"]), name)) for name in r["labels"]]  # type: ignore[attr-defined]
        for r in rows
    ]
    scores = scorer.score(texts, targets)
    hits: dict[str, list[bool]] = defaultdict(list)
    by_event: dict[str, list[bool]] = defaultdict(list)
    for row, score in zip(rows, scores, strict=True):
        labels: dict[str, str] = row["labels"]  # type: ignore[assignment]
        towards = {t.target: t for t in score.targets}
        headline_negative = score.sentiment == "negative"
        if row["kind"] == "adverse":
            hit = next(name for name, label in labels.items() if label == "negative")
            negative = towards[hit].sentiment == "negative"
            hits["adverse"].append(negative)
            hits["adverse (headline)"].append(headline_negative)
            by_event[str(row["event"])].append(negative)
            hits["adverse scored towards a mention"].append(towards[hit].basis == "entity")
            for name, label in labels.items():
                if label == "neutral":
                    hits["bystander"].append(towards[name].sentiment == "negative")
        else:
            hits["look-alike"].append(any(t.sentiment == "negative" for t in score.targets))
            hits["look-alike (headline)"].append(headline_negative)
    rate = {key: sum(values) / len(values) for key, values in hits.items()}
    counts = {key: len(values) for key, values in hits.items()}
    events = {event: sum(v) / len(v) for event, v in sorted(by_event.items())}
    return {"model": scorer.model_id, "rate": rate, "count": counts, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", action="append", help="model (repeatable); default: default")
    parser.add_argument("--json", action="store_true", help="print one JSON object per model")
    args = parser.parse_args()
    rows = load(args.data)
    for model in args.model or ["default"]:
        result = measure(model, rows)
        if args.json:
            print(json.dumps(result))
            continue
        rate, count = result["rate"], result["count"]
        assert isinstance(rate, dict) and isinstance(count, dict)
        print(f"{result['model']}:")
        print(f"  adverse -> negative towards the company  {rate['adverse']:.3f}  (n={count['adverse']}, aim >= 0.90)")
        print(f"  look-alike -> negative                   {rate['look-alike']:.3f}  (n={count['look-alike']}, aim <= 0.10)")
        print(f"  bystander -> negative                    {rate.get('bystander', 0.0):.3f}  (n={count.get('bystander', 0)})")
        print(f"  headline sentiment: adverse {rate['adverse (headline)']:.3f}, look-alike {rate['look-alike (headline)']:.3f}")
        print(f"  adverse scored towards a mention         {rate['adverse scored towards a mention']:.3f}")
        events = result["events"]
        assert isinstance(events, dict)
        low = sorted(events.items(), key=lambda kv: kv[1])[:5]
        print("  weakest events: " + ", ".join(f"{e} {r:.2f}" for e, r in low))


if __name__ == "__main__":
    main()
