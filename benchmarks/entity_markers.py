"""Does telling the backbone which company is meant help? Entity markers against mention pooling.

finsentry-minilm reads the sentiment towards a company from one forward of the headline: the entity
head pools the final vectors of the company's mention, so every company of a headline is scored
from the same pass. The usual alternative (issue 11 names it) marks the company in the input,
``Gold shines on seasonal demand; [ Silver ] dull``, one forward per company, so attention knows
the target from the first layer on. This script trains both ways from the same start on the same
rows and reports entity accuracy on SEntFiN train's held-out part (``--val-split 0.08 --seed 13``:
the 694 headlines every model since 2.0 held out) and on SEntFiN valid, in fp32 torch:

* ``--mode plain``: the text as it is, the entity head pooling the mention's tokens (as shipped);
* ``--mode marker``: " [ " and " ] " around every mention of the company, the head pooling the
  mention with its markers.

Training: SEntFiN train's other headlines, one row per (headline, company), batch 32, AdamW (the
backbone at ``--lr``, the head at 30 times that), linear warm-up over 6 % and decay, word-piece
embeddings frozen (as in the 2.x recipe). A company the headline does not name is pooled over the
whole text. ``--model`` is the start: the shipped model, or an earlier one without an entity head
(a fresh head is made), e.g. 1.3.0 from the repository's history:

    git archive 30dc2a3 models/finsentry-minilm | tar -x -C /tmp/m130
    python benchmarks/entity_markers.py --sentfin ../shared/data/sentfin --mode marker
    python benchmarks/entity_markers.py --sentfin ../shared/data/sentfin --mode plain \
        --model /tmp/m130/models/finsentry-minilm --epochs 3 --lr 4e-5

Needs the torch extra; about 5 minutes an epoch on two cores.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_file
from torch import nn
from tqdm import tqdm

from finsentry.scoring.modeldir import HEADS_FILE, ModelSpec, default_model_dir
from finsentry.scoring.network import MultiTaskNetwork, load_backbone, target_features
from finsentry.training.data import Example, entity_examples

LABELS = ["negative", "neutral", "positive"]
OPEN, CLOSE = " [ ", " ] "


def held_out(text: str) -> bool:
    """The part of SEntFiN train that ``finsentry train --val-split 0.08 --seed 13`` holds out."""
    return zlib.crc32(f"13|{text}".encode()) / 2**32 < 0.08


def load_rows(path: Path) -> list[Example]:
    return entity_examples(pd.read_csv(path), path, ["entity"])


def network(directory: Path) -> tuple[MultiTaskNetwork, Any]:
    """The model at ``directory`` with an entity head (a fresh one when it has none)."""
    spec = ModelSpec.read(directory)
    backbone, tokenizer = load_backbone(spec.backbone, relative_to=directory)
    if spec.backbone_weights:
        state = load_file(str(directory / spec.backbone_weights))
        backbone.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    net = MultiTaskNetwork(backbone, {**spec.heads, "entity": LABELS})
    heads = load_file(str(directory / HEADS_FILE))
    for task, head in net.heads.items():
        if f"{task}.weight" in heads:
            head.load_state_dict({"weight": heads[f"{task}.weight"], "bias": heads[f"{task}.bias"]})
    return net, tokenizer


def marked(example: Example) -> tuple[str, list[tuple[int, int]]]:
    """The text with markers around each mention, and the mentions' new spans (markers in)."""
    text, spans = example.text, sorted(example.spans)
    parts, new, at = [], [], 0
    for start, end in spans:
        parts.append(text[at:start])
        begin = sum(map(len, parts))
        parts.append(OPEN + text[start:end] + CLOSE)
        new.append((begin, begin + len(parts[-1])))
        at = end
    parts.append(text[at:])
    return "".join(parts), new


def encode(tokenizer: Any, rows: list[Example], mode: str) -> tuple[torch.Tensor, ...]:
    pairs = [marked(e) if mode == "marker" and e.spans else (e.text, list(e.spans)) for e in rows]
    enc = tokenizer([t for t, _ in pairs], padding=True, truncation=True, max_length=80,
                    return_offsets_mapping=True, return_tensors="pt")  # fmt: skip
    mask = torch.zeros(enc["input_ids"].shape, dtype=torch.bool)
    for i, (_, spans) in enumerate(pairs):
        for j, (a, b) in enumerate(enc["offset_mapping"][i].tolist()):
            mask[i, j] = b > a and any(a < end and b > start for start, end in spans)
        if not mask[i].any():  # the company is not named: the whole text
            mask[i] = enc["attention_mask"][i].bool()
    return enc["input_ids"], enc["attention_mask"], mask


def logits(net: MultiTaskNetwork, batch: tuple[torch.Tensor, ...], train: bool) -> torch.Tensor:
    ids, attention, mask = batch
    hidden = net.backbone(input_ids=ids, attention_mask=attention).last_hidden_state
    features = target_features(hidden, hidden[:, 0], torch.arange(ids.shape[0]), mask)
    head: nn.Module = net.heads["entity"]
    out: torch.Tensor = head(net.dropout(features) if train else features)
    return out


def accuracy(net: MultiTaskNetwork, tokenizer: Any, rows: list[Example], mode: str) -> float:
    net.eval()
    right = 0
    with torch.no_grad():
        for k in range(0, len(rows), 128):
            part = rows[k : k + 128]
            predicted = logits(net, encode(tokenizer, part, mode), False).argmax(-1).tolist()
            right += sum(LABELS[p] == e.label for p, e in zip(predicted, part, strict=True))
    return right / len(rows)


def train(net: MultiTaskNetwork, tokenizer: Any, rows: list[Example], args: Any) -> None:
    backbone_module: Any = net.backbone
    for p in backbone_module.get_input_embeddings().parameters():
        p.requires_grad = False
    backbone = [p for p in net.backbone.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [{"params": backbone, "lr": args.lr},
         {"params": net.heads["entity"].parameters(), "lr": args.lr * 30}],
        weight_decay=0.01,
    )  # fmt: skip
    steps = int(len(rows) / 32 * args.epochs)
    warm = max(1, int(0.06 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps)
    )
    rng = random.Random(args.seed)
    bar = tqdm(total=steps, desc=f"training ({args.mode})", unit="step")
    done = 0
    while done < steps:
        order = rows[:]
        rng.shuffle(order)
        for k in range(0, len(order) - 31, 32):
            if done >= steps:
                break
            net.train()
            part = order[k : k + 32]
            target = torch.tensor([LABELS.index(e.label) for e in part])
            loss = nn.functional.cross_entropy(logits(net, encode(tokenizer, part, args.mode), True), target)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            done += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentfin", type=Path, required=True, help="the SEntFiN folder")
    parser.add_argument("--mode", choices=("marker", "plain"), required=True)
    parser.add_argument("--model", type=Path, default=None, help="start [default: the shipped model]")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    every = load_rows(args.sentfin / "sentfin_train.csv")
    rows = [e for e in every if not held_out(e.text)]
    held = [e for e in every if held_out(e.text)]
    valid = load_rows(args.sentfin / "sentfin_valid.csv")
    net, tokenizer = network(args.model or default_model_dir())
    print(f"{len(rows)} training rows, {len(held)} held out, {len(valid)} valid", file=sys.stderr)
    before = accuracy(net, tokenizer, held, args.mode)
    started = time.perf_counter()
    train(net, tokenizer, rows, args)
    print(
        f"mode {args.mode}, {args.epochs:g} epochs at {args.lr:g}: held-out entity "
        f"{accuracy(net, tokenizer, held, args.mode):.4f} (before {before:.4f}), SEntFiN valid "
        f"entity {accuracy(net, tokenizer, valid, args.mode):.4f}, "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
