"""Scoring throughput: the engine vs a bare ``model(**batch)`` loop, same texts, model, device, run,
and the int8 ONNX backend against both.

Measured, in headlines per second:

* ``engine``: ``Scorer.score(texts)`` end to end (tokenize once, token-budget batches sorted by
  length, pad per batch, restore order), for each token budget;
* ``bare forward, same batches``: the network alone on the engine's own batches, tensors built in
  advance - the ceiling for the engine (the ratio shows the engine's own overhead);
* ``bare forward, fixed size``: the network alone on fixed-size batches in input order, padded to
  each batch's longest text, tensors built in advance, for each batch size;
* ``naive``: what a first attempt looks like - the tokenizer pads each fixed-size batch, then the
  forward (tokenization included, as in the engine).

* ``onnx``: the same engine on the int8 ONNX Runtime backend (``--backend onnx``), and its bare
  loop (the session alone on pre-built arrays, one text per run on the backend's thread pool);
  ratios against the fp32 torch engine and the best bare torch forward (skipped with
  ``--no-onnx`` or when the model has no export).

On the CPU the torch engine computes each text alone (batch-independent scores, issue 13), so its
budgets give the same batches of one; the bare fixed-size loops show what batching would give.

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
        model=args.model,
        device=args.device,
        max_length=args.max_length,
        cpu_threads=args.threads,
        backend="torch",
    )
    scorer: Scorer = load_scorer(settings)
    texts = read_texts(args.texts, args.n) if args.texts else generated_headlines(args.n, args.seed)
    results = measure(scorer, texts, args.budgets, args.batch_sizes, args.repeats)
    if not args.no_onnx:
        try:
            onnx = load_scorer(settings.with_overrides(backend="onnx", device="cpu"))
        except RuntimeError as exc:  # BackendError: no export, or no onnxruntime
            print(f"  onnx backend skipped: {exc}", file=sys.stderr)
        else:
            results["onnx"] = measure_onnx(onnx, texts, results, args.repeats)
    return results


def measure_onnx(
    scorer: Scorer, texts: list[str], torch_results: dict[str, object], repeats: int
) -> dict[str, object]:
    """The int8 ONNX engine and its bare loop, with ratios against the torch numbers."""
    import numpy as np

    runner = scorer.runner
    session = runner.session  # type: ignore[attr-defined]
    outputs = runner._outputs  # type: ignore[attr-defined]
    arrays = [np.asarray([row], dtype=np.int64) for row in scorer.tokenize(texts)]

    def bare() -> None:
        def one(ids: np.ndarray) -> None:
            session.run(outputs, {"input_ids": ids, "attention_mask": np.ones_like(ids)})

        list(runner._pool.map(one, arrays))  # type: ignore[attr-defined]

    n = len(texts)
    scorer.score(texts[:64])
    engine = n / timed(lambda: scorer.score(texts), repeats)
    bare_rate = n / timed(bare, repeats)
    best = torch_results["best"]
    assert isinstance(best, dict)
    torch_engine, torch_bare = best["engine"][1], best["bare_fixed"][1]
    print(
        f"  onnx int8 ({runner!r}): engine {engine:8.1f}/s   bare session {bare_rate:8.1f}/s   "
        f"x{engine / torch_engine:.2f} the fp32 torch engine, x{engine / torch_bare:.2f} its best "
        "bare forward",
        file=sys.stderr,
    )
    return {
        "engine_per_s": round(engine, 1),
        "bare_per_s": round(bare_rate, 1),
        "vs_torch_engine": round(engine / torch_engine, 3),
        "vs_torch_bare_fixed_best": round(engine / torch_bare, 3),
        "engine_vs_own_bare": round(engine / bare_rate, 3),
    }


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
    amp = scorer.runner._amp  # type: ignore[attr-defined]  # the engine's autocast dtype

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
        plan = plan_batches(
            lengths, budget, max_rows=scorer.runner.max_rows, multiple_of=scorer.runner.multiple
        )
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
    parser.add_argument("--no-onnx", action="store_true", help="skip the int8 ONNX backend")
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
    onnx = results.get("onnx")
    if isinstance(onnx, dict):
        print(
            f"onnx int8 engine {onnx['engine_per_s']}/s: x{onnx['vs_torch_engine']} the fp32 torch "
            f"engine, x{onnx['vs_torch_bare_fixed_best']} its best bare forward, "
            f"{onnx['engine_vs_own_bare']} of its own bare session loop"
        )


if __name__ == "__main__":
    raise SystemExit(main())
