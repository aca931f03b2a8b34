"""Calibrated probabilities: how far a model's confidence matches how often it is right, and the
temperature per head that makes it match.

A fine-tuned classifier is usually overconfident: finsentry-minilm 2.2 gave its chosen class 0.97
to 0.98 on average where it was right 87-88 % of the time. Dividing a head's logits by one
temperature ``T`` keeps every label (the ranking does not change) and moves the probabilities, the
scores ``P(positive) - P(negative)`` and the windows' mean tone towards what the data shows.

``T`` minimises the negative log-likelihood of labelled examples the model was not trained on
(temperature scaling, Guo et al. 2017). The likelihood is convex in ``1 / T``, so a golden-section
search over that finds the one minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from finsentry.scoring.engine import Scorer
from finsentry.scoring.lexical import log_softmax
from finsentry.scoring.network import ENTITY_TASK
from finsentry.training.chunks import by_text, probabilities
from finsentry.training.data import DataError, Example

__all__ = [
    "BINS",
    "Calibration",
    "HeadFit",
    "calibration_metrics",
    "calibration_record",
    "fit_heads",
    "fit_temperature",
    "head_scores",
    "temperature_fit",
]

BINS = 15  # equal-width confidence bins of the expected calibration error
_LOWEST, _HIGHEST = 0.05, 50.0  # temperatures searched
_FLOOR = 1e-300  # a probability of 0 (float underflow) counts as this in a log
_SHOWN = 1e-6  # probabilities are given to 6 decimals: a 0 there counts as this in the NLL


@dataclass(frozen=True)
class Calibration:
    """How well probabilities match outcomes over ``count`` examples."""

    count: int
    ece: float  # expected calibration error: |accuracy - confidence| over BINS, weighted
    nll: float  # mean negative log-likelihood of the true class (its probability >= 1e-6)
    brier: float  # mean squared distance of the probabilities from the one-hot truth
    confidence: float  # mean probability of the chosen class
    accuracy: float
    # the reliability diagram: (bin's lower edge, examples, mean confidence, accuracy) per bin
    bins: tuple[tuple[float, int, float, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "ece": round(self.ece, 4),
            "nll": round(self.nll, 4),
            "brier": round(self.brier, 4),
            "mean_confidence": round(self.confidence, 4),
            "bins": [
                {"from": round(low, 4), "count": n, "confidence": round(c, 4), "accuracy": round(a, 4)}
                for low, n, c, a in self.bins
            ],
        }

    def markdown(self) -> list[str]:
        """The figures and the reliability diagram as a markdown table."""
        lines = [f"Calibration: {self.line()}", ""]
        lines += ["| confidence | examples | mean confidence | accuracy |", "| --- | ---: | ---: | ---: |"]
        lines += [
            f"| {low:.2f}-{low + 1 / BINS:.2f} | {n} | {c:.3f} | {a:.3f} |"
            for low, n, c, a in self.bins
        ]
        return lines

    def line(self) -> str:
        return (
            f"ECE {self.ece:.4f}  NLL {self.nll:.4f}  Brier {self.brier:.4f}  "
            f"mean confidence {self.confidence:.3f} for accuracy {self.accuracy:.3f}"
        )


def calibration_metrics(probs: np.ndarray, truth: Sequence[int] | np.ndarray) -> Calibration:
    """Calibration of ``probs`` (rows of class probabilities) against the true class indices."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(truth, dtype=np.int64)
    if p.ndim != 2 or len(p) != len(y) or not len(y):
        raise ValueError("one row of probabilities per true label, and at least one")
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    bins = np.minimum((confidence * BINS).astype(np.int64), BINS - 1)
    ece = 0.0
    diagram = []
    for b in np.unique(bins):
        inside = bins == b
        mean_conf, accuracy = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += inside.mean() * abs(accuracy - mean_conf)
        diagram.append((int(b) / BINS, int(inside.sum()), mean_conf, accuracy))
    truth_p = np.maximum(p[np.arange(len(y)), y], _SHOWN)
    onehot = np.eye(p.shape[1])[y]
    return Calibration(
        count=len(y),
        ece=float(ece),
        nll=float(-np.log(truth_p).mean()),
        brier=float(((p - onehot) ** 2).sum(axis=1).mean()),
        confidence=float(confidence.mean()),
        accuracy=float(correct.mean()),
        bins=tuple(diagram),
    )


def _nll(log_probs: np.ndarray, truth: np.ndarray, inverse_t: float) -> float:
    scaled = log_softmax(log_probs * inverse_t)
    return float(-scaled[np.arange(len(truth)), truth].mean())


def fit_temperature(log_probs: np.ndarray, truth: Sequence[int] | np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of ``truth`` under
    ``softmax(log_probs / T)``, searched in [0.05, 50]."""
    values = np.asarray(log_probs, dtype=np.float64)
    y = np.asarray(truth, dtype=np.int64)
    if not len(y):
        raise ValueError("no examples to fit a temperature on")
    low, high = 1.0 / _HIGHEST, 1.0 / _LOWEST  # over 1 / T, where the likelihood is convex
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = _nll(values, y, a), _nll(values, y, b)
    for _ in range(80):  # the bracket shrinks by 0.618 a step: far below any rounding shown
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = _nll(values, y, a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = _nll(values, y, b)
    return 1.0 / ((low + high) / 2.0)


def head_scores(
    scorer: Scorer, examples: Sequence[Example]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per task, the model's log-probabilities before any temperature and the true classes.
    Entity examples whose text does not name the company are left out (they take the headline's
    sentiment, calibrated with the sentiment head)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for task in sorted({e.task for e in examples}):
        subset = [e for e in examples if e.task == task]
        if task not in scorer.labels:
            raise DataError(f"model {scorer.model_id} has no {task} head")
        index = {name: i for i, name in enumerate(scorer.labels[task])}
        unknown = sorted({e.label for e in subset} - set(index))
        if unknown:
            raise DataError(f"{task} labels {unknown[:5]} are not classes of {scorer.model_id}")
        if task == ENTITY_TASK:
            probs, subset = _target_probs(scorer, subset)
        else:
            probs = probabilities(scorer, [e.text for e in subset], calibrated=False)[task]
        if len(subset):
            logs = np.log(np.maximum(probs, _FLOOR))
            out[task] = logs, np.array([index[e.label] for e in subset], dtype=np.int64)
    return out


def _target_probs(scorer: Scorer, examples: list[Example]) -> tuple[np.ndarray, list[Example]]:
    grouped, targets = by_text(examples)
    rows = probabilities(scorer, list(grouped), targets, calibrated=False).get(ENTITY_TASK)
    if rows is None:
        return np.zeros((0, 3)), []
    flat = [e for group in grouped.values() for e in group]
    named = ~np.isnan(rows).any(axis=1)
    return rows[named], [e for e, keep in zip(flat, named, strict=True) if keep]


@dataclass(frozen=True)
class HeadFit:
    """One head's fitted temperature, and its calibration before and after on the examples."""

    temperature: float
    before: Calibration
    after: Calibration

    def to_json(self) -> dict[str, Any]:
        return {
            "temperature": round(self.temperature, 4),
            "examples": self.before.count,
            "before": _summary(self.before),
            "after": _summary(self.after),
        }


def _summary(figures: Calibration) -> dict[str, Any]:
    """The figures without the diagram (what a model's spec keeps)."""
    out = figures.to_json()
    del out["bins"]
    return out


def temperature_fit(log_probs: np.ndarray, truth: np.ndarray) -> HeadFit:
    """The temperature of one head, with its calibration before and after on these examples."""
    temperature = fit_temperature(log_probs, truth)
    before = calibration_metrics(np.exp(log_softmax(log_probs)), truth)
    after = calibration_metrics(np.exp(log_softmax(log_probs / temperature)), truth)
    return HeadFit(temperature, before, after)


def fit_heads(
    scorer: Scorer, examples: Sequence[Example], min_examples: int
) -> tuple[dict[str, HeadFit], dict[str, int]]:
    """(fits of the heads with at least ``min_examples`` examples, example counts of the rest)."""
    fits: dict[str, HeadFit] = {}
    skipped: dict[str, int] = {}
    for head, (log_probs, truth) in head_scores(scorer, examples).items():
        if len(truth) < min_examples:
            skipped[head] = len(truth)
        else:
            fits[head] = temperature_fit(log_probs, truth)
    return fits, skipped


def calibration_record(
    fits: dict[str, HeadFit], data: Sequence[str], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """What ``finsentry_model.json`` keeps under ``calibration``: the heads fitted now, over
    those fitted before (kept), the data's file names and when."""
    tasks = dict((previous or {}).get("tasks", {}))
    tasks.update({head: fit.to_json() for head, fit in fits.items()})
    return {
        "method": "temperature",
        "tasks": tasks,
        "data": list(data),
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
