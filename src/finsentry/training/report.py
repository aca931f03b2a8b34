"""Evaluate a scorer on labelled examples and write the JSON and markdown reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.schema import SENTIMENT_LABELS
from finsentry.scoring.engine import Scorer
from finsentry.scoring.network import ENTITY_TASK
from finsentry.training.calibration import calibration_metrics
from finsentry.training.chunks import by_text, probabilities, scores
from finsentry.training.data import DataError, Example
from finsentry.training.metrics import TaskMetrics, classification_metrics

MIXED_SUBSET = "companies of different tone in one headline"


def evaluate_with_scorer(scorer: Scorer, examples: Sequence[Example]) -> dict[str, TaskMetrics]:
    """Metrics per task for the examples, through the same code path as production scoring."""
    results: dict[str, TaskMetrics] = {}
    for task in sorted({e.task for e in examples}):
        if task == ENTITY_TASK:
            results[task] = _evaluate_targets(scorer, [e for e in examples if e.task == task])
            continue
        if task not in scorer.labels:
            raise DataError(f"model {scorer.model_id} has no {task} head")
        names = scorer.labels[task]
        index = {name: i for i, name in enumerate(names)}
        subset = [e for e in examples if e.task == task]
        unknown = sorted({e.label for e in subset} - set(index))
        if unknown:
            raise DataError(f"{task} labels {unknown[:5]} are not classes of {scorer.model_id}")
        probs = probabilities(scorer, [e.text for e in subset])[task]
        predicted = probs.argmax(axis=1).tolist()
        truth = [index[e.label] for e in subset]
        metrics = classification_metrics(task, names, truth, predicted)
        metrics = replace(metrics, calibration=calibration_metrics(probs, truth))
        if task == "sentiment":
            metrics = _among_present(metrics, names, truth, probs)
        results[task] = metrics
    return results


def _among_present(
    metrics: TaskMetrics, names: Sequence[str], truth: Sequence[int], probs: np.ndarray
) -> TaskMetrics:
    """With data labelled in fewer classes than the model has (a set of positive and negative
    headlines only), also the accuracy of the most likely class among those the data uses: what
    such sets are usually scored by. Reported beside the plain figure, never instead of it."""
    present = sorted(set(truth))
    if len(present) < 2 or len(present) == len(names):
        return metrics
    among = np.asarray(present)[probs[:, present].argmax(axis=1)]
    correct = int(np.sum(among == np.asarray(truth)))
    name = f"most likely among {', '.join(names[i] for i in present)}"
    return metrics.with_subset(name, correct, len(truth))


def _evaluate_targets(scorer: Scorer, examples: Sequence[Example]) -> TaskMetrics:
    """Entity-level metrics: each text scored once, towards all of its targets.

    A model without an entity head is measured with its headline sentiment for every target (the
    pipeline's fallback), which makes the figure comparable across models.
    """
    names = list(SENTIMENT_LABELS)
    index = {name: i for i, name in enumerate(names)}
    grouped, targets = by_text(examples)
    texts = list(grouped)
    truth: list[int] = []
    predicted: list[int] = []
    mixed = [0, 0]  # correct, examples: headlines whose companies differ in tone
    probs: list[tuple[float, ...]] = []
    for text, score in zip(texts, scores(scorer, texts, targets), strict=True):
        differ = len({e.label for e in grouped[text]}) > 1
        for example, towards in zip(grouped[text], score.targets, strict=True):
            truth.append(index[example.label])
            predicted.append(index[towards.sentiment])
            probs.append(tuple(getattr(towards, name) for name in names))
            if differ:
                mixed[0] += truth[-1] == predicted[-1]
                mixed[1] += 1
    metrics = classification_metrics(ENTITY_TASK, names, truth, predicted)
    metrics = replace(metrics, calibration=calibration_metrics(np.asarray(probs), truth))
    return _among_present(
        metrics.with_subset(MIXED_SUBSET, *mixed), names, truth, np.asarray(probs)
    )


def report_json(model_id: str, data: str, metrics: dict[str, TaskMetrics]) -> dict[str, Any]:
    return {
        "model": model_id,
        "data": data,
        "evaluated_at": datetime.now(UTC).isoformat(),
        "tasks": {task: m.to_json() for task, m in metrics.items()},
    }


def report_markdown(model_id: str, data: str, metrics: dict[str, TaskMetrics]) -> str:
    parts = [f"# Evaluation of {model_id}", "", f"Data: `{data}`", ""]
    parts += [m.to_markdown() for m in metrics.values()]
    return "\n".join(parts)


def write_reports(
    prefix: Path, model_id: str, data: str, metrics: dict[str, TaskMetrics]
) -> tuple[Path, Path]:
    """Write ``<prefix>.json`` and ``<prefix>.md``; returns both paths."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_name(prefix.name + ".json")
    md_path = prefix.with_name(prefix.name + ".md")
    json_path.write_text(
        json.dumps(report_json(model_id, data, metrics), indent=2) + "\n", encoding="utf-8"
    )
    md_path.write_text(report_markdown(model_id, data, metrics), encoding="utf-8")
    return json_path, md_path
