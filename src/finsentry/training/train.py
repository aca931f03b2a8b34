"""Fine-tuning: LoRA adapters (or a full fine-tune) plus linear heads, multi-task in one forward.

Every batch mixes the tasks; each row contributes the cross-entropy of its own task's head. Batches
are drawn from length buckets (shuffled, then sorted within a window of a few hundred examples) so
little compute goes to padding. The best state on the validation data (mean accuracy over the tasks)
is kept; training stops early after ``patience`` evaluations without improvement.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from finsentry.scoring.batching import plan_batches
from finsentry.scoring.device import autocast_dtype, configure_cpu_threads, select_device
from finsentry.scoring.engine import Scorer
from finsentry.scoring.lexical import LexicalHead, fit_lexical
from finsentry.scoring.modeldir import (
    ADAPTER_DIR,
    BACKBONE_ALIASES,
    BACKBONE_WEIGHTS_FILE,
    ModelSpec,
    is_finsentry_model,
)
from finsentry.scoring.network import ENTITY_TASK, MultiTaskNetwork, load_backbone, load_network
from finsentry.training.data import DataError, Example, describe, label_sets
from finsentry.training.metrics import TaskMetrics, classification_metrics
from finsentry.training.report import evaluate_with_scorer
from finsentry.training.rows import (
    BatchTargets,
    batch_targets,
    pack,
    task_targets,
    tokenize_rows,
)
from finsentry.training.toplayers import (
    TopNetwork,
    build_top_model,
    cache_lower_states,
    collate_states,
    encoder_layers,
    freeze_below,
    top_linear_names,
)

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Hyper-parameters of one run (all recorded in the model card)."""

    task: str = "both"
    base: str = "minilm"
    lora_r: int = 16  # 0 = full fine-tuning of the backbone
    lora_alpha: int | None = None  # default 2 x r
    lora_dropout: float = 0.1
    lora_targets: str = "all-linear"
    train_layers: int = 0  # train only the top K layers, lower ones cached once (0 = all)
    freeze_embeddings: bool = False  # keep the pretrained token embeddings (not stored then)
    contrast_weight: float = 1.0  # loss weight of entity targets in texts whose targets disagree
    epochs: int = 3
    lr: float | None = None  # default 5e-4 with LoRA, 5e-5 for a full fine-tune
    head_lr: float = 2e-3
    batch_size: int = 32
    max_length: int = 64
    warmup: float = 0.06
    weight_decay: float = 0.01
    dropout: float = 0.1
    lexical_weight: float = 0.5  # share of the lexical head in the mix (0 = no lexical head)
    lexical_c: float = 10.0  # inverse L2 strength of the lexical head's logistic regression
    patience: int = 2
    eval_every: int = 0  # optimiser steps between evaluations; 0 = once per epoch
    max_steps: int = 0  # stop after this many steps (0 = no limit; for smoke runs)
    max_minutes: float = 0.0  # stop (evaluate, keep the best) after this long (0 = no limit)
    seed: int = 13
    device: str = "auto"
    cpu_threads: int = 0
    name: str = "finsentry-custom"
    version: str = "0.1.0"
    label_names: dict[str, list[str]] = field(default_factory=dict)
    data_sources: list[str] = field(default_factory=list)
    data_licence: str = "not stated"

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 5e-4 if self.lora_r > 0 else 5e-5


@dataclass
class TrainResult:
    out: Path
    spec: ModelSpec
    metrics: dict[str, TaskMetrics]
    history: list[dict[str, float]]
    seconds: float


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


def _attach_lora(
    network: MultiTaskNetwork, config: TrainConfig, names: list[str] | None = None
) -> None:
    from peft import LoraConfig, get_peft_model

    targets: str | list[str] = names or config.lora_targets
    if isinstance(targets, str) and "," in targets:
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha or 2 * config.lora_r,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        bias="none",
    )
    network.backbone = get_peft_model(network.backbone, lora)


def _optimizer(network: MultiTaskNetwork, config: TrainConfig) -> torch.optim.Optimizer:
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


def _trainable_state(network: MultiTaskNetwork) -> dict[str, torch.Tensor]:
    names = {n for n, p in network.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in network.state_dict().items() if k in names}


def _backbone_reference(base: str) -> str:
    return BACKBONE_ALIASES.get(base.lower(), base)


@dataclass
class Start:
    """Where training starts: a pretrained backbone, or a finsentry model (warm start)."""

    network: MultiTaskNetwork
    tokenizer: Any
    backbone: str  # the pretrained backbone reference recorded in the new model
    # the backbone tensors the start model changed (name -> copy), under their plain names
    changed: dict[str, torch.Tensor] = field(default_factory=dict)
    from_model: str | None = None  # model id of the finsentry model started from


def start_network(base: str, labels: dict[str, list[str]], dropout: float) -> Start:
    """Build the network to train from ``base``.

    ``base`` is a backbone (``minilm``, a HF directory or hub id) or a finsentry model directory.
    From a finsentry model, its fine-tuned backbone is the starting point and each task's head
    is reused when the task has the same classes (rows reordered to the new label order);
    otherwise that head starts fresh. The backbone tensors that model changed are remembered so
    the new model directory carries them even where this run does not train them.
    """
    path = Path(base).expanduser()
    if not is_finsentry_model(path):
        backbone, tokenizer = load_backbone(_backbone_reference(base))
        network = MultiTaskNetwork(backbone, labels, dropout=dropout)
        return Start(network, tokenizer, _backbone_reference(base))
    spec = ModelSpec.read(path)
    loaded, tokenizer = load_network(path, spec)
    network = MultiTaskNetwork(loaded.backbone, labels, dropout=dropout)
    reused = []
    for task, names in labels.items():
        old = spec.heads.get(task)
        if old is None or set(old) != set(names):
            continue
        rows = torch.tensor([old.index(name) for name in names])
        source, target = loaded.heads[task], network.heads[task]
        assert isinstance(source, nn.Linear) and isinstance(target, nn.Linear)
        with torch.no_grad():
            target.weight.copy_(source.weight[rows])
            target.bias.copy_(source.bias[rows])
        reused.append(task)
    pretrained, _ = load_backbone(spec.backbone, relative_to=path)
    reference = pretrained.state_dict()
    changed = {
        name: tensor.detach().clone()
        for name, tensor in network.backbone.state_dict().items()
        if name not in reference or not torch.equal(tensor, reference[name])
    }
    log.info(
        "starting from %s: %d changed backbone tensors, heads reused for %s",
        spec.model_id,
        len(changed),
        ", ".join(reused) or "no task",
    )
    return Start(network, tokenizer, spec.backbone, changed, spec.model_id)


def train(
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    config: TrainConfig,
    out: Path,
    *,
    progress: bool = True,
    on_eval: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Fine-tune, keep the best validation state, and write a model directory to ``out``."""
    started = time.perf_counter()
    seed_everything(config.seed)
    device = select_device(config.device)
    if device.type == "cpu":
        configure_cpu_threads(config.cpu_threads)
    labels = label_sets([*train_examples, *valid_examples], config.label_names)
    start = start_network(config.base, labels, config.dropout)
    network, tokenizer = start.network, start.tokenizer
    backbone = network.backbone
    k = config.train_layers
    if config.freeze_embeddings:
        for param in cast(Any, network.backbone).get_input_embeddings().parameters():
            param.requires_grad = False
    if config.lora_r > 0:
        _attach_lora(network, config, top_linear_names(network.backbone, k) if k else None)
    elif k:
        freeze_below(network.backbone, k)
    network.to(device)

    packed = pack(train_examples, labels)
    tokenize_rows(tokenizer, packed, config.max_length)
    rows = [row.ids for row in packed]
    targets = task_targets(packed, list(labels))
    if k and ENTITY_TASK in labels:
        raise DataError("the entity head trains with all layers: pass --train-layers 0")
    evaluator = Scorer(
        network,
        tokenizer,
        labels,
        model_id="training",
        device=device,
        token_budget=8192,
        max_length=config.max_length,
    )
    runner: nn.Module = network
    if k:
        pad = int(tokenizer.pad_token_id or 0)
        log.info(
            "caching the output of the %d frozen lower layers", len(encoder_layers(backbone)) - k
        )
        train_states = cache_lower_states(network.backbone, rows, k, pad, device)
        valid_rows = _tokenize(tokenizer, valid_examples, config.max_length)
        valid_states = cache_lower_states(network.backbone, valid_rows, k, pad, device)
        runner = TopNetwork(build_top_model(network.backbone, k), network.heads, network.dropout)

        def forward(batch: list[int]) -> tuple[dict[str, torch.Tensor], BatchTargets | None]:
            hidden, mask = collate_states([train_states[i] for i in batch], device)
            return dict(runner(hidden, mask)), None

        def evaluate() -> dict[str, TaskMetrics]:
            return _evaluate_cached(runner, valid_states, valid_examples, labels, device)

    else:

        def forward(batch: list[int]) -> tuple[dict[str, torch.Tensor], BatchTargets | None]:
            ids, mask = evaluator.collate([rows[i] for i in batch])
            entity = batch_targets(packed, batch, ids.shape[1], device, config.contrast_weight)
            if entity is None:
                return dict(network(input_ids=ids, attention_mask=mask)), None
            logits = network(
                input_ids=ids, attention_mask=mask, target_rows=entity.rows, target_mask=entity.mask
            )
            return dict(logits), entity

        def evaluate() -> dict[str, TaskMetrics]:
            return evaluate_with_scorer(evaluator, valid_examples)

    rng = random.Random(config.seed)
    steps_per_epoch = -(-len(rows) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    optimizer = _optimizer(network, config)
    schedule = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(config.warmup * total_steps), max(total_steps, 1)
    )
    amp = autocast_dtype(device)
    eval_every = config.eval_every or steps_per_epoch
    history: list[dict[str, float]] = []
    best_score, best_state, stale, step = -1.0, _trainable_state(network), 0, 0
    best_metrics: dict[str, TaskMetrics] = {}
    deadline = started + 60.0 * config.max_minutes if config.max_minutes > 0 else float("inf")
    bar = tqdm(total=total_steps, desc="training", unit="step", disable=not progress)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    done = False
    for epoch in range(config.epochs):
        for batch in bucketed_batches([len(r) for r in rows], config.batch_size, rng):
            network.train()
            runner.train()
            index = torch.tensor(batch)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits, entity = forward(batch)
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
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
            last = step >= total_steps or time.perf_counter() >= deadline
            if step % eval_every == 0 or last:
                network.eval()
                runner.eval()
                metrics = evaluate()
                score = float(np.mean([m.accuracy for m in metrics.values()]))
                record = {
                    "step": float(step),
                    "epoch": step / steps_per_epoch,
                    "loss": loss.item(),
                    "score": score,
                }
                record.update({f"{t}_accuracy": m.accuracy for t, m in metrics.items()})
                history.append(record)
                if on_eval is not None:
                    on_eval(record)
                bar.write(" ".join(f"{k}={v:.4f}" for k, v in record.items()))
                if score > best_score:
                    best_score, best_state, stale = score, _trainable_state(network), 0
                    best_metrics = metrics
                else:
                    stale += 1
                    if stale >= config.patience:
                        done = True
            if done or last:
                done = True
                break
        if done:
            break
    bar.close()
    network.load_state_dict(best_state, strict=False)
    network.eval()
    runner.eval()
    metrics = best_metrics or evaluate()
    lexical = None
    if config.lexical_weight > 0:
        log.info("fitting the lexical head (weight %.2f)", config.lexical_weight)
        lexical = fit_lexical_head(train_examples, labels, config.lexical_weight, config.lexical_c)
        evaluator.lexical = lexical
        network_metrics = metrics
        metrics = evaluate_with_scorer(evaluator, valid_examples)
        for task, m in metrics.items():
            log.info(
                "%s accuracy: network %.4f, with the lexical head %.4f",
                task,
                network_metrics[task].accuracy,
                m.accuracy,
            )
        if _mean_accuracy(metrics) < _mean_accuracy(network_metrics):
            log.warning(
                "the lexical head lowers validation accuracy (too little data?): not kept; "
                "see --lexical-weight"
            )
            lexical, metrics = None, network_metrics
            evaluator.lexical = None
    spec = save_model(
        network,
        labels,
        config,
        out,
        metrics,
        history,
        train_examples,
        start=start,
        lexical=lexical,
        network_metrics=network_metrics if lexical else None,
    )
    return TrainResult(out, spec, metrics, history, time.perf_counter() - started)


def fit_lexical_head(
    examples: Sequence[Example], labels: dict[str, list[str]], weight: float, c: float
) -> LexicalHead:
    """The lexical head of :mod:`finsentry.scoring.lexical`, fitted on ``examples``.

    Only text-level tasks: the entity head's sentiment depends on where the company is named,
    which word counts cannot see."""
    examples = [e for e in examples if e.task != ENTITY_TASK]
    labels = {task: names for task, names in labels.items() if task != ENTITY_TASK}
    return fit_lexical(
        [e.text for e in examples],
        [e.task for e in examples],
        [e.label for e in examples],
        {task: names for task, names in labels.items() if any(e.task == task for e in examples)},
        weight=weight,
        c=c,
    )


def _mean_accuracy(metrics: dict[str, TaskMetrics]) -> float:
    return float(np.mean([m.accuracy for m in metrics.values()]))


def _rounded(metrics: dict[str, TaskMetrics]) -> dict[str, dict[str, float]]:
    return {
        t: {"accuracy": round(m.accuracy, 4), "macro_f1": round(m.macro_f1, 4)}
        for t, m in metrics.items()
    }


def _tokenize(tokenizer: Any, examples: Sequence[Example], max_length: int) -> list[list[int]]:
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
    return [list(ids) for ids in encoded["input_ids"]]


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


def save_model(
    network: MultiTaskNetwork,
    labels: dict[str, list[str]],
    config: TrainConfig,
    out: Path,
    metrics: dict[str, TaskMetrics],
    history: list[dict[str, float]],
    train_examples: Sequence[Example],
    *,
    start: Start | None = None,
    lexical: LexicalHead | None = None,
    network_metrics: dict[str, TaskMetrics] | None = None,
) -> ModelSpec:
    """Write adapter (or fp16 backbone), heads, spec and model card to ``out``."""
    from finsentry.training.card import write_model_card

    out.mkdir(parents=True, exist_ok=True)
    reference = start.backbone if start else _backbone_reference(config.base)
    inherited = start.changed if start else {}
    adapter: str | None = None
    weights: str | None = None
    backbone: Any = network.backbone
    if config.lora_r > 0:
        backbone.save_pretrained(str(out / ADAPTER_DIR))
        _portable_adapter(out / ADAPTER_DIR, reference)
        adapter = ADAPTER_DIR
        # a warm start's own fine-tuned tensors sit under the adapter, frozen: as they were
        keep = dict(inherited)
    else:
        trained = {n for n, p in backbone.named_parameters() if p.requires_grad}
        keep = {k: v for k, v in backbone.state_dict().items() if k in trained or k in inherited}
    if keep:
        state = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in keep.items()}
        save_file(state, str(out / BACKBONE_WEIGHTS_FILE))
        weights = BACKBONE_WEIGHTS_FILE
    network.save_heads(out)
    cfg = asdict(config)
    cfg["learning_rate"] = config.learning_rate
    spec = ModelSpec(
        name=config.name,
        version=config.version,
        backbone=reference,
        heads=labels,
        max_length=config.max_length,
        adapter=adapter,
        backbone_weights=weights,
        lexical=lexical.save(out) if lexical else None,
        extra={
            "training": cfg,
            "valid_metrics": _rounded(metrics),
            "train_counts": describe(train_examples),
            **({"started_from": start.from_model} if start and start.from_model else {}),
            **({"network_valid_metrics": _rounded(network_metrics)} if network_metrics else {}),
        },
    )
    spec.write(out)
    write_model_card(out, spec, config, metrics, history, describe(train_examples))
    return spec


def _portable_adapter(directory: Path, backbone: str) -> None:
    """Record the backbone reference (not a local path) and drop peft's boilerplate README."""
    config_path = directory / "adapter_config.json"
    data = json.loads(config_path.read_text(encoding="utf-8"))
    data["base_model_name_or_path"] = backbone
    config_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (directory / "README.md").unlink(missing_ok=True)
