"""Classification metrics (accuracy, macro-F1, per-class precision/recall, confusion) and reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class TaskMetrics:
    """What ``finsentry evaluate`` reports for one task."""

    task: str
    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class: tuple[ClassMetrics, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class
    count: int
    # named subsets measured apart (entity: the headlines whose companies differ in tone):
    # name -> (accuracy, examples)
    subsets: tuple[tuple[str, float, int], ...] = ()
    calibration: Any = None  # a training.calibration.Calibration of the probabilities, when known

    def with_subset(self, name: str, correct: int, count: int) -> TaskMetrics:
        accuracy = correct / count if count else 0.0
        return replace(self, subsets=(*self.subsets, (name, accuracy, count)))

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "count": self.count,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "labels": list(self.labels),
            "per_class": {
                c.label: {
                    "precision": round(c.precision, 4),
                    "recall": round(c.recall, 4),
                    "f1": round(c.f1, 4),
                    "support": c.support,
                }
                for c in self.per_class
            },
            "confusion": [list(row) for row in self.confusion],
            **(
                {"subsets": {n: {"accuracy": round(a, 4), "count": c} for n, a, c in self.subsets}}
                if self.subsets
                else {}
            ),
            **({"calibration": self.calibration.to_json()} if self.calibration else {}),
        }

    def to_markdown(self) -> str:
        lines = [
            f"### {self.task}: accuracy {self.accuracy:.4f}, macro-F1 {self.macro_f1:.4f} "
            f"({self.count} examples)",
            "",
            "| class | precision | recall | F1 | support |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {md_cell(c.label)} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.support} |"
            for c in self.per_class
        ]
        lines += [f"\n{md_cell(n)}: accuracy {a:.4f} ({c} examples)" for n, a, c in self.subsets]
        if self.calibration:
            lines += ["", *self.calibration.markdown()]
        lines += ["", "Confusion matrix (rows: true class, columns: predicted, same order):", ""]
        lines.append(
            "| true \\ predicted | " + " | ".join(str(i) for i in range(len(self.labels))) + " |"
        )
        lines.append("| --- |" + " ---: |" * len(self.labels))
        for i, row in enumerate(self.confusion):
            name = f"{i} {md_cell(self.labels[i])}"
            lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines) + "\n"


def md_cell(text: str) -> str:
    """Text safe inside a markdown table cell (topic names contain '|')."""
    return text.replace("|", "\\|")


def classification_metrics(
    task: str, labels: Sequence[str], truth: Sequence[int], predicted: Sequence[int]
) -> TaskMetrics:
    """Metrics over class indices into ``labels``. Classes absent from both give 0 scores."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(
        confusion, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1
    )
    true_pos = np.diag(confusion).astype(np.float64)
    predicted_n = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)
    precision = np.divide(true_pos, predicted_n, out=np.zeros(k), where=predicted_n > 0)
    recall = np.divide(true_pos, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    present = support > 0
    total = int(confusion.sum())
    return TaskMetrics(
        task=task,
        labels=tuple(labels),
        accuracy=float(true_pos.sum() / total) if total else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        per_class=tuple(
            ClassMetrics(
                labels[i], float(precision[i]), float(recall[i]), float(f1[i]), int(support[i])
            )
            for i in range(k)
        ),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        count=total,
    )
