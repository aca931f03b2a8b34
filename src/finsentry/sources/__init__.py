"""Sources: where raw records come from (files, Kafka, RSS/HTTP), and how they become news items.

A source yields :class:`~finsentry.sources.base.Batch` objects of
:class:`~finsentry.schema.RawRecord` and is told by the runner (:mod:`finsentry.runner`) when each
batch is durable; only then does it commit its position. ``validate.parse_records`` turns a batch
into news items and dead letters; ``normalise`` holds the text and ticker clean-up it applies.
"""

from __future__ import annotations

from finsentry.sources.base import Assignment, Batch, Source

__all__ = ["Assignment", "Batch", "Source"]
