"""Records already in memory as a runner source: a fetched snapshot of feeds, a replayed list.

The records are cut into batches in their order; the last batch closes every input they came from,
since a snapshot is bounded. There is no position to commit (items are upserted by id).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from finsentry.schema import RawRecord
from finsentry.sources.base import Batch
from finsentry.totals import BatchReport


class RecordSource:
    """Batches of at most ``batch_size`` of ``records``; ``name`` labels the pipeline's health rows."""

    def __init__(self, records: Sequence[RawRecord], batch_size: int, name: str = "records") -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.records = list(records)
        self.batch_size = batch_size
        self.name = name
        self.durable = 0  # records the store holds

    def read(self) -> Iterator[Batch[int]]:
        """Runner batches; ``position`` is the index after the batch's last record."""
        for start in range(0, len(self.records), self.batch_size):
            part = self.records[start : start + self.batch_size]
            yield Batch(part, start + len(part))
        inputs = tuple(sorted({r.input for r in self.records}))
        yield Batch((), len(self.records), closed=inputs)

    def on_durable(self, batch: Batch[int], report: BatchReport) -> None:
        self.durable = batch.position
