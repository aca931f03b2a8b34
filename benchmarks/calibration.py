"""Calibration of the default model: fit the temperatures on data it was never trained on, and
measure them on the validation splits, which the fit does not see.

The fit uses the part of SEntFiN train that every 2.x training run held out (``--val-split 0.08
--seed 13``: a stable hash of the normalised headline; 694 headlines). The figures before and after
are printed for the held-out part (in-sample for the temperature) and for SEntFiN valid and
twitter-financial-news valid (out of sample). Labels do not change, so accuracy does not either.

    python benchmarks/calibration.py --data ../shared/data            # measure
    python benchmarks/calibration.py --data ../shared/data --write    # and write the temperatures
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from finsentry.config import Settings
from finsentry.scoring import load_scorer
from finsentry.scoring.lexical import log_softmax
from finsentry.scoring.modeldir import ModelSpec, default_model_dir
from finsentry.sources.normalise import normalise_text
from finsentry.training.calibration import (
    calibration_metrics,
    calibration_record,
    fit_heads,
    head_scores,
)
from finsentry.training.data import load_examples

HELD_OUT = "sentfin_train_held_out.csv"


def write_held_out(sentfin: Path, out: Path) -> int:
    """The held-out headlines of SEntFiN train, in its own columns; how many."""
    with (sentfin / "sentfin_train.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    kept = [
        r for r in rows if zlib.crc32(f"13|{normalise_text(r['title'])}".encode()) / 2**32 < 0.08
    ]
    with out.open("w", encoding="utf-8", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=["id", "title", "entities"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ("id", "title", "entities")} for r in kept)
    return len(kept)


def measure(name: str, scorer: object, examples: list, temperatures: dict[str, float]) -> None:
    for head, (log_probs, truth) in head_scores(scorer, examples).items():  # type: ignore[arg-type]
        before = calibration_metrics(np.exp(log_softmax(log_probs)), truth)
        t = temperatures.get(head)
        after = calibration_metrics(np.exp(log_softmax(log_probs / t)), truth) if t else None
        print(f"{name} / {head} ({len(truth)} rows, accuracy {before.accuracy:.4f})")
        print(f"  plain       {before.line()}")
        print(f"  calibrated  {after.line()}" if after else "  calibrated  (no temperature)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory")
    parser.add_argument("--model", default=str(default_model_dir()))
    parser.add_argument("--min-examples", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="store the temperatures in --model")
    args = parser.parse_args()
    sentfin, twitter = args.data / "sentfin", args.data / "twitter-financial-news"
    scorer = load_scorer(Settings(model=args.model, device="cpu", backend="onnx"))
    with tempfile.TemporaryDirectory() as tmp:
        held = Path(tmp) / HELD_OUT
        count = write_held_out(sentfin, held)
        print(f"{count} held-out headlines of SEntFiN train")
        fits, skipped = fit_heads(scorer, load_examples(held, "all"), args.min_examples)
    for head, fit in fits.items():
        print(f"fitted {head}: temperature {fit.temperature:.4f} on {fit.before.count} rows")
    for head, n in skipped.items():
        print(f"not fitted {head}: {n} rows")
    temperatures = {head: fit.temperature for head, fit in fits.items()}
    topics = [x.strip() for x in (twitter / "topic_classes.txt").read_text().splitlines() if x]
    sets = {
        "SEntFiN valid": load_examples(sentfin / "sentfin_valid.csv", "all"),
        "twitter valid": load_examples(
            twitter / "sentiment_valid.csv",
            "sentiment",
            {"sentiment": ["bearish", "bullish", "neutral"]},
        )
        + load_examples(twitter / "topic_valid.csv", "topic", {"topic": topics}),
    }
    for name, examples in sets.items():
        measure(name, scorer, examples, temperatures)
    if args.write and fits:
        directory = Path(args.model)
        spec = ModelSpec.read(directory)
        record = calibration_record(fits, [f"{HELD_OUT} (--val-split 0.08 --seed 13)"], None)
        replace(spec, calibration=record).write(directory)
        print(f"wrote the temperatures into {directory}", file=sys.stderr)


if __name__ == "__main__":
    main()
