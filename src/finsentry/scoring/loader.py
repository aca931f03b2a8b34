"""Build a :class:`Scorer` from settings: a finsentry model directory, or any HF classifier."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finsentry.config import Settings
from finsentry.scoring.device import configure_cpu_threads, select_device
from finsentry.scoring.engine import Scorer
from finsentry.scoring.modeldir import (
    SENTIMENT_SYNONYMS,
    ModelSpec,
    is_finsentry_model,
    resolve_model,
)
from finsentry.scoring.network import load_lexical, load_network

log = logging.getLogger(__name__)


class SequenceClassifierNetwork(nn.Module):
    """A hub sequence classifier presented as a finsentry network with one ``sentiment`` head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"sentiment": self.model(input_ids=input_ids, attention_mask=attention_mask).logits}


def _hub_classifier(reference: str | Path) -> tuple[nn.Module, object, dict[str, list[str]], str]:
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


def load_scorer(settings: Settings) -> Scorer:
    """Load the model that ``settings.model`` names onto ``settings.device``.

    Call once per process (it loads weights, so it takes a second or two); nothing is loaded at
    import time. A finsentry model directory gives both heads; a plain hub sentiment classifier
    gives sentiment and the topic ``unknown``.
    """
    device = select_device(settings.device)
    if device.type == "cpu":
        configure_cpu_threads(settings.cpu_threads)
    reference = resolve_model(settings.model)
    if isinstance(reference, Path) and is_finsentry_model(reference):
        spec = ModelSpec.read(reference)
        network, tokenizer = load_network(reference, spec)
        labels, model_id = dict(network.labels), spec.model_id
        lexical = load_lexical(reference, spec)
    else:
        hub_network, hub_tokenizer, labels, model_id = _hub_classifier(reference)
        network, tokenizer = hub_network, hub_tokenizer  # type: ignore[assignment]
        lexical = None
    inner = getattr(network, "backbone", None) or getattr(network, "model", None)
    positions = getattr(getattr(inner, "config", None), "max_position_embeddings", None)
    max_length = settings.max_length
    limit = getattr(tokenizer, "model_max_length", None)
    for cap in (positions, limit):
        if isinstance(cap, int) and 0 < cap < max_length:
            max_length = cap
    scorer = Scorer(
        network,
        tokenizer,  # type: ignore[arg-type]
        labels,
        model_id=model_id,
        device=device,
        token_budget=settings.token_budget,
        max_length=max_length,
        lexical=lexical,
    )
    log.info("loaded %s on %s (max_length %d)", model_id, device, max_length)
    return scorer
