"""The model card written beside every trained model: data, licence, hyper-parameters, metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from finsentry.scoring.modeldir import CARD_FILE, ModelSpec
from finsentry.training.config import TrainConfig
from finsentry.training.metrics import TaskMetrics, md_cell

HYPER_PARAMETERS = (
    "base",
    "train_layers",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_targets",
    "epochs",
    "learning_rate",
    "head_lr",
    "batch_size",
    "max_length",
    "warmup",
    "weight_decay",
    "dropout",
    "lexical_weight",
    "lexical_c",
    "patience",
    "eval_every",
    "seed",
)


def _summary(spec: ModelSpec, config: TrainConfig) -> list[str]:
    variant = (
        f"LoRA adapters (r={config.lora_r}) merged into the backbone at load time"
        if config.lora_r > 0
        else "full fine-tune of the backbone (fp16 weights in backbone.safetensors)"
    )
    lines = [
        f"# {spec.name} {spec.version}",
        "",
        f"Multi-task text classifier for finsentry: backbone `{spec.backbone}`, mean pooling, "
        f"one linear head per task ({', '.join(spec.heads)}); {variant}.",
    ]
    if spec.lexical:
        lines.append(
            f"A lexical head (word 1-{spec.lexical.get('max_n', 2)}-gram TF-IDF, logistic "
            f"regression, C={spec.lexical.get('c')}) is mixed in: probabilities are the "
            f"weighted geometric mean, lexical weight {spec.lexical.get('weight')}."
        )
    lines.append(f"Written by `finsentry train` on {datetime.now(UTC).date().isoformat()}.")
    return lines


def _training_data(config: TrainConfig, counts: dict[str, dict[str, int]]) -> list[str]:
    lines = [
        "",
        "## Training data",
        "",
        f"Sources: {', '.join(f'`{s}`' for s in config.data_sources) or 'not recorded'}.",
        f"Licence of the data: {config.data_licence}.",
        "",
        "| task | class | training examples |",
        "| --- | --- | ---: |",
    ]
    for task, by_class in counts.items():
        lines += [f"| {task} | {md_cell(label)} | {n} |" for label, n in by_class.items()]
    return lines


def _hyper_parameters(config: TrainConfig) -> list[str]:
    lines = ["", "## Hyper-parameters", "", "| name | value |", "| --- | --- |"]
    for name in HYPER_PARAMETERS:
        value = config.learning_rate if name == "learning_rate" else getattr(config, name)
        if name == "lora_alpha" and value is None:
            value = 2 * config.lora_r
        if name == "lora_targets" and config.train_layers:
            value = f"every linear layer of the top {config.train_layers} layers"
        lines.append(f"| {name} | {value} |")
    return lines


def _validation(spec: ModelSpec, metrics: dict[str, TaskMetrics]) -> list[str]:
    lines = ["", "## Validation metrics", ""]
    network_only = spec.extra.get("network_valid_metrics")
    if network_only:
        lines += [
            "| task | network alone: accuracy | with the lexical head: accuracy |",
            "| --- | ---: | ---: |",
        ]
        lines += [
            f"| {task} | {network_only[task]['accuracy']:.4f} | {m.accuracy:.4f} |"
            for task, m in metrics.items()
            if task in network_only
        ]
        lines.append("")
    return lines + [m.to_markdown() for m in metrics.values()]


def _history(history: Sequence[dict[str, float]]) -> list[str]:
    if not history:
        return []
    keys = [k for k in history[0] if k != "step"]
    lines = ["## Training history", "", "| step | " + " | ".join(keys) + " |"]
    lines.append("| ---: |" + " ---: |" * len(keys))
    for record in history:
        values = " | ".join(f"{record.get(k, float('nan')):.4f}" for k in keys)
        lines.append(f"| {int(record['step'])} | {values} |")
    lines.append("")
    return lines


def model_card(
    spec: ModelSpec,
    config: TrainConfig,
    metrics: dict[str, TaskMetrics],
    history: Sequence[dict[str, float]],
    counts: dict[str, dict[str, int]],
) -> str:
    """The card's Markdown: what the model is, its data, hyper-parameters, metrics and history."""
    lines = [
        *_summary(spec, config),
        *_training_data(config, counts),
        *_hyper_parameters(config),
        *_validation(spec, metrics),
        *_history(history),
    ]
    return "\n".join(lines)


def write_model_card(
    out: Path,
    spec: ModelSpec,
    config: TrainConfig,
    metrics: dict[str, TaskMetrics],
    history: Sequence[dict[str, float]],
    counts: dict[str, dict[str, int]],
) -> Path:
    path = out / CARD_FILE
    path.write_text(model_card(spec, config, metrics, history, counts), encoding="utf-8")
    return path
