"""The Scorer: texts in, sentiment probabilities and a topic out, one backbone forward per batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from finsentry.schema import SENTIMENT_LABELS, TextScore
from finsentry.scoring.batching import plan_batches
from finsentry.scoring.device import autocast_dtype
from finsentry.scoring.lexical import LexicalHead, mix

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
        if "sentiment" not in labels and "topic" not in labels:
            raise ValueError("a scoring model needs a sentiment head, a topic head, or both")
        if "sentiment" in labels and sorted(labels["sentiment"]) != sorted(SENTIMENT_LABELS):
            raise ValueError(
                f"sentiment labels must be {SENTIMENT_LABELS}, got {labels['sentiment']}"
            )
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
        if "sentiment" in labels:
            position = {name: i for i, name in enumerate(labels["sentiment"])}
            self._sentiment_order = [position[name] for name in SENTIMENT_LABELS]

    # -- tokens ----------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated at ``max_length`` (special tokens included)."""
        empty = [i for i, text in enumerate(texts) if not text or not text.strip()]
        if empty:
            raise EmptyTextError(empty)
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, padding=False
        )
        return [list(ids) for ids in encoded["input_ids"]]

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
    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``{task: (len(texts), classes)}`` probabilities, rows in input order."""
        started = time.perf_counter()
        token_rows = self.tokenize(texts)
        out = {
            task: np.zeros((len(texts), len(names)), dtype=np.float32)
            for task, names in self.labels.items()
        }
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
                with torch.autocast(
                    self.device.type,
                    dtype=self._amp or torch.float32,
                    enabled=self._amp is not None,
                ):
                    logits = self.network(input_ids=ids, attention_mask=mask)
                index = np.asarray(batch)
                for task in out:
                    task_logits = logits[task].float().cpu()
                    if task in lexical and self.lexical is not None:
                        probs = mix(task_logits, lexical[task][index], self.lexical.weight)
                    else:
                        probs = torch.softmax(task_logits, dim=-1)
                    out[task][index] = probs.numpy()
                self.stats.batches += 1
                self.stats.padded_tokens += int(ids.numel())
        self.stats.texts += len(texts)
        self.stats.real_tokens += sum(len(row) for row in token_rows)
        self.stats.seconds += time.perf_counter() - started
        return out

    def score(self, texts: Sequence[str]) -> list[TextScore]:
        """One :class:`TextScore` per text, in order. Raises :class:`EmptyTextError` on empty text."""
        if not texts:
            return []
        probs = self.probabilities(texts)
        sentiment = probs.get("sentiment")
        topic = probs.get("topic")
        topic_names = self.labels.get("topic", [])
        scores = []
        for row in range(len(texts)):
            if sentiment is not None:
                neg, neu, pos = (float(sentiment[row, j]) for j in self._sentiment_order)
            else:
                neg, neu, pos = 0.0, 1.0, 0.0
            if topic is not None:
                best = int(topic[row].argmax())
                label, prob = topic_names[best], float(topic[row, best])
            else:
                label, prob = UNKNOWN_TOPIC, 0.0
            scores.append(TextScore(neg, neu, pos, label, prob))
        return scores

    def __repr__(self) -> str:
        return f"Scorer({self.model_id!r}, device={self.device}, budget={self.token_budget})"
