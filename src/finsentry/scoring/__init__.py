"""Scoring: turn texts into sentiment probabilities and a topic with a transformer.

``load_scorer(settings)`` builds a :class:`Scorer` (once per process; nothing loads at import).
``Scorer.score(texts)`` returns one :class:`finsentry.schema.TextScore` per text, in order, from one
backbone forward per token-budget micro-batch that serves both heads. See ``modeldir`` for the
model directory format and where the default model is found.
"""

from __future__ import annotations

from finsentry.scoring.batching import StreamBatcher, plan_batches
from finsentry.scoring.engine import EmptyTextError, Scorer, ScoringStats
from finsentry.scoring.loader import load_scorer
from finsentry.scoring.modeldir import ModelNotFoundError, ModelSpec, default_model_dir

__all__ = [
    "EmptyTextError",
    "ModelNotFoundError",
    "ModelSpec",
    "Scorer",
    "ScoringStats",
    "StreamBatcher",
    "default_model_dir",
    "load_scorer",
    "plan_batches",
]
