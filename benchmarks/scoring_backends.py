"""The int8 ONNX engine against the fp32 torch engine and a bare torch forward, interleaved.

On a busy machine the load changes during a run; ``benchmarks/scoring.py`` measures the variants
one after the other, so a slow spell can land on one of them. Here the three alternate, round by
round, and each keeps its best round:

* ``torch_engine``: ``Scorer.score`` on the torch backend (fp32; on the CPU each text alone);
* ``onnx_engine``: ``Scorer.score`` on the onnx backend (int8);
* ``torch_bare``: the torch network alone on length-sorted batches of ``--batch`` texts, tensors
  built in advance (the fastest plain fp32 forward).

    python benchmarks/scoring_backends.py --texts $T/sentiment_valid.csv --n 300 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring import generated_headlines, read_texts  # noqa: E402

from finsentry.config import Settings  # noqa: E402
from finsentry.scoring import load_scorer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="onnx int8 vs torch fp32, interleaved rounds")
    parser.add_argument("--texts", type=Path, default=None, help="CSV with a text column, or lines")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    parser.add_argument("--batch", type=int, default=32, help="rows per bare torch batch")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    texts = read_texts(args.texts, args.n) if args.texts else generated_headlines(args.n, 7)
    base = Settings(device="cpu", cpu_threads=args.threads)
    torch_scorer = load_scorer(base.with_overrides(backend="torch"))
    onnx_scorer = load_scorer(base.with_overrides(backend="onnx"))
    rows = torch_scorer.tokenize(texts)
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    batches = [
        torch_scorer.collate([rows[i] for i in order[k : k + args.batch]])
        for k in range(0, len(rows), args.batch)
    ]

    def bare() -> None:
        with torch.inference_mode():
            for ids, mask in batches:
                torch_scorer.network(input_ids=ids, attention_mask=mask)

    variants: dict[str, Callable[[], object]] = {
        "torch_engine": lambda: torch_scorer.score(texts),
        "onnx_engine": lambda: onnx_scorer.score(texts),
        "torch_bare": bare,
    }
    for run in variants.values():  # warm-up
        run()
    best = dict.fromkeys(variants, 0.0)
    for _ in range(args.rounds):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            best[name] = max(best[name], len(texts) / (time.perf_counter() - started))
    result = {
        "texts": len(texts),
        "threads": torch.get_num_threads(),
        **{f"{name}_per_s": round(rate, 1) for name, rate in best.items()},
        "onnx_vs_torch_engine": round(best["onnx_engine"] / best["torch_engine"], 2),
        "onnx_vs_torch_bare": round(best["onnx_engine"] / best["torch_bare"], 2),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
