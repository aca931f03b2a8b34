"""Scoring throughput on a GPU (bf16 autocast): the default model and a BERT-base-size model.

Ready for an H200 (or any CUDA GPU); sized to finish in well under 5 minutes. For each model it
runs the same comparison as ``benchmarks/scoring.py`` (engine vs a bare ``model(**batch)`` loop
with fixed-size batches vs naive tokenizer-padded batches, same texts, same run) with the token
budget swept. The BERT-base-size model (12 layers, 768 wide, 110M parameters) is built from its
config with random weights: throughput does not depend on the weight values.

Each model's result also holds ``flop_bound``: the FLOPs per text of its forward (2 x weights x
tokens plus attention) and the texts per second a GPU with ``--peak-tflops`` (default 989, the
dense bf16 peak of an H100/H200 SXM) would reach at full use, against which the engine's best rate
is given as a share.

    python benchmarks/gpu_scoring.py [--n 20000] [--json gpu.json]
    python benchmarks/gpu_scoring.py --dry-run     # a few seconds on the CPU: checks the script
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import PreTrainedTokenizerFast

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring import generated_headlines, measure, read_texts, report  # noqa: E402

from finsentry.config import Settings  # noqa: E402
from finsentry.schema import SENTIMENT_LABELS  # noqa: E402
from finsentry.scoring import Scorer, load_scorer  # noqa: E402
from finsentry.scoring.lexical import load_lexical  # noqa: E402
from finsentry.scoring.modeldir import ModelSpec, default_model_dir  # noqa: E402
from finsentry.scoring.network import MultiTaskNetwork  # noqa: E402

# all-MiniLM-L6-v2's published shape (its config.json): the default model's backbone
MINILM_L6 = {
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "max_position_embeddings": 512,
}


def model_tokenizer(directory: Path, spec: ModelSpec | None = None) -> PreTrainedTokenizerFast:
    """The tokenizer the model directory ships (``tokenizer.json``, the backbone's own, uncased,
    30,522 word pieces) as a transformers fast tokenizer, without the backbone package: the
    benchmark's bare and naive loops pad with it as transformers does."""
    spec = spec or ModelSpec.read(directory)
    name = spec.onnx["tokenizer"] if spec.onnx else "tokenizer.json"
    return PreTrainedTokenizerFast(
        tokenizer_file=str(directory / name),
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def default_scorer_from_config(
    device: torch.device, budget: int, max_length: int, directory: Path | None = None
) -> Scorer:
    """The default model without its backbone package, for a machine that lacks it (the GPU image
    has none, and at 88 MB it is larger than what a device run may carry): all-MiniLM-L6-v2's
    shape, the model's own fine-tuned layers, heads and lexical head, its ``tokenizer.json``, and
    the word-piece embeddings at their initial values, since only the package holds the
    pretrained ones. Its scores mean nothing; the work per text, and so the throughput, is the
    model's."""
    from transformers import AutoModel, BertConfig

    directory = directory or default_model_dir()
    spec = ModelSpec.read(directory)
    tokenizer = model_tokenizer(directory, spec)
    config = BertConfig(vocab_size=len(tokenizer), **MINILM_L6)
    backbone = AutoModel.from_config(config, attn_implementation="sdpa")
    if spec.backbone_weights:
        state = load_file(str(directory / spec.backbone_weights))
        fitted = backbone.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        missing = [k for k in fitted.missing_keys if "word_embeddings" not in k]
        if fitted.unexpected_keys or missing:
            raise ValueError(
                f"{directory} does not fit all-MiniLM-L6-v2's shape: unexpected "
                f"{fitted.unexpected_keys[:3]}, missing {missing[:3]}"
            )
    network = MultiTaskNetwork(backbone, spec.heads)
    network.load_heads(directory)
    network.eval()
    return Scorer(
        network,
        tokenizer,
        dict(spec.heads),
        model_id=f"{spec.model_id} (word embeddings at init)",
        device=device,
        token_budget=budget,
        max_length=max_length,
        lexical=load_lexical(directory, spec),
        temperatures=spec.temperatures,
    )


def bert_base_scorer(
    device: torch.device, budget: int, max_length: int, layers: int = 12
) -> Scorer:
    from transformers import AutoModel, BertConfig

    tokenizer = model_tokenizer(default_model_dir())  # same uncased 30,522-token vocabulary
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=768,
        num_hidden_layers=layers,
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


def flop_bound(
    scorer: Scorer, texts: list[str], peak_tflops: float, best: float
) -> dict[str, float]:
    """FLOPs per text of the forward and the rate ``peak_tflops`` would allow at full use."""
    backbone = scorer.network.backbone
    config = backbone.config
    embedding = sum(p.numel() for n, p in backbone.named_parameters() if "embeddings" in n)
    dense = sum(p.numel() for p in backbone.parameters()) - embedding
    lengths = [len(row) for row in scorer.tokenize(texts)]
    attention = 4 * config.num_hidden_layers * config.hidden_size  # QK^T and AV, per token pair
    flops = sum(2 * dense * t + attention * t * t for t in lengths) / len(lengths)
    bound = peak_tflops * 1e12 / flops
    return {
        "gflops_per_text": round(flops / 1e9, 4),
        "peak_tflops": peak_tflops,
        "bound_texts_per_s": round(bound, 1),
        "engine_share_of_bound": round(best / bound, 4),
    }


def measure_model(scorer: Scorer, texts: list[str], args: argparse.Namespace) -> dict[str, object]:
    result = measure(scorer, texts, args.budgets, args.batch_sizes, args.repeats)
    best = result["best"]
    assert isinstance(best, dict)
    result["flop_bound"] = flop_bound(scorer, texts, args.peak_tflops, best["engine"][1])
    report(result)
    print(json.dumps({"flop_bound": result["flop_bound"]}))
    return result


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
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the GPU's bf16 peak")
    parser.add_argument(
        "--backbone-from-config",
        action="store_true",
        help="build the default model without its backbone package (word embeddings at init: "
        "same throughput, meaningless scores), for a GPU machine that lacks the package",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="run every step on the CPU with 16 texts, tiny batches and a 1-layer BERT-base "
        "(checks the script only)",
    )
    args = parser.parse_args(argv)
    if args.dry_run:
        args.n, args.budgets, args.batch_sizes, args.repeats = 16, [512], [8], 1
    elif not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (use benchmarks/scoring.py on a CPU)")
        return 2
    device = torch.device("cpu" if args.dry_run else "cuda")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (dry run)"
    print(f"device: {name}, torch {torch.__version__}", file=sys.stderr)
    texts = read_texts(args.texts, args.n) if args.texts else generated_headlines(args.n, 7)
    started = time.perf_counter()
    results: dict[str, object] = {"gpu": name}
    if args.backbone_from_config:
        if args.dry_run:
            torch.set_num_threads(1)
        default = default_scorer_from_config(device, args.budgets[0], args.max_length)
    else:
        default = load_scorer(
            Settings(
                model="default",
                device=device.type,
                backend="torch",
                max_length=args.max_length,
                cpu_threads=1 if args.dry_run else 0,
            )
        )
    results["default"] = measure_model(default, texts, args)
    del default
    if device.type == "cuda":
        torch.cuda.empty_cache()
    base = bert_base_scorer(device, args.budgets[0], args.max_length, 1 if args.dry_run else 12)
    results["bert_base_size"] = measure_model(base, texts, args)
    results["seconds"] = round(time.perf_counter() - started, 1)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
    results["peak_memory_gib"] = round(peak / 2**30, 2)
    print(json.dumps({k: results[k] for k in ("gpu", "seconds", "peak_memory_gib")}))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
