"""Writing a trained model directory: the LoRA adapter or the fine-tuned backbone tensors (fp16),
the heads, the lexical head, the spec with the training record, and the model card."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from finsentry.scoring.lexical import LexicalHead
from finsentry.scoring.modeldir import ADAPTER_DIR, BACKBONE_WEIGHTS_FILE, ModelSpec
from finsentry.scoring.network import MultiTaskNetwork
from finsentry.training.card import write_model_card
from finsentry.training.config import TrainConfig
from finsentry.training.data import Example, describe
from finsentry.training.metrics import TaskMetrics
from finsentry.training.start import Start, backbone_reference


def _rounded(metrics: dict[str, TaskMetrics]) -> dict[str, dict[str, float]]:
    return {
        t: {"accuracy": round(m.accuracy, 4), "macro_f1": round(m.macro_f1, 4)}
        for t, m in metrics.items()
    }


def _save_backbone(
    network: MultiTaskNetwork, config: TrainConfig, out: Path, reference: str, start: Start | None
) -> tuple[str | None, str | None]:
    """The LoRA adapter, and the backbone tensors that differ from the pretrained ``reference``
    (trained here or by the start model) in fp16; the file names written, or None."""
    inherited = start.changed if start else {}
    adapter: str | None = None
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
    if not keep:
        return adapter, None
    state = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in keep.items()}
    save_file(state, str(out / BACKBONE_WEIGHTS_FILE))
    return adapter, BACKBONE_WEIGHTS_FILE


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
    out.mkdir(parents=True, exist_ok=True)
    reference = start.backbone if start else backbone_reference(config.base)
    adapter, weights = _save_backbone(network, config, out, reference, start)
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
