"""Scoring throughput: the engine vs a bare ``model(**batch)`` loop, same texts, model, device, run.

Measured, in headlines per second:

* ``engine``: ``Scorer.score(texts)`` end to end (tokenize once, token-budget batches sorted by
  length, pad per batch, restore order), for each token budget;
* ``bare forward, same batches``: the network alone on the engine's own batches, tensors built in
  advance - the ceiling for the engine (the ratio shows the engine's own overhead);
* ``bare forward, fixed size``: the network alone on fixed-size batches in input order, padded to
  each batch's longest text, tensors built in advance, for each batch size;
* ``naive``: what a first attempt looks like - the tokenizer pads each fixed-size batch, then the
  forward (tokenization included, as in the engine).

The bare loops run the network only; the engine also runs the model's lexical head when it has one
(the default model does), so the ratios include that cost. The head alone, and the engine without
it, are reported too.

Texts: ``--texts FILE`` (a CSV with a ``text`` column, or one text per line), else generated
headlines whose token lengths follow real headline lengths (median ~26, p90 ~47 tokens).

    python benchmarks/scoring.py --n 1500
    python benchmarks/scoring.py --texts ../shared/data/twitter-financial-news/sentiment_valid.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from finsentry.config import Settings
from finsentry.scoring import Scorer, load_scorer, plan_batches

WORDS = (
    "shares stock profit warning earnings beat estimates revenue guidance quarter analyst upgrade "
    "downgrade price target fed rates inflation oil crude gold dollar yen euro bond yields deal "
    "merger acquisition ipo lawsuit probe regulator dividend buyback ceo resigns layoffs record "
    "high low rally slump plunge surge tumble outlook demand supply chain chip maker bank lender "
    "insurer retailer airline carmaker drugmaker trial approval sales growth forecast cut raise"
).split()
TICKERS = ["$AAPL", "$TSLA", "$MSFT", "$NVDA", "$AMZN", "$JPM", "$XOM", "$BA", "$GS", "$META"]


def generated_headlines(n: int, seed: int) -> list[str]:
    """Headlines with a realistic, skewed length mix: mostly short, a long tail of long ones."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = max(3, min(60, int(rng.lognormvariate(2.75, 0.5))))
        parts = [rng.choice(WORDS) for _ in range(words)]
        if rng.random() < 0.4:
            parts.insert(0, rng.choice(TICKERS) + " -")
        if rng.random() < 0.2:
            parts.append(f"{rng.randint(1, 99)}%")
        texts.append(" ".join(parts).capitalize())
    return texts


def read_texts(path: Path, n: int) -> list[str]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            texts = [row["text"] for row in csv.DictReader(f) if row.get("text", "").strip()]
    else:
        texts = [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    from finsentry.sources.normalise import normalise_text

    texts = [t for t in (normalise_text(x) for x in texts) if t]
    return texts[:n] if n else texts


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Best wall-clock seconds of ``repeats`` runs (the caller warms the model up once)."""
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def run(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings(
        model=args.model, device=args.device, max_length=args.max_length, cpu_threads=args.threads
    )
    scorer: Scorer = load_scorer(settings)
    texts = read_texts(args.texts, args.n) if args.texts else generated_headlines(args.n, args.seed)
    return measure(scorer, texts, args.budgets, args.batch_sizes, args.repeats)


def measure(
    scorer: Scorer, texts: list[str], budgets: list[int], batch_sizes: list[int], repeats: int
) -> dict[str, object]:
    """Every variant on the same texts with the same network and device (see module docstring)."""
    rows = scorer.tokenize(texts)
    lengths = [len(r) for r in rows]
    n = len(texts)
    print(
        f"model {scorer.model_id} on {scorer.device}, {torch.get_num_threads()} threads; {n} texts, "
        f"tokens: median {statistics.median(lengths):.0f}, max {max(lengths)}",
        file=sys.stderr,
    )
    network = scorer.network
    amp = scorer._amp  # the engine's autocast dtype, so every variant computes alike

    def forward(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        with (
            torch.inference_mode(),
            torch.autocast(scorer.device.type, dtype=amp or torch.float32, enabled=amp is not None),
        ):
            for ids, mask in batches:
                network(input_ids=ids, attention_mask=mask)

    scorer.score(texts[:64])  # warm-up: lazy initialisation, allocator, kernels
    results: dict[str, object] = {
        "model": scorer.model_id,
        "device": str(scorer.device),
        "texts": n,
    }
    engine: dict[int, float] = {}
    same_batches: dict[int, float] = {}
    for budget in budgets:
        scorer.token_budget = budget
        engine[budget] = n / timed(lambda: scorer.score(texts), repeats)
        plan = plan_batches(lengths, budget, multiple_of=scorer._multiple)
        prepared = [scorer.collate([rows[i] for i in batch]) for batch in plan]
        same_batches[budget] = n / timed(lambda prepared=prepared: forward(prepared), repeats)
        print(
            f"  budget {budget:>6}: engine {engine[budget]:8.1f}/s   bare forward on the same "
            f"batches {same_batches[budget]:8.1f}/s",
            file=sys.stderr,
        )
    fixed: dict[int, float] = {}
    naive: dict[int, float] = {}
    padded: dict[int, int] = {}
    tokenizer = scorer.tokenizer
    for size in batch_sizes:
        chunks = [list(range(i, min(i + size, n))) for i in range(0, n, size)]
        prepared = [scorer.collate([rows[i] for i in chunk]) for chunk in chunks]
        padded[size] = sum(int(ids.numel()) for ids, _ in prepared)
        fixed[size] = n / timed(lambda prepared=prepared: forward(prepared), repeats)

        def naive_loop(size: int = size) -> None:
            with (
                torch.inference_mode(),
                torch.autocast(
                    scorer.device.type, dtype=amp or torch.float32, enabled=amp is not None
                ),
            ):
                for i in range(0, n, size):
                    batch = tokenizer(
                        texts[i : i + size],
                        padding=True,
                        truncation=True,
                        max_length=scorer.max_length,
                        return_tensors="pt",
                    ).to(scorer.device)
                    network(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])

        naive[size] = n / timed(naive_loop, repeats)
        print(
            f"  batch {size:>4}: bare forward {fixed[size]:8.1f}/s   naive {naive[size]:8.1f}/s   "
            f"padding {1 - sum(lengths) / padded[size]:.0%}",
            file=sys.stderr,
        )
    best_budget = max(engine, key=engine.__getitem__)
    best_fixed = max(fixed, key=fixed.__getitem__)
    lexical = scorer.lexical
    if lexical is not None:
        # what the lexical head adds: it alone, and the engine without it, at the best budget
        scorer.token_budget = best_budget
        scorer.lexical = None
        try:
            no_lexical = n / timed(lambda: scorer.score(texts), repeats)
        finally:
            scorer.lexical = lexical
        alone = n / timed(lambda: lexical.log_probs(texts), repeats)
        results.update(
            engine_without_lexical_per_s=round(no_lexical, 1), lexical_head_per_s=round(alone, 1)
        )
        print(
            f"  lexical head alone {alone:8.1f}/s; engine without it {no_lexical:8.1f}/s",
            file=sys.stderr,
        )
    best_naive = max(naive, key=naive.__getitem__)
    results.update(
        engine_per_s={str(k): round(v, 1) for k, v in engine.items()},
        bare_same_batches_per_s={str(k): round(v, 1) for k, v in same_batches.items()},
        bare_fixed_per_s={str(k): round(v, 1) for k, v in fixed.items()},
        naive_per_s={str(k): round(v, 1) for k, v in naive.items()},
        best={
            "engine": [best_budget, round(engine[best_budget], 1)],
            "bare_fixed": [best_fixed, round(fixed[best_fixed], 1)],
            "naive": [best_naive, round(naive[best_naive], 1)],
        },
        ratios={
            "engine_vs_bare_same_batches": round(
                engine[best_budget] / same_batches[best_budget], 3
            ),
            "engine_vs_bare_fixed_best": round(engine[best_budget] / fixed[best_fixed], 3),
            "engine_vs_naive_best": round(engine[best_budget] / naive[best_naive], 3),
        },
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="finsentry scoring throughput")
    parser.add_argument("--texts", type=Path, default=None, help="CSV with a text column, or lines")
    parser.add_argument("--n", type=int, default=1500, help="number of texts (0 = all in --texts)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument(
        "--budgets", type=lambda s: [int(x) for x in s.split(",")], default=[2048, 8192]
    )
    parser.add_argument(
        "--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64, 256]
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant; the best counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    results = run(args)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def report(results: dict[str, object]) -> None:
    print(json.dumps(results, indent=2))
    best = results["best"]
    ratios = results["ratios"]
    assert isinstance(best, dict) and isinstance(ratios, dict)
    print(
        f"\nengine {best['engine'][1]}/s (budget {best['engine'][0]}) | bare forward, best fixed "
        f"batch {best['bare_fixed'][1]}/s (size {best['bare_fixed'][0]}) | naive {best['naive'][1]}/s"
        f"\nratio engine/bare-fixed-best {ratios['engine_vs_bare_fixed_best']}, engine/naive-best "
        f"{ratios['engine_vs_naive_best']}, engine/bare-same-batches {ratios['engine_vs_bare_same_batches']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
