"""The hyper-parameters of a training run and what the run gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from finsentry.scoring.modeldir import ModelSpec
from finsentry.training.metrics import TaskMetrics


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
    swap_names: float = 0.0  # share of entity-labelled headlines added again with other names
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
    """The model directory written, its spec, the validation metrics kept and every evaluation."""

    out: Path
    spec: ModelSpec
    metrics: dict[str, TaskMetrics]
    history: list[dict[str, float]]
    seconds: float
