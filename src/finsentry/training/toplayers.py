"""Train only the top ``K`` transformer layers, with the frozen lower layers computed once.

When the lower layers are frozen their output never changes, so it is computed once per example
and cached; each training step then runs (forward and backward) through the top ``K`` layers
only. On a CPU this cuts a step of a 6-layer MiniLM with ``K=2`` to about a third. The top layers
are the backbone's own layer modules (shared, not copied), so LoRA adapters attached to them, or
their fine-tuned weights, land in the backbone that is saved.

Works for BERT-style encoders (``embeddings`` + ``encoder.layer``: BERT, MiniLM, RoBERTa ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn
from transformers import AutoModel

from finsentry.scoring.batching import plan_batches
from finsentry.scoring.network import ENTITY_TASK, mean_pool, target_features


class _Passthrough(nn.Module):
    """Stands in for the embeddings: the cached hidden states come in as ``inputs_embeds``."""

    def forward(self, inputs_embeds: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        assert inputs_embeds is not None
        return inputs_embeds


def encoder_layers(backbone: nn.Module) -> nn.ModuleList:
    base: Any = (
        cast(Any, backbone).get_base_model() if hasattr(backbone, "get_base_model") else backbone
    )
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"{type(base).__name__} has no encoder.layer list: train all layers (--train-layers 0)"
        )
    return layers


def top_linear_names(backbone: nn.Module, k: int) -> list[str]:
    """Full names of the linear layers inside the top ``k`` layers (LoRA targets)."""
    layers = encoder_layers(backbone)
    chosen = {id(m) for layer in list(layers)[-k:] for m in layer.modules()}
    return [
        name
        for name, module in backbone.named_modules()
        if isinstance(module, nn.Linear) and id(module) in chosen
    ]


def build_top_model(backbone: nn.Module, k: int) -> nn.Module:
    """A model of the backbone's class whose layers are the backbone's top ``k`` (shared)."""
    base: Any = (
        cast(Any, backbone).get_base_model() if hasattr(backbone, "get_base_model") else backbone
    )
    layers = encoder_layers(base)
    if not 0 < k <= len(layers):
        raise ValueError(f"--train-layers must be between 1 and {len(layers)}")
    config = base.config.__class__.from_dict(base.config.to_dict())
    config.num_hidden_layers = k
    try:
        top: Any = AutoModel.from_config(config, attn_implementation="sdpa")  # type: ignore[no-untyped-call]
    except (ValueError, ImportError):
        top = AutoModel.from_config(config)  # type: ignore[no-untyped-call]
    top.encoder.layer = nn.ModuleList(list(layers)[-k:])
    top.embeddings = _Passthrough()
    if getattr(top, "pooler", None) is not None:
        top.pooler = None
    return cast(nn.Module, top)


def freeze_below(backbone: nn.Module, k: int) -> None:
    """Only parameters of the top ``k`` layers stay trainable (for a full fine-tune of them)."""
    keep = {id(p) for layer in list(encoder_layers(backbone))[-k:] for p in layer.parameters()}
    for param in backbone.parameters():
        param.requires_grad = id(param) in keep


@torch.inference_mode()
def cache_lower_states(
    backbone: nn.Module,
    rows: Sequence[Sequence[int]],
    k: int,
    pad_id: int,
    device: torch.device,
    token_budget: int = 4096,
) -> list[torch.Tensor]:
    """Hidden states entering the top ``k`` layers, one ``(length, hidden)`` fp16 tensor per row."""
    was_training = backbone.training
    backbone.eval()
    layers = encoder_layers(backbone)
    index = len(layers) - k  # hidden_states[i] is the input of layer i
    out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
    for batch in plan_batches([len(r) for r in rows], token_budget):
        width = max(len(rows[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, i in enumerate(batch):
            ids[r, : len(rows[i])] = torch.as_tensor(rows[i])
            mask[r, : len(rows[i])] = 1
        hidden = backbone(
            input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True
        ).hidden_states[index]
        for r, i in enumerate(batch):
            out[i] = hidden[r, : len(rows[i])].to(torch.float16).cpu().clone()
    backbone.train(was_training)
    return out


def collate_states(
    states: Sequence[torch.Tensor], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(s.shape[0] for s in states)
    hidden = torch.zeros((len(states), width, states[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for r, s in enumerate(states):
        hidden[r, : s.shape[0]] = s.float()
        mask[r, : s.shape[0]] = 1
    return hidden.to(device), mask.to(device)


class TopNetwork(nn.Module):
    """Cached lower states -> top layers -> mean pooling -> dropout -> heads."""

    def __init__(self, top: nn.Module, heads: nn.ModuleDict, dropout: nn.Module):
        super().__init__()
        self.top = top
        self.heads = heads
        self.dropout = dropout

    def forward(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        target_rows: torch.Tensor | None = None,
        target_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        out = self.top(inputs_embeds=hidden, attention_mask=attention_mask).last_hidden_state
        pooled = mean_pool(out, attention_mask)
        logits = {
            task: head(self.dropout(pooled))
            for task, head in self.heads.items()
            if task != ENTITY_TASK
        }
        if ENTITY_TASK in self.heads and target_rows is not None and target_mask is not None:
            features = target_features(out, pooled, target_rows, target_mask)
            logits[ENTITY_TASK] = self.heads[ENTITY_TASK](self.dropout(features))
        return logits
