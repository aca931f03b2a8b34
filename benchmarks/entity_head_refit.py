"""How far the entity head alone can go: refit it on fixed features and compare.

The entity head of finsentry-minilm is one linear layer over [mean; max] of the final vectors of
the mention's tokens. With the backbone fixed, its best weights are a convex problem: this script
takes those features once from the int8 ONNX graph (as the default backend scores) for every
(headline, company) of the training and evaluation files, then refits the head in seconds,
regularised towards the shipped head (``lambda * ||W - W0||^2``), with and without more
training data, and prints the figures the model card uses:

* entity accuracy on the part of SEntFiN train that training held out (``--val-split 0.08 --seed
  13``: a stable hash of the headline), and on its headlines whose companies differ in tone;
* SEntFiN valid, entity level;
* the adverse-events set (``benchmarks/data/adverse_events.csv``): adverse -> negative towards the
  company hit, look-alikes -> negative.

A company its headline does not name takes the headline's sentiment, as in the pipeline. The
synthetic training files are written by ``finsentry.training.synthetic`` / ``synthetic_wire``
with the seeds of the 2.2 recipe (model card); SEntFiN is read from ``--sentfin`` at run time.

    python benchmarks/entity_head_refit.py --sentfin ../shared/data/sentfin
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from finsentry.config import Settings
from finsentry.entities import name_spans
from finsentry.schema import Target
from finsentry.scoring import load_scorer
from finsentry.scoring.engine import _mentions
from finsentry.scoring.onnx_backend import target_features
from finsentry.sources.normalise import normalise_text
from finsentry.training.data import load_examples

LABELS = ["negative", "neutral", "positive"]
ADVERSE = Path(__file__).parent / "data" / "adverse_events.csv"
# the synthetic sets of the 2.2 recipe, and the company-named events tried after it
SYNTHETIC = {
    "events_ext": ["finsentry.training.synthetic", "--n", "3600", "--seed", "17", "--extended"],
    "events_ext29": ["finsentry.training.synthetic", "--n", "3600", "--seed", "29", "--extended"],
    "pairs": ["finsentry.training.synthetic", "--n", "1500", "--seed", "11", "--contrast-share", "1"],
    "compound": [
        "finsentry.training.synthetic", "--n", "3600", "--seed", "31", "--extended", "--compound",
    ],
}  # fmt: skip


class Rows:
    """Features, labels and bookkeeping of every (text, company) of one file."""

    def __init__(self, features: np.ndarray, named: np.ndarray, meta: list[dict[str, object]]):
        self.features, self.named, self.meta = features, named, meta
        self.labels = np.array([LABELS.index(str(m["label"])) for m in meta])
        texts: dict[object, set[object]] = defaultdict(set)
        for m in meta:
            texts[m["text"]].add(m["label"])
        self.contrast = np.array([len(texts[m["text"]]) > 1 for m in meta])
        self.held_out = np.array(
            [zlib.crc32(f"13|{m['text']}".encode()) / 2**32 < 0.08 for m in meta]
        )


def extract(scorer: object, groups: list[tuple[str, list[tuple[str, tuple, str, dict]]]]) -> Rows:
    """The head's input for each target, through the scorer's own tokens and mention spans."""
    texts = [g[0] for g in groups]
    targets = [[Target(name, spans) for name, spans, _, _ in g[1]] for g in groups]
    ids, offsets = scorer._encode(texts, offsets=True)  # type: ignore[attr-defined]
    mentions, _, flat = _mentions(offsets, targets)
    headline = scorer.probabilities(texts)["sentiment"]  # type: ignore[attr-defined]
    names = scorer.labels["sentiment"]  # type: ignore[attr-defined]
    features = np.zeros((flat, 768), np.float32)
    named = np.zeros(flat, bool)
    meta: list[dict[str, object]] = []
    for i, (row, found) in enumerate(zip(ids, mentions, strict=True)):
        hidden = None
        for j, tokens in enumerate(found):
            name, _, label, extra = groups[i][1][j]
            if tokens:
                if hidden is None:
                    hidden = scorer.runner._one(row)[-1][0]  # type: ignore[attr-defined]
                features[len(meta)] = target_features(hidden, tokens)
                named[len(meta)] = True
            meta.append(
                {"text": texts[i], "name": name, "label": label,
                 "headline": names[int(headline[i].argmax())], **extra}
            )  # fmt: skip
    return Rows(features, named, meta)


def entity_file(path: Path) -> list[tuple[str, list[tuple[str, tuple, str, dict]]]]:
    groups: dict[str, list[tuple[str, tuple, str, dict]]] = {}
    for e in load_examples(str(path), "entity"):
        groups.setdefault(e.text, []).append((e.target, e.spans, e.label, {}))
    return list(groups.items())


def adverse_file(path: Path) -> list[tuple[str, list[tuple[str, tuple, str, dict]]]]:
    import csv

    groups = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = normalise_text(row["title"])
            labels = json.loads(row["entities"])
            groups.append((text, [
                (normalise_text(n), name_spans(text, normalise_text(n)), label, {"kind": row["kind"]})
                for n, label in labels.items()
            ]))  # fmt: skip
    return groups


def predict(head: tuple[np.ndarray, np.ndarray], rows: Rows) -> list[str]:
    weight, bias = head
    best = (rows.features @ weight.T + bias).argmax(1)
    return [LABELS[b] if rows.named[k] else str(m["headline"]) for k, (b, m) in enumerate(zip(best, rows.meta, strict=True))]


def accuracy(pred: list[str], rows: Rows, mask: np.ndarray) -> float:
    picked = np.flatnonzero(mask)
    return float(np.mean([pred[k] == rows.meta[k]["label"] for k in picked])) if len(picked) else 0.0


def adverse(pred: list[str], rows: Rows) -> tuple[float, float]:
    by_text: dict[object, list[int]] = defaultdict(list)
    for k, m in enumerate(rows.meta):
        by_text[m["text"]].append(k)
    hit, look = [], []
    for ks in by_text.values():
        if rows.meta[ks[0]]["kind"] == "adverse":
            target = next(k for k in ks if rows.meta[k]["label"] == "negative")
            hit.append(pred[target] == "negative")
        else:
            look.append(any(pred[k] == "negative" for k in ks))
    return float(np.mean(hit)), float(np.mean(look))


def refit(sets: list[Rows], head: tuple[np.ndarray, np.ndarray], lam: float) -> tuple[np.ndarray, np.ndarray]:
    """The head minimising the weighted cross-entropy of the training rows (held-out part left
    out; contrast labels weigh 3, as in training) plus ``lam * ||W - W0||^2``."""
    keep = [r.named & ~r.held_out for r in sets]
    x = torch.tensor(np.concatenate([r.features[k] for r, k in zip(sets, keep, strict=True)]))
    y = torch.tensor(np.concatenate([r.labels[k] for r, k in zip(sets, keep, strict=True)]))
    w = torch.tensor(
        np.concatenate([np.where(r.contrast[k], 3.0, 1.0) for r, k in zip(sets, keep, strict=True)]),
        dtype=torch.float32,
    )
    w0, b0 = torch.tensor(head[0]), torch.tensor(head[1])
    dw = torch.zeros_like(w0, requires_grad=True)
    db = torch.zeros_like(b0, requires_grad=True)
    opt = torch.optim.LBFGS([dw, db], max_iter=200, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = x @ (w0 + dw).T + (b0 + db)
        loss = (torch.nn.functional.cross_entropy(logits, y, reduction="none") * w).sum() / w.sum()
        loss = loss + lam * ((dw**2).sum() + (db**2).sum())
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return (w0 + dw).detach().numpy(), (b0 + db).detach().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentfin", type=Path, required=True, help="directory of sentfin_*.csv")
    parser.add_argument("--model", default="default")
    parser.add_argument("--lambdas", default="0.1,0.01,0.001,0.0001")
    args = parser.parse_args()
    scorer = load_scorer(Settings(model=args.model, backend="onnx"))
    shipped = scorer.runner._entity  # (weight, bias) of the model's entity head, as scored
    if shipped is None:
        raise SystemExit(f"{scorer.model_id} has no entity head")
    with tempfile.TemporaryDirectory() as tmp:
        files = {"sentfin_train": args.sentfin / "sentfin_train.csv"}
        for name, command in SYNTHETIC.items():
            out = Path(tmp) / f"{name}.csv"
            subprocess.run([sys.executable, "-m", *command, "--out", str(out)], check=True, capture_output=True)
            files[name] = out
        wire = Path(tmp) / "wire.csv"
        subprocess.run(
            [sys.executable, "-m", "finsentry.training.synthetic_wire", "--out", str(wire),
             "--named-out", str(Path(tmp) / "wire_named.csv"), "--n", "2400", "--seed", "23"],
            check=True, capture_output=True,
        )  # fmt: skip
        files["wire_named"] = Path(tmp) / "wire_named.csv"
        rows = {name: extract(scorer, entity_file(path)) for name, path in files.items()}
    valid = extract(scorer, entity_file(args.sentfin / "sentfin_valid.csv"))
    events = extract(scorer, adverse_file(ADVERSE))
    train = rows["sentfin_train"]

    def line(tag: str, head: tuple[np.ndarray, np.ndarray]) -> None:
        pred = predict(head, train)
        held = accuracy(pred, train, train.held_out)
        mixed = accuracy(pred, train, train.held_out & train.contrast)
        v = accuracy(predict(head, valid), valid, np.ones(len(valid.meta), bool))
        hit, look = adverse(predict(head, events), events)
        print(f"{tag:36s} held-out {held:.4f} (differ {mixed:.3f})  valid {v:.4f}  "
              f"adverse {hit:.3f}  look-alikes {look:.3f}", flush=True)  # fmt: skip

    print(f"{int(train.held_out.sum())} held-out labels of SEntFiN train, {len(valid.meta)} valid")
    line("shipped head", shipped)
    base = [rows[n] for n in ("sentfin_train", "events_ext", "events_ext29", "pairs", "wire_named")]
    for tag, sets in (("2.2 data", base), ("2.2 data + company-named", [*base, rows["compound"]])):
        for lam in (float(v) for v in args.lambdas.split(",")):
            line(f"{tag}, lambda {lam:g}", refit(sets, shipped, lam))


if __name__ == "__main__":
    main()
