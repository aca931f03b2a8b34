"""The Scorer: texts in, sentiment probabilities and a topic out, one forward per micro-batch.

The Scorer tokenizes, plans micro-batches, mixes in the lexical head and rounds; a backend (a
*runner*: :mod:`~finsentry.scoring.torch_backend` or :mod:`~finsentry.scoring.onnx_backend`) computes
the logits. Nothing here imports torch, so the light install (ONNX Runtime) scores with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np

from finsentry.schema import (
    SENTIMENT_LABELS,
    SentimentBasis,
    Span,
    Target,
    TargetSentiment,
    TextScore,
)
from finsentry.scoring.batching import plan_batches
from finsentry.scoring.lexical import LexicalHead, mixed_log_probs, softmax

if TYPE_CHECKING:
    import torch

UNKNOWN_TOPIC = "unknown"
ENTITY_TASK = "entity"
# Stored probabilities are rounded to this many decimals, here and only here (Scorer.score): the
# stored scores, windows and alerts are then the same for any batching, and on GPUs (where batched
# kernels differ from one another by ~1e-6) the same up to values on a rounding boundary.
PROBABILITY_DECIMALS = 6


class Runner(Protocol):
    """A backend: logits for token rows (see ``TorchRunner.run``)."""

    name: str
    multiple: int  # pad widths to a multiple of this
    max_rows: int | None  # rows per micro-batch at most (1: each text alone)

    def run(
        self,
        rows: Sequence[Sequence[int]],
        owners: Sequence[int],
        mentions: Sequence[Sequence[int]],
    ) -> tuple[dict[str, np.ndarray], int]: ...


class EmptyTextError(ValueError):
    """Texts that are empty (or only whitespace) cannot be scored; ``indices`` says which."""

    def __init__(self, indices: Sequence[int]):
        self.indices = tuple(indices)
        super().__init__(
            f"cannot score empty text at position(s) {list(self.indices)[:10]}: "
            "empty items must be dead-lettered before scoring (reason empty_text)"
        )


@dataclass
class ScoringStats:
    """Counters of what the scorer did, for benchmarks and health metrics."""

    texts: int = 0
    batches: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    seconds: float = 0.0

    @property
    def padding_share(self) -> float:
        return 1.0 - self.real_tokens / self.padded_tokens if self.padded_tokens else 0.0


class Scorer:
    """Score texts with a backend whose logits are ``{task: logits}``.

    ``network`` is a :class:`Runner` or a torch module (run by the torch backend on ``device``).
    The ``sentiment`` head's labels must be ``negative``, ``neutral`` and ``positive`` (any order);
    a model without a ``topic`` head reports the topic ``unknown`` with probability 0, one without a
    ``sentiment`` head reports neutral. On the CPU, with either backend, each text is computed
    alone: results are bit-for-bit the same however texts are batched; :meth:`score` rounds them
    to :data:`PROBABILITY_DECIMALS` decimals.

    With a ``lexical`` head (see :mod:`finsentry.scoring.lexical`) each task's probabilities are
    the weighted geometric mean of the network's and the lexical head's.

    Targets (:class:`~finsentry.schema.Target`: a name and the character spans where the text
    mentions it) are scored by the ``entity`` head from the same forward pass as their text, so
    they ride in the text's micro-batch and cost almost nothing extra. A target without a mention
    (no spans, or a mention cut off by ``max_length``), or a model without an entity head, gets the
    text's own sentiment, marked ``basis="headline"``.
    """

    def __init__(
        self,
        network: Runner | torch.nn.Module,
        tokenizer: Any,
        labels: dict[str, list[str]],
        *,
        model_id: str,
        device: torch.device | None = None,
        token_budget: int = 8192,
        max_length: int = 128,
        lexical: LexicalHead | None = None,
        temperatures: dict[str, float] | None = None,
    ):
        if not {"sentiment", "topic", ENTITY_TASK} & set(labels):
            raise ValueError("a scoring model needs a sentiment, topic or entity head")
        pad = tokenizer.pad_token_id
        self.runner: Runner
        if hasattr(network, "run") and hasattr(network, "max_rows"):
            self.runner = cast(Runner, network)
        else:
            import torch

            from finsentry.scoring.torch_backend import TorchRunner

            chosen = device if device is not None else torch.device("cpu")
            module = cast(torch.nn.Module, network)
            self.runner = TorchRunner(module, chosen, int(pad) if pad is not None else 0)
        self.tokenizer = tokenizer
        self.labels = labels
        self.model_id = model_id
        self.token_budget = token_budget
        self.max_length = max_length
        self.stats = ScoringStats()
        self.lexical = lexical
        self.temperatures = dict(temperatures or {})
        for task, value in self.temperatures.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"the {task} temperature must be a positive number, got {value}")
        for task in ("sentiment", ENTITY_TASK):
            if task in labels and sorted(labels[task]) != sorted(SENTIMENT_LABELS):
                raise ValueError(f"{task} labels must be {SENTIMENT_LABELS}, got {labels[task]}")
        self._order = {
            task: [labels[task].index(name) for name in SENTIMENT_LABELS]
            for task in ("sentiment", ENTITY_TASK)
            if task in labels
        }

    # -- the torch backend's parts (training and benchmarks run the network directly) -----------
    @property
    def backend(self) -> str:
        """``torch`` or ``onnx``."""
        return self.runner.name

    @property
    def network(self) -> Any:
        return getattr(self.runner, "network", None)

    @property
    def device(self) -> Any:
        return getattr(self.runner, "device", "cpu")

    def collate(self, rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        """Padded ids and mask on the device (torch backend only)."""
        collate = getattr(self.runner, "collate", None)
        if collate is None:
            raise TypeError(f"the {self.backend} backend has no torch tensors to collate")
        return collate(rows)  # type: ignore[no-any-return]

    # -- tokens ----------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated at ``max_length`` (special tokens included)."""
        return self._encode(texts, offsets=False)[0]

    def _encode(
        self, texts: Sequence[str], *, offsets: bool
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        empty = [i for i, text in enumerate(texts) if not text or not text.strip()]
        if empty:
            raise EmptyTextError(empty)
        encoded = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_offsets_mapping=offsets,
        )
        ids = [list(row) for row in encoded["input_ids"]]
        spans = [[(int(a), int(b)) for a, b in row] for row in encoded["offset_mapping"]] if offsets else []
        return ids, spans

    @property
    def scores_targets(self) -> bool:
        """Whether the model scores sentiment towards targets (it has an entity head)."""
        return ENTITY_TASK in self.labels and bool(getattr(self.tokenizer, "is_fast", False))

    def token_length(self, text: str) -> int:
        """How many tokens ``text`` takes (for streaming budgets); at least 1."""
        if not text.strip():
            return 1
        return len(self.tokenize([text])[0])

    # -- scoring ---------------------------------------------------------------------------------
    def probabilities(
        self,
        texts: Sequence[str],
        targets: Sequence[Sequence[Target]] | None = None,
        *,
        calibrated: bool = True,
    ) -> dict[str, np.ndarray]:
        """``{task: (len(texts), classes)}`` probabilities, rows in input order.

        With ``targets`` (one sequence per text) and an entity head, ``entity`` holds one row per
        target, texts' targets in order; a target with no mention token in its (truncated) text
        gets a row of NaN. ``calibrated=False`` leaves out the model's temperatures (to fit them).
        """
        started = time.perf_counter()
        with_targets = targets is not None and self.scores_targets
        token_rows, offsets = self._encode(texts, offsets=with_targets)
        tasks = [task for task in self.labels if task != ENTITY_TASK]
        out = {task: np.zeros((len(texts), len(self.labels[task]))) for task in tasks}
        mentions: list[list[list[int]]] = [[] for _ in texts]  # per text, per target: its tokens
        first: list[int] = [0] * len(texts)  # per text, its first target's flat index
        if with_targets:
            assert targets is not None
            mentions, first, flat = _mentions(offsets, targets)
            out[ENTITY_TASK] = np.full((flat, len(self.labels[ENTITY_TASK])), np.nan)
        lexical = self.lexical.log_probs(texts) if self.lexical else {}
        plan = plan_batches(
            [len(row) for row in token_rows],
            self.token_budget,
            max_rows=self.runner.max_rows,
            multiple_of=self.runner.multiple,
        )
        for batch in plan:
            owners, masks, flat_index = _batch_targets(batch, mentions, first)
            logits, padded = self.runner.run([token_rows[i] for i in batch], owners, masks)
            index = np.asarray(batch)
            for task in tasks:
                if task in lexical and self.lexical is not None:
                    scores = mixed_log_probs(
                        logits[task], lexical[task][index], self.lexical.weight
                    )
                else:
                    scores = logits[task]
                out[task][index] = self._calibrated(task, scores, calibrated)
            if owners:
                entity = logits[ENTITY_TASK]
                out[ENTITY_TASK][flat_index] = self._calibrated(ENTITY_TASK, entity, calibrated)
            self.stats.batches += 1
            self.stats.padded_tokens += padded
        self.stats.texts += len(texts)
        self.stats.real_tokens += sum(len(row) for row in token_rows)
        self.stats.seconds += time.perf_counter() - started
        return out

    def _calibrated(self, task: str, scores: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """Probabilities from logits (or log-probabilities), divided by the task's temperature
        when the model is calibrated: the same ranking, so the same labels, with confidences that
        match how often they are right."""
        temperature = self.temperatures.get(task) if calibrated else None
        values = np.asarray(scores, dtype=np.float64)
        return softmax(values if temperature is None else values / temperature)

    def score(
        self, texts: Sequence[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]:
        """One :class:`TextScore` per text, in order, with the sentiment towards each of the
        text's ``targets`` (in the order given), probabilities rounded to
        :data:`PROBABILITY_DECIMALS` decimals. Raises :class:`EmptyTextError` on empty text."""
        if not texts:
            return []
        probs = {
            task: np.round(values.astype(np.float64), PROBABILITY_DECIMALS)
            for task, values in self.probabilities(texts, targets).items()
        }
        sentiment = probs.get("sentiment")
        topic = probs.get("topic")
        entity = probs.get(ENTITY_TASK)
        topic_names = self.labels.get("topic", [])
        scores = []
        flat = 0
        for row in range(len(texts)):
            if sentiment is not None:
                neg, neu, pos = (float(sentiment[row, j]) for j in self._order["sentiment"])
            else:
                neg, neu, pos = 0.0, 1.0, 0.0
            if topic is not None:
                best = int(topic[row].argmax())
                label, prob = topic_names[best], float(topic[row, best])
            else:
                label, prob = UNKNOWN_TOPIC, 0.0
            towards: list[TargetSentiment] = []
            for target in targets[row] if targets is not None else ():
                values = entity[flat] if entity is not None else None
                flat += 1
                if values is None or np.isnan(values).any():
                    towards.append(
                        TargetSentiment(target.name, neg, neu, pos, SentimentBasis.HEADLINE)
                    )
                else:
                    e_neg, e_neu, e_pos = (float(values[j]) for j in self._order[ENTITY_TASK])
                    towards.append(TargetSentiment(target.name, e_neg, e_neu, e_pos))
            scores.append(TextScore(neg, neu, pos, label, prob, tuple(towards)))
        return scores

    def __repr__(self) -> str:
        return f"Scorer({self.model_id!r}, {self.runner!r}, budget={self.token_budget})"


def _mentions(
    offsets: Sequence[Sequence[tuple[int, int]]], targets: Sequence[Sequence[Target]]
) -> tuple[list[list[list[int]]], list[int], int]:
    """Per text, per target, its mention's token positions; per text, the flat index of its first
    target; the number of targets."""
    if len(targets) != len(offsets):
        raise ValueError("targets must hold one sequence per text")
    mentions: list[list[list[int]]] = []
    first: list[int] = []
    flat = 0
    for row_offsets, row_targets in zip(offsets, targets, strict=True):
        first.append(flat)
        mentions.append([mention_tokens(row_offsets, t.spans) for t in row_targets])
        flat += len(row_targets)
    return mentions, first, flat


def _batch_targets(
    batch: Sequence[int], mentions: list[list[list[int]]], first: list[int]
) -> tuple[list[int], list[list[int]], np.ndarray]:
    """The batch's targets that have mention tokens: batch rows, token positions, flat indices."""
    rows: list[int] = []
    flat: list[int] = []
    masks: list[list[int]] = []
    for position, text_index in enumerate(batch):
        for k, tokens in enumerate(mentions[text_index]):
            if tokens:
                rows.append(position)
                flat.append(first[text_index] + k)
                masks.append(tokens)
    return rows, masks, np.asarray(flat, dtype=np.int64)


def mention_tokens(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[int]:
    """Positions of the tokens whose characters overlap any of ``spans`` (special tokens, which
    cover no characters, never do)."""
    return [
        i
        for i, (start, end) in enumerate(offsets)
        if end > start and any(start < s_end and end > s_start for s_start, s_end in spans)
    ]
