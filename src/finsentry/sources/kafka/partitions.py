"""Partitions of one consumer-group member: what it owns, which are idle, how far behind each is.

- Assignment: the member owns ``consumer.assignment()`` plus what was just assigned; the runner
  passes that set to the pipeline (:meth:`finsentry.pipeline.Pipeline.assign_inputs`), which lets
  unheard partitions hold the watermark back and forgets partitions now owned elsewhere.
- Idle partitions: a caught-up partition (its durable position at the high-water mark) that
  delivered nothing for ``idle_s`` is closed in the pipeline, so it stops holding the watermark
  back and the last windows become final; it counts again as soon as it delivers.
- Lag metrics: messages behind the high-water mark, and seconds behind now of the largest event
  time, per owned partition; the gauges of partitions that left are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from finsentry.schema import utc_now
from finsentry.sources.base import Assignment
from finsentry.sources.kafka.client import partition_input, topic_prefix
from finsentry.sources.kafka.offsets import OffsetLedger

if TYPE_CHECKING:
    from finsentry.metrics import ConsumerMetrics

log = logging.getLogger(__name__)


class PartitionTracker:
    """Owned partitions (kafka-python ``TopicPartition``) and when each last delivered."""

    def __init__(
        self, topics: tuple[str, ...], idle_s: float, metrics: ConsumerMetrics | None = None
    ) -> None:
        self.topics = topics
        self.idle_s = idle_s
        self.metrics = metrics
        self._owned: set[Any] = set()
        self._last_data: dict[Any, float] = {}  # monotonic time of the last record
        self._idle_closed: set[Any] = set()

    def assigned(self, owned: set[Any], assigned: Iterable[Any], now: float) -> Assignment:
        """The member owns ``owned`` now (``assigned`` just arrived); what the pipeline is told."""
        left = {self._label(tp.topic, tp.partition) for tp in self._owned - owned}
        self._owned = set(owned)
        for tp in assigned:
            self._last_data.setdefault(tp, now)
        for tp in [tp for tp in self._last_data if tp not in owned]:
            del self._last_data[tp]
            self._idle_closed.discard(tp)
        if self.metrics is not None and left:
            self.metrics.forget_partitions(sorted(left))
        inputs = frozenset(partition_input(tp.topic, tp.partition) for tp in owned)
        log.info("assigned partitions: %s", sorted(inputs))
        return Assignment(tuple(topic_prefix(t) for t in self.topics), inputs)

    def _label(self, topic: str, partition: int) -> str:
        """A partition's metrics label: its number, with its topic when several are read."""
        return str(partition) if len(self.topics) == 1 else partition_input(topic, partition)

    def heard(self, partitions: Iterable[Any], now: float) -> None:
        """These partitions delivered records: they count for the watermark again."""
        for tp in partitions:
            self._last_data[tp] = now
            self._idle_closed.discard(tp)

    def idle(self, consumer: Any, ledger: OffsetLedger, now: float) -> list[str]:
        """Inputs of owned partitions that are caught up and silent for ``idle_s``, newly idle."""
        owned = set(consumer.assignment() or ())
        found: list[str] = []
        for tp, last in list(self._last_data.items()):
            if tp in self._idle_closed or tp not in owned or now - last < self.idle_s:
                continue
            if self._caught_up(consumer, ledger, tp):
                self._idle_closed.add(tp)
                found.append(partition_input(tp.topic, tp.partition))
        return found

    @staticmethod
    def _caught_up(consumer: Any, ledger: OffsetLedger, tp: Any) -> bool:
        highwater = consumer.highwater(tp)
        position = ledger.position(tp)
        if position is None:
            try:
                position = consumer.position(tp, timeout_ms=1000)
            except Exception as exc:  # noqa: BLE001 - unknown yet: try again later
                log.debug("position of %s unknown yet: %s", tp, exc)
                return False
        return highwater is not None and position is not None and position >= highwater

    def update_lags(
        self, consumer: Any, ledger: OffsetLedger, input_times: Mapping[str, datetime]
    ) -> None:
        """Set the lag gauges of the owned partitions."""
        if self.metrics is None:
            return
        owned = set(consumer.assignment() or ())
        lags: dict[str, int] = {}
        for tp, position in ledger.positions().items():
            highwater = consumer.highwater(tp) if tp in owned else None
            if highwater is not None:
                lags[self._label(tp.topic, tp.partition)] = max(0, highwater - position)
        now = utc_now()
        prefixes = tuple(topic_prefix(t) for t in self.topics)
        event_lag = {
            (name.removeprefix(prefixes[0]) if len(prefixes) == 1 else name): (
                now - stamp
            ).total_seconds()
            for name, stamp in input_times.items()
            if name.startswith(prefixes)
        }
        self.metrics.set_partition_lags(lags, event_lag)
