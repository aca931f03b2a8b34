"""Token-budget micro-batching: sort by length, fill batches up to a token budget, pad per batch.

A fixed number of rows per batch wastes work twice: short headlines are padded to the longest one in
their batch, and a batch of long texts can blow the memory that a batch of short ones fits in. Here
texts are tokenized once, sorted by length, and cut into batches whose padded size
(rows x longest row) stays within ``token_budget``; each batch is padded only to its own longest row
and the results are put back in input order.

:class:`StreamBatcher` is the streaming form: texts arrive one by one and a batch is released when
it would exceed the budget or when its oldest text has waited ``max_wait_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


def plan_batches(
    lengths: Sequence[int], token_budget: int, *, max_rows: int | None = None, multiple_of: int = 1
) -> list[list[int]]:
    """Group indices into batches whose padded size fits ``token_budget``.

    Indices are sorted by length (longest first, ties by index, so the plan is deterministic); a
    text longer than the budget still gets a batch of its own. ``multiple_of`` rounds the padded
    length up (tensor cores like multiples of 8).
    """
    if token_budget <= 0:
        raise ValueError("token_budget must be positive")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for index in order:
        padded = _round_up(max(lengths[index], 1), multiple_of)
        new_width = max(width, padded)
        too_many = max_rows is not None and len(current) >= max_rows
        if current and (new_width * (len(current) + 1) > token_budget or too_many):
            batches.append(current)
            current, new_width = [], padded
        current.append(index)
        width = new_width
    if current:
        batches.append(current)
    return batches


def _round_up(value: int, multiple: int) -> int:
    return value if multiple <= 1 else -(-value // multiple) * multiple


@dataclass
class _Pending(Generic[K]):
    key: K
    text: str
    length: int
    since: float


@dataclass
class StreamBatcher(Generic[K, R]):
    """Collect ``(key, text)`` pairs; score them in budget-sized batches or after ``max_wait_s``.

    ``score`` is the batch function (usually ``Scorer.score``) and ``count_tokens`` an estimate of
    a text's token length (``Scorer.token_length``). ``add`` returns whatever a flush produced, as
    ``(key, result)`` pairs in arrival order; call ``poll`` from the consumer loop and ``flush`` at
    the end of the stream.
    """

    score: Callable[[Sequence[str]], list[R]]
    count_tokens: Callable[[str], int]
    token_budget: int
    max_wait_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _pending: list[_Pending[K]] = field(default_factory=list)
    _tokens: int = 0

    def add(self, key: K, text: str) -> list[tuple[K, R]]:
        length = self.count_tokens(text)
        out: list[tuple[K, R]] = []
        if self._pending and self._tokens + length > self.token_budget:
            out = self.flush()
        self._pending.append(_Pending(key, text, length, self.clock()))
        self._tokens += length
        if self._tokens >= self.token_budget:
            out.extend(self.flush())
        return out

    def poll(self) -> list[tuple[K, R]]:
        """Flush if the oldest pending text has waited ``max_wait_s`` or more."""
        if self._pending and self.clock() - self._pending[0].since >= self.max_wait_s:
            return self.flush()
        return []

    def flush(self) -> list[tuple[K, R]]:
        pending, self._pending, self._tokens = self._pending, [], 0
        if not pending:
            return []
        results = self.score([p.text for p in pending])
        return [(p.key, r) for p, r in zip(pending, results, strict=True)]

    def __len__(self) -> int:
        return len(self._pending)
