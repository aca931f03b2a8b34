"""How a training batch goes forward and how validation is measured: through the whole network
(tokens in), or through the top layers only over the frozen lower layers' cached output."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from finsentry.scoring.batching import plan_batches
from finsentry.scoring.engine import Scorer
from finsentry.scoring.network import MultiTaskNetwork
from finsentry.training.data import Example
from finsentry.training.metrics import TaskMetrics, classification_metrics
from finsentry.training.report import evaluate_with_scorer
from finsentry.training.rows import BatchTargets, Row, batch_targets
from finsentry.training.toplayers import (
    TopNetwork,
    build_top_model,
    cache_lower_states,
    collate_states,
    encoder_layers,
)

log = logging.getLogger(__name__)

Logits = tuple[dict[str, torch.Tensor], BatchTargets | None]


@dataclass
class Runner:
    """The module a training step runs (switched between train and eval mode with the network),
    the forward pass of a batch of row indices, and the validation measurement."""

    module: nn.Module
    forward: Callable[[list[int]], Logits]
    evaluate: Callable[[], dict[str, TaskMetrics]]


def full_runner(
    network: MultiTaskNetwork,
    evaluator: Scorer,
    packed: Sequence[Row],
    valid_examples: Sequence[Example],
    device: torch.device,
    contrast_weight: float,
) -> Runner:
    """Every layer runs: token ids in, the entity head reading its targets' mentions."""
    rows = [row.ids for row in packed]

    def forward(batch: list[int]) -> Logits:
        ids, mask = evaluator.collate([rows[i] for i in batch])
        entity = batch_targets(packed, batch, ids.shape[1], device, contrast_weight)
        if entity is None:
            return dict(network(input_ids=ids, attention_mask=mask)), None
        logits = network(
            input_ids=ids, attention_mask=mask, target_rows=entity.rows, target_mask=entity.mask
        )
        return dict(logits), entity

    def evaluate() -> dict[str, TaskMetrics]:
        return evaluate_with_scorer(evaluator, valid_examples)

    return Runner(network, forward, evaluate)


def _tokenize(tokenizer: Any, examples: Sequence[Example], max_length: int) -> list[list[int]]:
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
    return [list(ids) for ids in encoded["input_ids"]]


def cached_runner(
    network: MultiTaskNetwork,
    tokenizer: Any,
    rows: Sequence[list[int]],
    valid_examples: Sequence[Example],
    k: int,
    max_length: int,
    device: torch.device,
) -> Runner:
    """Only the top ``k`` layers run; the lower layers' output is computed once per example."""
    pad = int(tokenizer.pad_token_id or 0)
    frozen = len(encoder_layers(network.backbone)) - k
    log.info("caching the output of the %d frozen lower layers", frozen)
    train_states = cache_lower_states(network.backbone, rows, k, pad, device)
    valid_rows = _tokenize(tokenizer, valid_examples, max_length)
    valid_states = cache_lower_states(network.backbone, valid_rows, k, pad, device)
    top = TopNetwork(build_top_model(network.backbone, k), network.heads, network.dropout)

    def forward(batch: list[int]) -> Logits:
        hidden, mask = collate_states([train_states[i] for i in batch], device)
        return dict(top(hidden, mask)), None

    def evaluate() -> dict[str, TaskMetrics]:
        return _evaluate_cached(top, valid_states, valid_examples, network.labels, device)

    return Runner(top, forward, evaluate)


@torch.inference_mode()
def _evaluate_cached(
    runner: nn.Module,
    states: Sequence[torch.Tensor],
    examples: Sequence[Example],
    labels: dict[str, list[str]],
    device: torch.device,
) -> dict[str, TaskMetrics]:
    predicted: dict[str, list[int]] = {task: [0] * len(examples) for task in labels}
    for batch in plan_batches([s.shape[0] for s in states], 8192):
        hidden, mask = collate_states([states[i] for i in batch], device)
        logits = runner(hidden, mask)
        for task in labels:
            for row, value in zip(batch, logits[task].argmax(dim=-1).tolist(), strict=True):
                predicted[task][row] = int(value)
    metrics = {}
    for task, names in labels.items():
        index = {name: i for i, name in enumerate(names)}
        rows = [i for i, e in enumerate(examples) if e.task == task]
        if rows:
            truth = [index[examples[i].label] for i in rows]
            metrics[task] = classification_metrics(
                task, names, truth, [predicted[task][i] for i in rows]
            )
    return metrics
