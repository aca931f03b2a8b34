"""What a source hands the runner: batches of raw records, and what it is told back.

A source never calls the pipeline. It yields :class:`Batch` objects from :meth:`Source.read`;
the runner (:func:`finsentry.runner.run`) processes each one and then calls
:meth:`Source.on_durable` once the store holds the batch, which is when a source may commit its
position (Kafka offsets) or mark its progress (files, feeds). Changes of which inputs the source
owns (Kafka partition assignment) and inputs that have nothing more to say (a file read to its
end, an idle partition) travel in the batches too, so they reach the pipeline in order with the
records around them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

from finsentry.schema import RawRecord

if TYPE_CHECKING:
    from finsentry.totals import BatchReport

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Assignment:
    """The inputs whose names start with ``prefix`` (or one of several) that this worker owns
    from now on.

    Every other input under ``prefix`` belongs to another worker: the pipeline forgets it. An owned
    input that has delivered nothing yet holds the watermark back until it does (or is closed).
    """

    prefix: str | tuple[str, ...]  # a topic's, or those of the topics one group reads
    inputs: frozenset[str]


@dataclass(frozen=True, slots=True)
class Batch(Generic[P]):
    """One step of a source, applied by the runner in this order:

    ``assignment`` (if any), then ``records`` through the pipeline, then ``closed`` inputs (read to
    their end, or idle: they stop holding the watermark back). ``position`` is the source's own
    note of what the batch covers, given back to it in :meth:`Source.on_durable`.
    """

    records: Sequence[RawRecord]
    position: P
    closed: tuple[str, ...] = ()
    assignment: Assignment | None = None


@runtime_checkable
class Source(Protocol[P]):
    """What the runner reads from (files, feeds, a Kafka consumer-group member)."""

    name: str  # the pipeline's ``source`` label for health rows ("file", "kafka", "feeds")

    def read(self) -> Iterator[Batch[P]]:
        """Batches in input order; ending the iteration ends the run."""

    def on_durable(self, batch: Batch[P], report: BatchReport) -> None:
        """The store now holds ``batch`` (its items, dead letters and watermark)."""

