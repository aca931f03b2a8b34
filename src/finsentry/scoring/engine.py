"""The Scorer: texts in, sentiment probabilities and a topic out, one backbone forward per batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from finsentry.schema import (
    SENTIMENT_LABELS,
    SentimentBasis,
    Span,
    Target,
    TargetSentiment,
    TextScore,
)
from finsentry.scoring.batching import plan_batches
from finsentry.scoring.device import autocast_dtype
from finsentry.scoring.lexical import LexicalHead, mix
from finsentry.scoring.network import ENTITY_TASK

UNKNOWN_TOPIC = "unknown"


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
    """Score texts with a network whose forward returns ``{task: logits}``.

    The ``sentiment`` head's labels must be ``negative``, ``neutral`` and ``positive`` (any order);
    a model without a ``topic`` head reports the topic ``unknown`` with probability 0, one without a
    ``sentiment`` head reports neutral. Results do not depend on how texts are batched: each row is
    computed with its own padding mask, in fp32 on the CPU.

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
        network: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        labels: dict[str, list[str]],
        *,
        model_id: str,
        device: torch.device,
        token_budget: int = 8192,
        max_length: int = 128,
        lexical: LexicalHead | None = None,
    ):
        if not {"sentiment", "topic", ENTITY_TASK} & set(labels):
            raise ValueError("a scoring model needs a sentiment, topic or entity head")
        self.network = network.to(device).eval()
        self.tokenizer = tokenizer
        self.labels = labels
        self.model_id = model_id
        self.device = device
        self.token_budget = token_budget
        self.max_length = max_length
        self.stats = ScoringStats()
        self.lexical = lexical
        self._amp = autocast_dtype(device)
        self._multiple = 8 if device.type == "cuda" else 1
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0
        for task in ("sentiment", ENTITY_TASK):
            if task in labels and sorted(labels[task]) != sorted(SENTIMENT_LABELS):
                raise ValueError(f"{task} labels must be {SENTIMENT_LABELS}, got {labels[task]}")
        self._order = {
            task: [labels[task].index(name) for name in SENTIMENT_LABELS]
            for task in ("sentiment", ENTITY_TASK)
            if task in labels
        }

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

    def collate(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad rows to the longest one (rounded for tensor cores on CUDA) and move to the device."""
        width = max(len(row) for row in rows)
        if self._multiple > 1:
            width = -(-width // self._multiple) * self._multiple
        ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            mask[r, : len(row)] = 1
        if self.device.type == "cuda":
            ids, mask = ids.pin_memory(), mask.pin_memory()
        return ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)

    # -- scoring ---------------------------------------------------------------------------------
    def probabilities(
        self, texts: Sequence[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> dict[str, np.ndarray]:
        """``{task: (len(texts), classes)}`` probabilities, rows in input order.

        With ``targets`` (one sequence per text) and an entity head, ``entity`` holds one row per
        target, texts' targets in order; a target with no mention token in its (truncated) text
        gets a row of NaN.
        """
        started = time.perf_counter()
        with_targets = targets is not None and self.scores_targets
        token_rows, offsets = self._encode(texts, offsets=with_targets)
        tasks = {task: names for task, names in self.labels.items() if task != ENTITY_TASK}
        out = {
            task: np.zeros((len(texts), len(names)), dtype=np.float32)
            for task, names in tasks.items()
        }
        mentions: list[list[list[int]]] = []  # per text, per target: its token positions
        first: list[int] = []  # per text, the index of its first target in the flat order
        if with_targets:
            assert targets is not None
            if len(targets) != len(texts):
                raise ValueError("targets must hold one sequence per text")
            flat = 0
            for row_offsets, row_targets in zip(offsets, targets, strict=True):
                first.append(flat)
                mentions.append([mention_tokens(row_offsets, t.spans) for t in row_targets])
                flat += len(row_targets)
            out[ENTITY_TASK] = np.full((flat, len(self.labels[ENTITY_TASK])), np.nan, np.float32)
        plan = plan_batches(
            [len(row) for row in token_rows], self.token_budget, multiple_of=self._multiple
        )
        lexical = {
            task: torch.from_numpy(values)
            for task, values in (self.lexical.log_probs(texts) if self.lexical else {}).items()
            if task in out
        }
        with torch.inference_mode():
            for batch in plan:
                ids, mask = self.collate([token_rows[i] for i in batch])
                entity = self._batch_targets(batch, mentions, first, ids.shape[1]) if with_targets else None
                with torch.autocast(
                    self.device.type,
                    dtype=self._amp or torch.float32,
                    enabled=self._amp is not None,
                ):
                    if entity is not None:
                        logits = self.network(
                            input_ids=ids,
                            attention_mask=mask,
                            target_rows=entity[0],
                            target_mask=entity[1],
                        )
                    else:
                        logits = self.network(input_ids=ids, attention_mask=mask)
                index = np.asarray(batch)
                for task in tasks:
                    task_logits = logits[task].float().cpu()
                    if task in lexical and self.lexical is not None:
                        probs = mix(task_logits, lexical[task][index], self.lexical.weight)
                    else:
                        probs = torch.softmax(task_logits, dim=-1)
                    out[task][index] = probs.numpy()
                if entity is not None:
                    entity_probs = torch.softmax(logits[ENTITY_TASK].float().cpu(), dim=-1)
                    out[ENTITY_TASK][entity[2]] = entity_probs.numpy()
                self.stats.batches += 1
                self.stats.padded_tokens += int(ids.numel())
        self.stats.texts += len(texts)
        self.stats.real_tokens += sum(len(row) for row in token_rows)
        self.stats.seconds += time.perf_counter() - started
        return out

    def _batch_targets(
        self, batch: Sequence[int], mentions: list[list[list[int]]], first: list[int], width: int
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray] | None:
        """The batch's targets that have mention tokens: batch rows, token masks, flat indices."""
        rows: list[int] = []
        flat: list[int] = []
        masks: list[list[int]] = []
        for position, text_index in enumerate(batch):
            for k, tokens in enumerate(mentions[text_index]):
                if tokens:
                    rows.append(position)
                    flat.append(first[text_index] + k)
                    masks.append(tokens)
        if not rows:
            return None
        token_mask = torch.zeros((len(rows), width), dtype=torch.float32)
        for r, tokens in enumerate(masks):
            token_mask[r, tokens] = 1.0
        return (
            torch.as_tensor(rows, dtype=torch.long).to(self.device),
            token_mask.to(self.device),
            np.asarray(flat, dtype=np.int64),
        )

    def score(
        self, texts: Sequence[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]:
        """One :class:`TextScore` per text, in order, with the sentiment towards each of the
        text's ``targets`` (in the order given). Raises :class:`EmptyTextError` on empty text."""
        if not texts:
            return []
        probs = self.probabilities(texts, targets)
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
        return f"Scorer({self.model_id!r}, device={self.device}, budget={self.token_budget})"


def mention_tokens(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[int]:
    """Positions of the tokens whose characters overlap any of ``spans`` (special tokens, which
    cover no characters, never do)."""
    return [
        i
        for i, (start, end) in enumerate(offsets)
        if end > start and any(start < s_end and end > s_start for s_start, s_end in spans)
    ]
