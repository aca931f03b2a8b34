"""The Kafka source: polls a consumer group, cuts micro-batches, commits what is durable.

:meth:`KafkaSource.read` polls and yields a batch when ``batch_max_items`` records are buffered or
``batch_max_wait_ms`` passed since the first of them (so a quiet topic still flushes). The runner
processes it and calls :meth:`KafkaSource.on_durable`: the dead letters go to the DLQ topic and are
acknowledged, then exactly the batch's offsets are committed (:mod:`.offsets`).

- Backpressure: the runner processes a batch between polls; kafka-python only fetches for
  partitions whose fetched data has been handed out, so while the store or the scorer is busy the
  consumer fetches nothing more. Memory is bounded by ``fetch_max_bytes`` plus one batch.
- Rebalance: records buffered for a revoked partition are dropped (their offsets were never
  committed, so the new owner reads them again); the new assignment rides on the next batch, so
  the pipeline hears of it before any record of a new partition (:mod:`.partitions`).
- Shutdown: the iteration ends when :class:`~finsentry.shutdown.GracefulStop` is requested (or
  ``max_messages``/``idle_exit_s`` say so), after the batch in hand; then the last offsets are
  committed synchronously.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from finsentry.config import Settings
from finsentry.schema import RawRecord, utc_now
from finsentry.shutdown import GracefulStop
from finsentry.sources.base import Assignment, Batch
from finsentry.sources.kafka.client import SOURCE, client_config, partition_input
from finsentry.sources.kafka.deadletters import DeadLetterProducer
from finsentry.sources.kafka.offsets import OffsetLedger
from finsentry.sources.kafka.partitions import PartitionTracker
from finsentry.totals import BatchReport

if TYPE_CHECKING:
    from finsentry.metrics import ConsumerMetrics

log = logging.getLogger(__name__)

# kafka-python sends the next fetch for a partition only once its fetched records are all handed
# out, and waits for it on the next poll: at 1 MiB a partition (~2,000 news messages) a backlog
# was read in round trips that left the consumer idle about half the time. 4 MiB a partition
# takes a quarter of the round trips; a fetch request still carries at most 16 MiB.
FETCH_MAX_BYTES = 16 * 1024 * 1024
PARTITION_FETCH_BYTES = 4 * 1024 * 1024
# The largest network frame the client accepts. kafka-python 2.3 starts every connection at
# 1,000,000 bytes (and raises the limit only once that connection has failed), so each new
# connection's first full fetch was refused ("Invalid frame length"), closed and sent again. Twice
# the request size: a response can pass fetch_max_bytes by one record batch.
RECEIVE_MAX_BYTES = 2 * FETCH_MAX_BYTES
# A batch that is due polls on this long at most, in polls of at most DRAIN_POLL_S, while they
# return records (KafkaSource._draining).
DRAIN_S = 0.03
DRAIN_POLL_S = 0.01


def heartbeat_interval_ms(session_timeout_ms: int) -> int:
    """A third of the session timeout (Kafka's advice), kept between 1 and 3 seconds."""
    return max(1000, min(3000, session_timeout_ms // 3))


@dataclass(frozen=True, slots=True)
class ConsumeOptions:
    """How long to run and how patient to be; the rest comes from :class:`Settings`."""

    max_messages: int | None = None  # stop after this many messages (benchmarks, tests)
    idle_exit_s: float | None = None  # stop when nothing arrived for this long
    partition_idle_s: float = 30.0  # a caught-up, silent partition stops holding the watermark
    session_timeout_ms: int = 45_000  # how soon the group notices a crashed consumer
    auto_offset_reset: str = "earliest"  # where a new group starts


@dataclass(slots=True)
class Polled:
    """A Kafka batch's position: its consumer records, when it was cut, when it was durable."""

    records: list[Any]  # kafka-python ConsumerRecords
    cut_at: float  # perf_counter when the batch was handed to the runner
    durable_at: float = 0.0  # epoch seconds when the store and the DLQ held it
    timestamps_ms: list[int] = field(default_factory=list)


class KafkaSource:
    """One consumer-group member as a runner source (``name`` ``"kafka"``)."""

    name = SOURCE

    def __init__(
        self,
        settings: Settings,
        options: ConsumeOptions | None = None,
        *,
        metrics: ConsumerMetrics | None = None,
        stop: GracefulStop | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or ConsumeOptions()
        self.metrics = metrics
        self.stop = stop or GracefulStop()
        self.topics = settings.kafka_topics
        self.ledger = OffsetLedger()
        self.partitions = PartitionTracker(self.topics, self.options.partition_idle_s, metrics)
        self.handed = 0  # records handed to the runner
        self._consumer: Any = None
        self._dlq: DeadLetterProducer | None = None
        self._buffer: list[Any] = []  # ConsumerRecords not yet handed out
        self._batch_started: float | None = None
        self._drain_until: float | None = None  # a due batch polls on until then (see _draining)
        self._assignment: Assignment | None = None  # to pass on with the next batch
        self._input_names: dict[tuple[str, int], str] = {}  # (topic, partition) -> input name

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Join the group (subscribe) and start the dead-letter producer."""
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        owner = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: Any) -> None:
                owner._on_revoked(set(revoked))

            def on_partitions_assigned(self, assigned: Any) -> None:
                owner._on_assigned(set(assigned))

        # reconnect within seconds once a broker is back (kafka-python backs off up to 30 s)
        common = {**client_config(self.settings), "reconnect_backoff_max_ms": 2000}
        session = self.options.session_timeout_ms
        self._consumer = KafkaConsumer(
            **common,
            group_id=self.settings.kafka_group,
            client_id=f"finsentry-{os.getpid()}",
            enable_auto_commit=False,
            auto_offset_reset=self.options.auto_offset_reset,
            max_poll_records=self.settings.batch_max_items,
            fetch_max_bytes=FETCH_MAX_BYTES,
            max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
            receive_message_max_bytes=RECEIVE_MAX_BYTES,
            session_timeout_ms=session,
            heartbeat_interval_ms=heartbeat_interval_ms(session),
        )
        self._consumer.subscribe(list(self.topics), listener=Listener())
        try:
            self._dlq = DeadLetterProducer(self.settings.dlq_topic_for, common)
            self._dlq.open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the producer and leave the group; errors here are logged, never raised."""
        if self._dlq is not None:
            self._dlq.close()
            self._dlq = None
        if self._consumer is not None:
            try:  # the revoke callback still runs here, so self._consumer stays set meanwhile
                self._consumer.close(autocommit=False)
            except Exception as exc:  # noqa: BLE001 - shutting down: report, go on
                log.warning("closing the Kafka consumer failed: %s", exc)
            self._consumer = None

    # -- the runner's side ------------------------------------------------------------------

    def read(self) -> Iterator[Batch[Polled]]:
        """Batches until stopped; the last offsets are committed synchronously at the end.

        Leaving the iteration early (an exception in the runner) closes the consumer without that
        last commit: the batch in hand is read again by whoever owns its partition next.
        """
        if self._consumer is None:
            self.open()
        try:
            yield from self._loop()
            if self._buffer:
                yield self._cut()
            self.ledger.commit_final(self._consumer)
        finally:
            self.close()

    def on_durable(self, batch: Batch[Polled], report: BatchReport) -> None:
        """Dead letters to the DLQ (acknowledged), then commit the batch's offsets; metrics."""
        polled = batch.position
        if not batch.records:  # inputs closed or assigned: only alerts to count
            if self.metrics is not None and report.alerts:
                self.metrics.alerts.inc(len(report.alerts))
            return
        if report.dead_letters:
            assert self._dlq is not None
            self._dlq.send(report.dead_letters, polled.records)
        polled.durable_at = time.time()
        self.ledger.durable(polled.records)
        self.ledger.commit(self._consumer)
        if self.metrics is not None:
            self.metrics.observe_batch(
                report.consumed,
                report.processed,
                [d.reason_code for d in report.dead_letters],
                report.scoring_s,
                time.perf_counter() - polled.cut_at,
                len(report.alerts),
            )
            self.metrics.observe_produce_to_store(
                polled.durable_at - ts / 1000.0 for ts in polled.timestamps_ms
            )
            self.partitions.update_lags(self._consumer, self.ledger, report.input_times)

    # -- polling ----------------------------------------------------------------------------

    def _loop(self) -> Iterator[Batch[Polled]]:
        max_items = self.settings.batch_max_items
        wait_s = self.settings.batch_max_wait_ms / 1000.0
        last_data = last_return = time.monotonic()
        while not self.stop.requested:
            want = self._want(max_items)
            if want <= 0:
                break
            timeout_s = wait_s
            if self._batch_started is not None:
                timeout_s = max(0.0, self._batch_started + wait_s - time.monotonic())
            if self._drain_until is not None and self._buffer:
                timeout_s = min(DRAIN_POLL_S, max(0.0, self._drain_until - time.monotonic()))
            polled = self._poll(timeout_s, want)
            now = time.monotonic()
            since, last_return = last_return, now
            for records in polled.values():
                self._buffer.extend(records)
            if self._assignment is not None:
                last_data = now  # a rebalance starts the idle clock again: new partitions to read
            if polled:
                self.partitions.heard(polled, now)
                last_data = now
                if self._batch_started is None:
                    # These records came after the previous poll returned, perhaps while the last
                    # batch was being scored: the batch's clock starts then, so a record waits at
                    # most batch_max_wait_ms (not that long again after a slow batch) to be cut.
                    self._batch_started = since
            due = self._batch_started is not None and now - self._batch_started >= wait_s
            full = self._want(max_items) <= 0
            if self._buffer and due and not full and polled and self._draining(now, wait_s):
                continue  # late records: what Kafka holds behind them joins their batch
            if self._buffer and (due or full):
                yield self._cut()
            elif not self._buffer:
                if self.ledger.pending:
                    self.ledger.commit(self._consumer)
                closed = self.partitions.idle(self._consumer, self.ledger, now)
                if closed or self._assignment is not None:
                    yield self._control(closed)
                idle_exit_s = self.options.idle_exit_s
                if idle_exit_s is not None and now - last_data >= idle_exit_s:
                    log.info("nothing consumed for %.1fs: stopping", idle_exit_s)
                    break

    def _draining(self, now: float, wait_s: float) -> bool:
        """Whether to poll on before cutting a batch that is due but not full.

        After a slow batch the first poll returns only the few records of the fetch that was in
        flight; the ones that arrived while the batch was processed are still in Kafka. They have
        waited as long, but cut alone, the few make a tiny batch and the rest wait a whole
        ``batch_max_wait_ms`` behind it (then a big batch, slow again: a cycle that held p99 at
        2-3 s at 300 msg/s). So a due batch polls on, briefly, while polls return records: at
        most ``DRAIN_S`` (or the wait, if shorter)."""
        if self._drain_until is None:
            self._drain_until = now + min(DRAIN_S, wait_s)
        return now < self._drain_until

    def _want(self, max_items: int) -> int:
        """How many more records the buffer takes (batch size, and ``max_messages`` overall)."""
        want = max_items - len(self._buffer)
        if self.options.max_messages is not None:
            want = min(want, self.options.max_messages - self.handed - len(self._buffer))
        return want

    def _poll(self, timeout_s: float, want: int) -> dict[Any, list[Any]]:
        """One poll; a retriable error (broker away, coordinator moving) waits and yields nothing."""
        try:
            polled: dict[Any, list[Any]] = self._consumer.poll(
                timeout_ms=int(min(timeout_s, 1.0) * 1000), max_records=want
            )
        except Exception as exc:
            if not getattr(exc, "retriable", False):
                raise
            log.warning("Kafka unavailable (%s); retrying", exc)
            time.sleep(1.0)
            return {}
        return polled

    def _cut(self) -> Batch[Polled]:
        """Hand the buffered records out as one batch (with a pending assignment, if any)."""
        records, self._buffer, self._batch_started = self._buffer, [], None
        self._drain_until = None
        self.handed += len(records)
        received = utc_now()
        names = self._input_names
        raws = [
            RawRecord(
                r.value if r.value is not None else b"",
                SOURCE,
                names.get((r.topic, r.partition)) or self._input_name(r.topic, r.partition),
                r.offset,
                r.key,
                received,
                r.timestamp if r.timestamp is not None and r.timestamp >= 0 else None,
            )
            for r in records
        ]
        position = Polled(records, time.perf_counter(), timestamps_ms=[r.timestamp for r in records])
        assignment, self._assignment = self._assignment, None
        return Batch(raws, position, assignment=assignment)

    def _input_name(self, topic: str, partition: int) -> str:
        name = self._input_names[(topic, partition)] = partition_input(topic, partition)
        return name

    def _control(self, closed: list[str]) -> Batch[Polled]:
        """A batch without records: a new assignment and/or partitions released as idle."""
        assignment, self._assignment = self._assignment, None
        return Batch((), Polled([], time.perf_counter()), closed=tuple(closed), assignment=assignment)

    # -- rebalance callbacks (inside poll; no blocking consumer calls) ----------------------

    def _on_revoked(self, revoked: set[Any]) -> None:
        kept = [r for r in self._buffer if (r.topic, r.partition) not in revoked]
        if len(kept) != len(self._buffer):
            log.info("dropping %d buffered records of revoked partitions", len(self._buffer) - len(kept))
        self._buffer = kept
        if not kept:
            self._batch_started = self._drain_until = None
        self.ledger.revoke(self._consumer, revoked)

    def _on_assigned(self, assigned: set[Any]) -> None:
        owned = set(self._consumer.assignment()) | assigned
        self._assignment = self.partitions.assigned(owned, assigned, time.monotonic())
