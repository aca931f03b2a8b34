"""Training rows: examples of one text packed into one row, tokenized once.

A SEntFiN headline carries a label per company it names and, when they agree, a headline label;
training them as separate rows would run the same headline through the network once per label.
Packing puts every label of a text in one row: its sentiment and topic labels (``-100`` where it
has none) and its targets (the tokens of each company's mention, with that company's label), so a
row costs one forward whatever it is labelled with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from finsentry.schema import Span
from finsentry.scoring.engine import mention_tokens
from finsentry.scoring.network import ENTITY_TASK
from finsentry.training.data import Example

log = logging.getLogger(__name__)
IGNORE = -100


@dataclass
class Row:
    """One text with all its labels: class index per task, and ``(token positions, class)`` per
    target."""

    text: str
    labels: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[tuple[Span, ...], int]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    targets: list[tuple[list[int], int]] = field(default_factory=list)


def pack(examples: Sequence[Example], labels: dict[str, list[str]]) -> list[Row]:
    """Rows of ``examples``: one per text, unless a text has two labels for one task.

    Entity examples whose name was not found in the text are left out (there is no mention to
    learn from); how many is logged.
    """
    index = {task: {name: i for i, name in enumerate(names)} for task, names in labels.items()}
    rows: list[Row] = []
    open_rows: dict[str, Row] = {}
    unfound = 0
    for example in examples:
        if example.task == ENTITY_TASK and not example.spans:
            unfound += 1
            continue
        row = open_rows.get(example.text)
        clash = (
            row is not None
            and example.task != ENTITY_TASK
            and example.task in row.labels
        )
        if row is None or clash:
            row = open_rows[example.text] = Row(example.text)
            rows.append(row)
        label = index[example.task][example.label]
        if example.task == ENTITY_TASK:
            row.spans.append((example.spans, label))
        else:
            row.labels[example.task] = label
    if unfound:
        log.info("%d entity examples name nothing found in their text: not trained on", unfound)
    return rows


def tokenize_rows(tokenizer: Any, rows: Sequence[Row], max_length: int) -> None:
    """Token ids of each row and the token positions of each target's mention (in place).

    A target whose mention falls beyond ``max_length`` is dropped from training.
    """
    need_offsets = any(row.spans for row in rows)
    encoded = tokenizer(
        [row.text for row in rows],
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=need_offsets,
    )
    for r, row in enumerate(rows):
        row.ids = list(encoded["input_ids"][r])
        if need_offsets:
            offsets = [(int(a), int(b)) for a, b in encoded["offset_mapping"][r]]
            row.targets = [
                (tokens, label)
                for tokens, label in ((mention_tokens(offsets, s), label) for s, label in row.spans)
                if tokens
            ]


def task_targets(rows: Sequence[Row], tasks: Sequence[str]) -> dict[str, torch.Tensor]:
    """Per text-level task, the class index of every row (``-100`` where it has none)."""
    return {
        task: torch.tensor([row.labels.get(task, IGNORE) for row in rows])
        for task in tasks
        if task != ENTITY_TASK
    }


@dataclass
class BatchTargets:
    """A batch's targets: batch row of each, token masks (targets x width), classes, loss weights."""

    rows: torch.Tensor
    mask: torch.Tensor
    classes: torch.Tensor
    weights: torch.Tensor


def batch_targets(
    rows: Sequence[Row],
    batch: Sequence[int],
    width: int,
    device: torch.device,
    contrast_weight: float = 1.0,
) -> BatchTargets | None:
    """The targets of a batch. Targets of a text whose targets disagree ("X gains as Y slips")
    weigh ``contrast_weight`` in the loss, the others 1: they are the few examples where the
    headline's tone is the wrong answer."""
    positions: list[int] = []
    masks: list[list[int]] = []
    classes: list[int] = []
    weights: list[float] = []
    for position, r in enumerate(batch):
        contrast = len({label for _, label in rows[r].targets}) > 1
        for tokens, label in rows[r].targets:
            positions.append(position)
            masks.append(tokens)
            classes.append(label)
            weights.append(contrast_weight if contrast else 1.0)
    if not positions:
        return None
    mask = torch.zeros((len(positions), width), dtype=torch.float32)
    for t, tokens in enumerate(masks):
        mask[t, tokens] = 1.0
    return BatchTargets(
        torch.tensor(positions, dtype=torch.long, device=device),
        mask.to(device),
        torch.tensor(classes, dtype=torch.long, device=device),
        torch.tensor(weights, dtype=torch.float32, device=device),
    )
