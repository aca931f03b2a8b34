"""The reference baseline: frozen MiniLM sentence embeddings + TF-IDF, logistic regression.

Measures what a model that is not fine-tuned reaches on the twitter-financial-news valid splits, so
the model card can show what fine-tuning adds. Needs scikit-learn (``pip install finsentry[training]``)::

    python -m finsentry.training.baseline --data-dir ../shared/data/twitter-financial-news \\
        [--cache /tmp/embeddings] [--json baseline.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from finsentry.scoring.batching import plan_batches
from finsentry.scoring.device import configure_cpu_threads
from finsentry.scoring.engine import Scorer
from finsentry.scoring.modeldir import DEFAULT_BACKBONE
from finsentry.scoring.network import load_backbone, mean_pool
from finsentry.training.data import Example, load_examples
from finsentry.training.metrics import TaskMetrics, classification_metrics

SENTIMENT_IDS = ["bearish", "bullish", "neutral"]


class _Embedder(torch.nn.Module):
    """Backbone -> mean pooling, presented as a one-head network for :class:`Scorer`."""

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return {"embedding": mean_pool(hidden, attention_mask)}


def embed(texts: list[str], max_length: int) -> np.ndarray:
    backbone, tokenizer = load_backbone(DEFAULT_BACKBONE)
    # The Scorer is used for its tokenizing and padding only; the embeddings come straight out.
    scorer = Scorer(
        _Embedder(backbone),
        tokenizer,
        {"topic": ["unused"]},
        model_id="baseline",
        device=torch.device("cpu"),
        max_length=max_length,
    )
    out = np.zeros((len(texts), int(cast(Any, backbone).config.hidden_size)), dtype=np.float32)
    step = 2048
    for start in range(0, len(texts), step):
        with torch.inference_mode():
            rows = scorer.tokenize(texts[start : start + step])
            for batch in plan_batches([len(r) for r in rows], 4096):
                ids, mask = scorer.collate([rows[i] for i in batch])
                vectors = scorer.network(input_ids=ids, attention_mask=mask)["embedding"]
                out[[start + i for i in batch]] = vectors.numpy()
        print(f"  embedded {min(start + step, len(texts))}/{len(texts)}", file=sys.stderr)
    return out


def run(data_dir: Path, cache: Path | None, max_length: int) -> dict[str, TaskMetrics]:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    names = {
        "sentiment": SENTIMENT_IDS,
        "topic": (data_dir / "topic_classes.txt").read_text(encoding="utf-8").split("\n"),
    }
    names["topic"] = [n.strip() for n in names["topic"] if n.strip()]
    results: dict[str, TaskMetrics] = {}
    for task in ("sentiment", "topic"):
        split: dict[str, list[Example]] = {
            part: load_examples(data_dir / f"{task}_{part}.csv", task, names)
            for part in ("train", "valid")
        }
        vectors = {}
        for part, examples in split.items():
            path = cache / f"baseline_{task}_{part}.npy" if cache else None
            if path is not None and path.is_file():
                vectors[part] = np.load(path)
            else:
                vectors[part] = embed([e.text for e in examples], max_length)
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    np.save(path, vectors[part])
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        sparse = {
            "train": tfidf.fit_transform([e.text for e in split["train"]]),
            "valid": tfidf.transform([e.text for e in split["valid"]]),
        }
        features = {
            part: hstack([sparse[part], csr_matrix(normalize(vectors[part]))]).tocsr()
            for part in split
        }
        labels = sorted({e.label for e in split["train"]})
        index = {name: i for i, name in enumerate(labels)}
        model = LogisticRegression(max_iter=2000, C=10.0)
        model.fit(features["train"], [index[e.label] for e in split["train"]])
        predicted = model.predict(features["valid"]).tolist()
        truth = [index[e.label] for e in split["valid"]]
        results[task] = classification_metrics(task, labels, truth, predicted)
        print(
            f"{task}: accuracy {results[task].accuracy:.4f} macro-F1 {results[task].macro_f1:.4f}"
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None, help="Keep embeddings here.")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="Write the metrics here.")
    args = parser.parse_args(argv)
    configure_cpu_threads(args.threads)
    results = run(args.data_dir, args.cache, args.max_length)
    if args.json:
        payload: dict[str, Any] = {t: m.to_json() for t, m in results.items()}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
