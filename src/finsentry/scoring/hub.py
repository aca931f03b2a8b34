"""A plain Hugging Face sentiment classifier (hub id or directory) as a finsentry network (torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finsentry.scoring.modeldir import SENTIMENT_SYNONYMS


class SequenceClassifierNetwork(nn.Module):
    """A hub sequence classifier presented as a finsentry network with one ``sentiment`` head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"sentiment": self.model(input_ids=input_ids, attention_mask=attention_mask).logits}


def hub_classifier(reference: str | Path) -> tuple[nn.Module, Any, dict[str, list[str]], str]:
    """Network, tokenizer, labels and model id of a hub sentiment classifier."""
    local = isinstance(reference, Path)
    # a hub id is the user's explicit FINSENTRY_MODEL (pin it by downloading the revision to a
    # directory); remote code is never trusted (trust_remote_code stays False)
    tokenizer = AutoTokenizer.from_pretrained(str(reference), local_files_only=local)  # nosec B615
    model = AutoModelForSequenceClassification.from_pretrained(  # nosec B615
        str(reference), local_files_only=local
    )
    id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
    names = [SENTIMENT_SYNONYMS.get(id2label[i].strip().lower(), "") for i in sorted(id2label)]
    if sorted(names) != ["negative", "neutral", "positive"]:
        raise ValueError(
            f"{reference} is not a finsentry model and its labels {list(id2label.values())} are "
            "not negative/neutral/positive: fine-tune it with `finsentry train --base` instead"
        )
    name = reference.name if isinstance(reference, Path) else reference
    return SequenceClassifierNetwork(model), tokenizer, {"sentiment": names}, f"{name}@hub"
