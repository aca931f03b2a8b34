"""Sources: where raw records come from (files, Kafka, RSS/HTTP), and how they become news items.

A source yields batches of :class:`~finsentry.schema.RawRecord` and commits its position only after
the pipeline has durably flushed everything before it. ``validate.parse_records`` turns a batch into
news items and dead letters; ``normalise`` holds the text and ticker clean-up it applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from finsentry.schema import RawRecord


@runtime_checkable
class Source(Protocol):
    """What the pipeline reads from."""

    def batches(self) -> Iterator[list[RawRecord]]:
        """Batches of raw records, in input order."""

    def commit(self) -> None:
        """Make the position after the last yielded batch durable (after the store's flush)."""
