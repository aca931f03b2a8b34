"""Scoring many labelled texts (evaluate, calibrate) in chunks, with a progress bar."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from finsentry.schema import Target, TextScore
from finsentry.scoring.engine import Scorer
from finsentry.training.data import Example

__all__ = ["CHUNK", "by_text", "probabilities", "scores"]

CHUNK = 512  # texts scored between two updates of the progress bar


def probabilities(
    scorer: Scorer,
    texts: Sequence[str],
    targets: Sequence[Sequence[Target]] | None = None,
    *,
    calibrated: bool = True,
) -> dict[str, np.ndarray]:
    """:meth:`Scorer.probabilities` in chunks of :data:`CHUNK` texts, with a progress bar on
    stderr when there is more than one chunk. The same figures as in one call: the scorer's
    results do not depend on how texts are batched."""
    parts: dict[str, list[np.ndarray]] = {}
    with tqdm(
        total=len(texts), unit=" texts", desc="score", disable=len(texts) <= CHUNK, leave=False
    ) as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            aimed = targets[start : start + CHUNK] if targets is not None else None
            for task, rows in scorer.probabilities(chunk, aimed, calibrated=calibrated).items():
                parts.setdefault(task, []).append(rows)
            bar.update(len(chunk))
    return {task: np.concatenate(rows) for task, rows in parts.items()}


def scores(
    scorer: Scorer, texts: Sequence[str], targets: Sequence[Sequence[Target]]
) -> list[TextScore]:
    """:meth:`Scorer.score` in chunks, with a progress bar as :func:`probabilities`."""
    out: list[TextScore] = []
    with tqdm(
        total=len(texts), unit=" texts", desc="score", disable=len(texts) <= CHUNK, leave=False
    ) as bar:
        for start in range(0, len(texts), CHUNK):
            out += scorer.score(texts[start : start + CHUNK], targets[start : start + CHUNK])
            bar.update(min(CHUNK, len(texts) - start))
    return out


def by_text(examples: Sequence[Example]) -> tuple[dict[str, list[Example]], list[list[Target]]]:
    """Entity examples grouped by their text (first-seen order), and each text's targets in the
    same order: what one scoring call per text takes."""
    grouped: dict[str, list[Example]] = {}
    for example in examples:
        grouped.setdefault(example.text, []).append(example)
    targets = [[Target(e.target, e.spans) for e in group] for group in grouped.values()]
    return grouped, targets
