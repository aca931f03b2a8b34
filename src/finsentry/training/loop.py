"""The training loop: length-bucketed batches, one optimiser step per batch with every task's loss,
evaluation every ``eval_every`` steps, the best validation state kept (:class:`Checkpoint`) and an
early stop after ``patience`` evaluations without improvement, at ``max_steps`` or ``max_minutes``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from finsentry.scoring.device import autocast_dtype
from finsentry.scoring.network import ENTITY_TASK, MultiTaskNetwork
from finsentry.training.config import TrainConfig
from finsentry.training.forward import Runner
from finsentry.training.metrics import TaskMetrics
from finsentry.training.rows import BatchTargets

OnEval = Callable[[dict[str, float]], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, window: int = 50
) -> list[list[int]]:
    """Shuffle, sort by length within windows of ``window`` batches, cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * window
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lengths.__getitem__)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def build_optimizer(network: MultiTaskNetwork, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW: the heads at ``head_lr``, the backbone at the learning rate; no decay on biases and
    norms."""
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in network.named_parameters():
        if not param.requires_grad:
            continue
        lr = config.head_lr if name.startswith("heads.") else config.learning_rate
        decay = (
            0.0
            if (name.endswith("bias") or "LayerNorm" in name or "norm" in name)
            else config.weight_decay
        )
        groups.setdefault((lr, decay), []).append(param)
    return torch.optim.AdamW(
        [{"params": p, "lr": lr, "weight_decay": wd} for (lr, wd), p in groups.items()]
    )


def trainable_state(network: MultiTaskNetwork) -> dict[str, torch.Tensor]:
    names = {n for n, p in network.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in network.state_dict().items() if k in names}


def mean_accuracy(metrics: dict[str, TaskMetrics]) -> float:
    return float(np.mean([m.accuracy for m in metrics.values()]))


@dataclass
class Checkpoint:
    """The best validation score so far, the trainable state that reached it, its metrics, and
    how many evaluations since then did not improve on it."""

    state: dict[str, torch.Tensor]
    score: float = -1.0
    metrics: dict[str, TaskMetrics] = field(default_factory=dict)
    stale: int = 0

    def offer(
        self,
        score: float,
        metrics: dict[str, TaskMetrics],
        network: MultiTaskNetwork,
        patience: int,
    ) -> bool:
        """Keep the network's state if ``score`` is the best yet; True when patience ran out."""
        if score > self.score:
            self.score, self.state, self.stale = score, trainable_state(network), 0
            self.metrics = metrics
            return False
        self.stale += 1
        return self.stale >= patience


def task_loss(
    logits: dict[str, torch.Tensor],
    entity: BatchTargets | None,
    targets: dict[str, torch.Tensor],
    index: torch.Tensor,
    device: torch.device,
    loss_fn: nn.Module,
) -> torch.Tensor:
    """The sum over tasks of each head's cross-entropy on the rows labelled for it; entity
    targets weighted (``contrast_weight`` where a text's targets disagree)."""
    loss = torch.zeros((), device=device)
    for task, task_logits in logits.items():
        if task == ENTITY_TASK and entity is not None:
            each = nn.functional.cross_entropy(
                task_logits.float(), entity.classes, reduction="none"
            )
            loss = loss + (each * entity.weights).sum() / entity.weights.sum()
            continue
        y = targets[task][index].to(device)
        if bool((y >= 0).any()):
            loss = loss + loss_fn(task_logits.float(), y)
    return loss


class TrainingLoop:
    """One run of the loop over ``rows`` (token ids per training row) with their ``targets``."""

    def __init__(
        self,
        network: MultiTaskNetwork,
        runner: Runner,
        rows: Sequence[list[int]],
        targets: dict[str, torch.Tensor],
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        self.network, self.runner, self.rows, self.targets = network, runner, rows, targets
        self.config, self.device = config, device
        self.steps_per_epoch = -(-len(rows) // config.batch_size)
        total_steps = self.steps_per_epoch * config.epochs
        self.total_steps = min(total_steps, config.max_steps) if config.max_steps else total_steps
        self.optimizer = build_optimizer(network, config)
        self.schedule: Any = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
            self.optimizer, int(config.warmup * self.total_steps), max(self.total_steps, 1)
        )
        self.amp = autocast_dtype(device)
        self.eval_every = config.eval_every or self.steps_per_epoch
        self.loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
        self.history: list[dict[str, float]] = []
        self.best = Checkpoint(trainable_state(network))

    def mode(self, train: bool) -> None:
        self.network.train(train)
        self.runner.module.train(train)

    def step(self, batch: list[int]) -> torch.Tensor:
        """Forward, loss, backward and one optimiser and schedule step; the batch's loss."""
        self.mode(True)
        index = torch.tensor(batch)
        amp = self.amp
        with torch.autocast(self.device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits, entity = self.runner.forward(batch)
        loss = task_loss(logits, entity, self.targets, index, self.device, self.loss_fn)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), 1.0)
        self.optimizer.step()
        self.schedule.step()
        return loss

    def evaluate(self, step: int, loss: torch.Tensor, bar: Any, on_eval: OnEval | None) -> bool:
        """Measure on the validation data, record it, keep the best; True when patience ran out."""
        self.mode(False)
        metrics = self.runner.evaluate()
        score = mean_accuracy(metrics)
        record = {
            "step": float(step),
            "epoch": step / self.steps_per_epoch,
            "loss": loss.item(),
            "score": score,
        }
        record.update({f"{t}_accuracy": m.accuracy for t, m in metrics.items()})
        self.history.append(record)
        if on_eval is not None:
            on_eval(record)
        bar.write(" ".join(f"{k}={v:.4f}" for k, v in record.items()))
        return self.best.offer(score, metrics, self.network, self.config.patience)

    def run(self, deadline: float, progress: bool, on_eval: OnEval | None) -> Checkpoint:
        """Train until the epochs, ``max_steps``, the deadline or the patience run out."""
        rng = random.Random(self.config.seed)
        lengths = [len(r) for r in self.rows]
        step = 0
        with tqdm(
            total=self.total_steps, desc="training", unit="step", disable=not progress
        ) as bar:
            for epoch in range(self.config.epochs):
                for batch in bucketed_batches(lengths, self.config.batch_size, rng):
                    loss = self.step(batch)
                    step += 1
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
                    last = step >= self.total_steps or time.perf_counter() >= deadline
                    if (step % self.eval_every == 0 or last) and self.evaluate(
                        step, loss, bar, on_eval
                    ):
                        return self.best
                    if last:
                        return self.best
        return self.best
