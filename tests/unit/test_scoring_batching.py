"""Token-budget planning and the streaming batcher (pure logic, no model)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.scoring.batching import StreamBatcher, plan_batches


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=200), max_size=300),
    budget=st.integers(min_value=1, max_value=4096),
)
def test_plan_covers_every_index_once_and_keeps_the_budget(lengths: list[int], budget: int) -> None:
    batches = plan_batches(lengths, budget)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        padded = max(lengths[i] for i in batch) * len(batch)
        # only a single text longer than the budget may exceed it, alone in its batch
        assert padded <= budget or len(batch) == 1


def test_plan_groups_similar_lengths_and_is_deterministic() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(5, 60) for _ in range(500)]
    first = plan_batches(lengths, 1024)
    assert first == plan_batches(lengths, 1024)
    # sorted longest first: padding is small compared with fixed-size batches in input order
    padded = sum(max(lengths[i] for i in b) * len(b) for b in first)
    fixed = sum(max(lengths[i : i + 32]) * len(lengths[i : i + 32]) for i in range(0, 500, 32))
    assert padded < 0.8 * fixed


def test_plan_respects_max_rows_and_rounding() -> None:
    batches = plan_batches([3] * 10, 1000, max_rows=4, multiple_of=8)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert plan_batches([7, 7, 7], 16, multiple_of=8) == [[0, 1], [2]]
    with pytest.raises(ValueError):
        plan_batches([1], 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_stream_batcher_flushes_on_budget_wait_and_end() -> None:
    calls: list[list[str]] = []

    def score(texts: list[str]) -> list[int]:
        calls.append(list(texts))
        return [len(t) for t in texts]

    clock = FakeClock()
    batcher: StreamBatcher[int, int] = StreamBatcher(
        score, count_tokens=len, token_budget=10, max_wait_s=2.0, clock=clock
    )
    assert batcher.add(1, "aaaa") == []
    assert batcher.add(2, "bbbb") == []
    # 4 + 4 + 4 > 10: the pending pair flushes before the third is queued
    assert batcher.add(3, "cccc") == [(1, 4), (2, 4)]
    assert len(batcher) == 1
    assert batcher.poll() == []
    clock.now = 2.5
    assert batcher.poll() == [(3, 4)]
    assert batcher.add(4, "x" * 12) == [(4, 12)]  # alone over budget: flushed at once
    assert batcher.add(5, "y") == []
    assert batcher.flush() == [(5, 1)]
    assert batcher.flush() == []
    assert calls == [["aaaa", "bbbb"], ["cccc"], ["x" * 12], ["y"]]
