"""The lexical head after training: fitted on the training texts, mixed into the network's
probabilities, and kept only when it does not lower validation accuracy."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from finsentry.scoring.engine import Scorer
from finsentry.scoring.lexical import LexicalHead, fit_lexical
from finsentry.scoring.network import ENTITY_TASK
from finsentry.training.config import TrainConfig
from finsentry.training.data import Example
from finsentry.training.loop import mean_accuracy
from finsentry.training.metrics import TaskMetrics
from finsentry.training.report import evaluate_with_scorer

log = logging.getLogger(__name__)


def fit_lexical_head(
    examples: Sequence[Example], labels: dict[str, list[str]], weight: float, c: float
) -> LexicalHead:
    """The lexical head of :mod:`finsentry.scoring.lexical`, fitted on ``examples``.

    Only text-level tasks: the entity head's sentiment depends on where the company is named,
    which word counts cannot see."""
    examples = [e for e in examples if e.task != ENTITY_TASK]
    labels = {task: names for task, names in labels.items() if task != ENTITY_TASK}
    return fit_lexical(
        [e.text for e in examples],
        [e.task for e in examples],
        [e.label for e in examples],
        {task: names for task, names in labels.items() if any(e.task == task for e in examples)},
        weight=weight,
        c=c,
    )


@dataclass
class Blend:
    """The validation metrics the model is kept with; with a lexical head, also the network's
    own metrics (recorded in the model beside the mixed ones)."""

    metrics: dict[str, TaskMetrics]
    lexical: LexicalHead | None = None
    network_metrics: dict[str, TaskMetrics] | None = None


def add_lexical_head(
    evaluator: Scorer,
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    labels: dict[str, list[str]],
    config: TrainConfig,
    network_metrics: dict[str, TaskMetrics],
) -> Blend:
    """Fit the lexical head (``lexical_weight`` > 0) into ``evaluator`` and keep it if it helps."""
    if not config.lexical_weight > 0:
        return Blend(network_metrics)
    log.info("fitting the lexical head (weight %.2f)", config.lexical_weight)
    lexical = fit_lexical_head(train_examples, labels, config.lexical_weight, config.lexical_c)
    evaluator.lexical = lexical
    metrics = evaluate_with_scorer(evaluator, valid_examples)
    for task, m in metrics.items():
        log.info(
            "%s accuracy: network %.4f, with the lexical head %.4f",
            task,
            network_metrics[task].accuracy,
            m.accuracy,
        )
    if mean_accuracy(metrics) < mean_accuracy(network_metrics):
        log.warning(
            "the lexical head lowers validation accuracy (too little data?): not kept; "
            "see --lexical-weight"
        )
        evaluator.lexical = None
        return Blend(network_metrics)
    return Blend(metrics, lexical, network_metrics)
