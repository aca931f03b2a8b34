"""Pipeline throughput with per-ticker sentiment against headline-only scoring, in one run.

The demo's stream (``finsentry simulate``) goes through the whole pipeline (validate, tag, score,
dedup, store in SQLite, detect) with the real model on the CPU, twice per round, in alternating
order:

* ``headline only``: the scorer is called without targets, as before per-ticker sentiment
  (every ticker takes the headline's sentiment);
* ``per ticker``: the scorer also scores each tagged ticker towards its mention (the default).

Both runs use the same model, records, batch size and threads; items/s is records processed per
second of wall time, store and detection included. The ratio per-ticker / headline-only is the
cost of per-entity scoring (the aim: >= 0.75).

    python benchmarks/entity_pipeline.py --hours 6 --rounds 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import Target, TextScore
from finsentry.scoring import Scorer, load_scorer


class HeadlineOnly:
    """The real scorer, called as before per-ticker sentiment: no targets."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.model_id = scorer.model_id

    def score(
        self, texts: Sequence[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]:
        return self.scorer.score(texts)


def run_once(stream: Path, scorer: object, work: Path, name: str) -> tuple[int, float, int]:
    settings = Settings(db=str(work / f"{name}.db"))
    pipe = Pipeline.from_settings(settings, scorer=scorer, deliver=False)  # type: ignore[arg-type]
    started = time.perf_counter()
    totals = run_files([stream], settings, pipeline=pipe)
    seconds = time.perf_counter() - started
    targets = pipe.store._all("SELECT count(*) FROM item_tickers WHERE basis = 'entity'")[0][0]  # type: ignore[attr-defined]
    pipe.close()
    return totals.processed, seconds, int(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=6.0, help="hours of simulated news")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    scorer = load_scorer(Settings(model=args.model))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stream = work / "news.jsonl"
        simulate(stream, hours=args.hours, seed=args.seed, incidents=int(args.hours // 3))
        scorer.score(["warm up the model"])  # first-call costs out of the timings
        rates: dict[str, list[float]] = {"headline only": [], "per ticker": []}
        variants = {"headline only": HeadlineOnly(scorer), "per ticker": scorer}
        for r in range(args.rounds):
            order = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in order:
                items, seconds, targets = run_once(stream, variants[name], work, f"{name[:4]}{r}")
                rates[name].append(items / seconds)
                print(
                    f"round {r + 1} {name:>13}: {items} items in {seconds:6.1f} s = "
                    f"{items / seconds:6.1f} items/s ({targets} tickers scored towards a mention)"
                )
    best = {name: max(values) for name, values in rates.items()}
    print(f"model {scorer.model_id}, best of {args.rounds}:")
    for name, value in best.items():
        print(f"  {name:>13}: {value:6.1f} items/s")
    print(f"  ratio per ticker / headline only: {best['per ticker'] / best['headline only']:.2f}")


if __name__ == "__main__":
    main()
