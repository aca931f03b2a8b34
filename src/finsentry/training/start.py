"""Where training starts: the network built from a pretrained backbone or a finsentry model, and
what of it trains (LoRA adapters, the top layers, the embeddings or not)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from finsentry.scoring.modeldir import BACKBONE_ALIASES, ModelSpec, is_finsentry_model
from finsentry.scoring.network import MultiTaskNetwork, load_backbone, load_network
from finsentry.training.config import TrainConfig
from finsentry.training.toplayers import freeze_below, top_linear_names

log = logging.getLogger(__name__)


@dataclass
class Start:
    """Where training starts: a pretrained backbone, or a finsentry model (warm start)."""

    network: MultiTaskNetwork
    tokenizer: Any
    backbone: str  # the pretrained backbone reference recorded in the new model
    # the backbone tensors the start model changed (name -> copy), under their plain names
    changed: dict[str, torch.Tensor] = field(default_factory=dict)
    from_model: str | None = None  # model id of the finsentry model started from


def backbone_reference(base: str) -> str:
    return BACKBONE_ALIASES.get(base.lower(), base)


def _reuse_heads(
    network: MultiTaskNetwork,
    loaded: MultiTaskNetwork,
    spec: ModelSpec,
    labels: dict[str, list[str]],
) -> list[str]:
    """Copy the start model's head of every task with the same classes (rows in the new order)."""
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
    return reused


def _warm_start(path: Path, labels: dict[str, list[str]], dropout: float) -> Start:
    spec = ModelSpec.read(path)
    loaded, tokenizer = load_network(path, spec)
    network = MultiTaskNetwork(loaded.backbone, labels, dropout=dropout)
    reused = _reuse_heads(network, loaded, spec, labels)
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


def start_network(base: str, labels: dict[str, list[str]], dropout: float) -> Start:
    """Build the network to train from ``base``.

    ``base`` is a backbone (``minilm``, a HF directory or hub id) or a finsentry model directory.
    From a finsentry model, its fine-tuned backbone is the starting point and each task's head
    is reused when the task has the same classes (rows reordered to the new label order);
    otherwise that head starts fresh. The backbone tensors that model changed are remembered so
    the new model directory carries them even where this run does not train them.
    """
    path = Path(base).expanduser()
    if is_finsentry_model(path):
        return _warm_start(path, labels, dropout)
    backbone, tokenizer = load_backbone(backbone_reference(base))
    network = MultiTaskNetwork(backbone, labels, dropout=dropout)
    return Start(network, tokenizer, backbone_reference(base))


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


def choose_trainable(network: MultiTaskNetwork, config: TrainConfig) -> None:
    """Freeze what this run keeps: the embeddings (``freeze_embeddings``), the layers below the top
    ``train_layers``; with ``lora_r`` the backbone trains through LoRA adapters only."""
    k = config.train_layers
    if config.freeze_embeddings:
        for param in cast(Any, network.backbone).get_input_embeddings().parameters():
            param.requires_grad = False
    if config.lora_r > 0:
        _attach_lora(network, config, top_linear_names(network.backbone, k) if k else None)
    elif k:
        freeze_below(network.backbone, k)
