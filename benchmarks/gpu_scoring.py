"""Scoring throughput on a GPU (bf16 autocast): the default model and a BERT-base-size model.

Ready for an H200 (or any CUDA GPU); sized to finish in well under 5 minutes. For each model it
runs the same comparison as ``benchmarks/scoring.py`` (engine vs a bare ``model(**batch)`` loop
with fixed-size batches vs naive tokenizer-padded batches, same texts, same run) with the token
budget swept. The BERT-base-size model (12 layers, 768 wide, 110M parameters) is built from its
config with random weights: throughput does not depend on the weight values.

    python benchmarks/gpu_scoring.py [--n 20000] [--json gpu.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring import generated_headlines, measure, read_texts, report  # noqa: E402

from finsentry.config import Settings  # noqa: E402
from finsentry.schema import SENTIMENT_LABELS  # noqa: E402
from finsentry.scoring import Scorer, load_scorer  # noqa: E402
from finsentry.scoring.modeldir import DEFAULT_BACKBONE  # noqa: E402
from finsentry.scoring.network import MultiTaskNetwork, load_backbone  # noqa: E402


def bert_base_scorer(device: torch.device, budget: int, max_length: int) -> Scorer:
    from transformers import AutoModel, BertConfig

    _, tokenizer = load_backbone(DEFAULT_BACKBONE)  # same uncased 30,522-token vocabulary
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    )
    backbone = AutoModel.from_config(config, attn_implementation="sdpa")
    heads = {"sentiment": list(SENTIMENT_LABELS), "topic": [f"topic{i}" for i in range(20)]}
    network = MultiTaskNetwork(backbone, heads).eval()
    return Scorer(
        network,
        tokenizer,
        heads,
        model_id="bert-base-size@config",
        device=device,
        token_budget=budget,
        max_length=max_length,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="finsentry GPU scoring throughput (bf16)")
    parser.add_argument("--texts", type=Path, default=None)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument(
        "--budgets", type=lambda s: [int(x) for x in s.split(",")], default=[8192, 32768, 131072]
    )
    parser.add_argument(
        "--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[64, 256, 1024]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (use benchmarks/scoring.py on a CPU)")
        return 2
    device = torch.device("cuda")
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", file=sys.stderr)
    texts = read_texts(args.texts, args.n) if args.texts else generated_headlines(args.n, 7)
    started = time.perf_counter()
    results: dict[str, object] = {"gpu": torch.cuda.get_device_name(0)}
    default = load_scorer(Settings(model="default", device="cuda", max_length=args.max_length))
    results["default"] = measure(default, texts, args.budgets, args.batch_sizes, args.repeats)
    report(results["default"])  # type: ignore[arg-type]
    del default
    torch.cuda.empty_cache()
    base = bert_base_scorer(device, args.budgets[0], args.max_length)
    results["bert_base_size"] = measure(base, texts, args.budgets, args.batch_sizes, args.repeats)
    report(results["bert_base_size"])  # type: ignore[arg-type]
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps({k: results[k] for k in ("gpu", "seconds", "peak_memory_gib")}))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
