"""The Kafka source: a consumer-group member that feeds the pipeline and loses nothing.

Loop: ``poll`` -> micro-batch (at most ``batch_max_items`` records, flushed after
``batch_max_wait_ms`` even when the topic is quiet) -> :meth:`Pipeline.process` (validate, score,
store flush: durable when it returns) -> dead letters produced to ``<topic>.dlq`` and the producer
flushed -> commit exactly the offsets of the records that batch held (sent asynchronously after each
batch, a failed commit being covered by the next; synchronously at shutdown).

Delivery is at least once from Kafka; the store upserts items by id and adds window deltas only for
new items, so a replay after a crash or a rebalance double counts nothing (exactly once in effect).
Offsets are committed only after the write, so a crash loses nothing either.

- Backpressure: a batch is processed synchronously between polls; kafka-python only fetches for
  partitions whose fetched data has been handed out, so while the store or the scorer is busy the
  consumer fetches nothing more. Memory is bounded by ``fetch_max_bytes`` plus one batch.
- Rebalance: records buffered for a revoked partition are dropped (their offsets were never
  committed, so the new owner reads them again); offsets of what was flushed are already committed.
  The watermark forgets a partition once the new assignment no longer holds it.
- Idle partitions: a caught-up partition that delivered nothing for ``partition_idle_s`` stops
  holding the watermark back (until it delivers again), so the last windows become final.
- Shutdown: :class:`GracefulStop` (SIGTERM/SIGINT) ends the loop after the batch in hand has been
  flushed and committed; a second signal exits at once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from finsentry.aggregate import PartitionWatermark
from finsentry.config import Settings
from finsentry.pipeline import BatchReport, Pipeline, RunTotals
from finsentry.schema import DeadLetter, RawRecord, utc_now
from finsentry.shutdown import GracefulStop
from finsentry.sources.kafka_client import client_config, dead_letter_headers, partition_input

if TYPE_CHECKING:
    from finsentry.metrics import ConsumerMetrics

log = logging.getLogger(__name__)

SOURCE = "kafka"
FETCH_MAX_BYTES = 16 * 1024 * 1024
PARTITION_FETCH_BYTES = 1024 * 1024
KEEP_ALERTS = 1000  # alerts a long-running consumer keeps in memory for its summary


@dataclass(frozen=True, slots=True)
class ConsumeOptions:
    """How long to run and how patient to be; the rest comes from :class:`Settings`."""

    max_messages: int | None = None  # stop after this many messages (benchmarks, tests)
    idle_exit_s: float | None = None  # stop when nothing arrived for this long
    partition_idle_s: float = 30.0  # a caught-up, silent partition stops holding the watermark
    session_timeout_ms: int = 45_000  # how soon the group notices a crashed consumer
    auto_offset_reset: str = "earliest"  # where a new group starts


@dataclass(frozen=True, slots=True)
class FlushedBatch:
    """What one flushed micro-batch did, for callbacks (benchmarks, progress bars)."""

    report: BatchReport
    record_timestamps_ms: Sequence[int]  # Kafka timestamps (produce time) of its records
    durable_at: float  # epoch seconds when the write and the DLQ were durable


class KafkaNewsConsumer:
    """One member of a consumer group feeding :class:`Pipeline` micro-batches."""

    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline,
        *,
        options: ConsumeOptions | None = None,
        metrics: ConsumerMetrics | None = None,
        stop: GracefulStop | None = None,
        on_batch: Callable[[FlushedBatch], None] | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.options = options or ConsumeOptions()
        self.metrics = metrics
        self.stop = stop or GracefulStop()
        self.on_batch = on_batch
        self.topic = settings.kafka_topic
        if not isinstance(pipeline.watermark, PartitionWatermark):
            pipeline.watermark = PartitionWatermark(pipeline.watermark)
        self.watermark: PartitionWatermark = pipeline.watermark
        self.totals = RunTotals(keep_alerts=KEEP_ALERTS)
        self._consumer: Any = None
        self._producer: Any = None
        self._buffer: list[Any] = []  # ConsumerRecord
        self._batch_started: float | None = None
        self._pending: dict[Any, int] = {}  # TopicPartition -> next offset, not yet committed
        self._inflight: dict[Any, int] | None = None  # offsets of the commit on its way
        self._inflight_since = 0.0
        self._next: dict[Any, int] = {}  # TopicPartition -> next offset after what was flushed
        self._last_data: dict[Any, float] = {}  # TopicPartition -> monotonic time of last record
        self._idle_closed: set[Any] = set()

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer

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
            session_timeout_ms=session,
            heartbeat_interval_ms=max(1000, min(3000, session // 3)),
        )
        self._consumer.subscribe([self.topic], listener=Listener())
        try:
            self._producer = KafkaProducer(
                **common,
                acks="all",
                linger_ms=5,
                max_block_ms=10_000,
                request_timeout_ms=15_000,
                delivery_timeout_ms=30_000,
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the producer and leave the group; errors here are logged, never raised."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=10)
            except Exception as exc:  # noqa: BLE001 - shutting down: report, go on
                log.warning("closing the Kafka producer failed: %s", exc)
            self._producer = None
        if self._consumer is not None:
            try:  # the revoke callback still runs here, so self._consumer stays set meanwhile
                self._consumer.close(autocommit=False)
            except Exception as exc:  # noqa: BLE001 - shutting down: report, go on
                log.warning("closing the Kafka consumer failed: %s", exc)
            self._consumer = None

    def run(self) -> RunTotals:
        """Consume until stopped (signal, ``max_messages`` or ``idle_exit_s``); return the totals."""
        if self._consumer is None:
            self.open()
        try:
            self._loop()
            self._flush()
            self._commit(final=True)
        finally:
            self.close()
        return self.totals

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        opts = self.options
        max_items = self.settings.batch_max_items
        wait_s = self.settings.batch_max_wait_ms / 1000.0
        last_data = time.monotonic()
        while not self.stop.requested:
            want = max_items - len(self._buffer)
            if opts.max_messages is not None:
                left = opts.max_messages - self.totals.consumed - len(self._buffer)
                if left <= 0:
                    break
                want = min(want, left)
            timeout_s = wait_s
            if self._batch_started is not None:
                timeout_s = max(0.0, self._batch_started + wait_s - time.monotonic())
            polled = self._poll(timeout_s, want)
            now = time.monotonic()
            for tp, records in polled.items():
                self._buffer.extend(records)
                self._last_data[tp] = now
                self._idle_closed.discard(tp)
            if polled:
                last_data = now
                if self._batch_started is None:
                    self._batch_started = now
            full = len(self._buffer) >= max_items or (
                opts.max_messages is not None
                and self.totals.consumed + len(self._buffer) >= opts.max_messages
            )
            due = self._batch_started is not None and now - self._batch_started >= wait_s
            if self._buffer and (full or due):
                self._flush()
            elif not self._buffer:
                if self._pending:
                    self._commit()
                self._release_idle_partitions(now)
                if opts.idle_exit_s is not None and now - last_data >= opts.idle_exit_s:
                    log.info("nothing consumed for %.1fs: stopping", opts.idle_exit_s)
                    break

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

    def _flush(self) -> None:
        """Process the buffered records, dead-letter the bad ones, commit their offsets."""
        records, self._buffer, self._batch_started = self._buffer, [], None
        if not records:
            return
        started = time.perf_counter()
        received = utc_now()
        raws = [
            RawRecord(
                data=r.value if r.value is not None else b"",
                source=SOURCE,
                input=f"{r.topic}/{r.partition}",
                position=r.offset,
                key=r.key,
                received_at=received,
            )
            for r in records
        ]
        report = self.pipeline.process(raws, source=SOURCE)
        self._produce_dead_letters(report.dead_letters, records)
        durable_at = time.time()
        from kafka import TopicPartition

        highest: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            if r.offset > highest.get(key, -1):
                highest[key] = r.offset
        for (topic, partition), offset in highest.items():
            tp = TopicPartition(topic, partition)
            self._pending[tp] = max(self._pending.get(tp, -1), offset + 1)
            self._next[tp] = max(self._next.get(tp, -1), offset + 1)
        self._commit()
        self.totals.add(report)
        timestamps = [r.timestamp for r in records]
        if self.metrics is not None:
            self.metrics.observe_batch(
                report.consumed,
                report.processed,
                [d.reason_code for d in report.dead_letters],
                report.scoring_s,
                time.perf_counter() - started,
                len(report.alerts),
            )
            self.metrics.observe_produce_to_store(durable_at - ts / 1000.0 for ts in timestamps)
            self._update_lag_metrics()
        if self.on_batch is not None:
            self.on_batch(FlushedBatch(report, timestamps, durable_at))

    def _produce_dead_letters(self, dead_letters: Sequence[DeadLetter], records: Sequence[Any]) -> None:
        """Send dead letters to the DLQ topic with their original key and bytes; retry until acked."""
        if not dead_letters:
            return
        by_position = {(partition_input(r.topic, r.partition), r.offset): r for r in records}
        messages = []
        for dead in dead_letters:
            record = by_position[(dead.input, dead.position)]
            value = record.value
            if value is None and record.key is None:
                value = b""  # a keyless tombstone cannot be produced as such
            headers = dead_letter_headers(dead, record.topic, record.partition, record.offset)
            messages.append((record.key, value, headers))
        attempt = 0
        while messages:
            attempt += 1
            sent = []
            for key, value, headers in messages:
                try:
                    future = self._producer.send(
                        self.settings.dlq_topic, value=value, key=key, headers=headers
                    )
                except Exception as exc:  # noqa: BLE001 - broker away: retried below
                    log.warning("dead-letter topic unavailable (%s); retrying", exc)
                    sent.append(((key, value, headers), None))
                    continue
                sent.append(((key, value, headers), future))
            try:
                self._producer.flush(timeout=30)
            except Exception as exc:  # noqa: BLE001 - unacknowledged ones are retried below
                log.warning("dead-letter flush incomplete (%s)", exc)
            messages = [m for m, f in sent if f is None or not f.succeeded()]
            if messages:
                log.warning(
                    "%d dead letters not acknowledged by %s (attempt %d); retrying",
                    len(messages), self.settings.dlq_topic, attempt,
                )
                time.sleep(min(5.0, 0.5 * attempt))

    def _commit(self, final: bool = False) -> None:
        """Commit the offsets of everything flushed so far; keep them pending if the broker is away."""
        if not self._pending:
            return
        from kafka import OffsetAndMetadata

        owned = set(self._consumer.assignment() or ())
        for tp in [tp for tp in self._pending if tp not in owned]:
            del self._pending[tp]  # revoked: its new owner re-reads from the committed offset
        if not self._pending:
            return
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in self._pending.items()}
        if not final:
            self._commit_async(offsets)
            return
        for attempt in range(10):
            try:
                self._consumer.commit(offsets, timeout_ms=10_000)
            except Exception as exc:  # noqa: BLE001 - broker away or rebalance: retried
                log.warning("offset commit failed (%s); will retry", exc)
                time.sleep(min(1.0 + attempt, 3.0))
                continue
            self._pending.clear()
            return
        log.warning(
            "could not commit offsets %s; the store holds these records, so a restart re-reads "
            "them without double counting",
            {f"{tp.topic}/{tp.partition}": off for tp, off in self._pending.items()},
        )

    def _commit_async(self, offsets: dict[Any, Any]) -> None:
        """Send a commit without waiting; its callback clears what it covered, a failure is retried
        with the next batch or poll (a later commit covers an earlier one)."""
        snapshot = {tp: meta.offset for tp, meta in offsets.items()}
        now = time.monotonic()
        if snapshot == self._inflight and now - self._inflight_since < 5.0:
            return  # these very offsets are on their way
        self._inflight, self._inflight_since = snapshot, now

        def done(_offsets: Any, response: Any) -> None:
            if self._inflight == snapshot:
                self._inflight = None
            if isinstance(response, BaseException):
                log.warning("offset commit failed (%s); will retry", response)
                return
            for tp, off in snapshot.items():
                if self._pending.get(tp) == off:
                    self._pending.pop(tp, None)

        try:
            self._consumer.commit_async(offsets, callback=done)
        except Exception as exc:  # noqa: BLE001 - coordinator unknown: retried later
            self._inflight = None
            log.warning("offset commit not sent (%s); will retry", exc)

    # -- partitions -------------------------------------------------------------------------

    def _on_revoked(self, revoked: set[Any]) -> None:
        # Runs on kafka-python's IO thread: no blocking consumer calls here.
        kept = [r for r in self._buffer if (r.topic, r.partition) not in revoked]
        if len(kept) != len(self._buffer):
            log.info("dropping %d buffered records of revoked partitions", len(self._buffer) - len(kept))
        self._buffer = kept
        if not kept:
            self._batch_started = None
        pending = {tp: off for tp, off in self._pending.items() if tp in revoked}
        if pending:
            from kafka import OffsetAndMetadata

            for tp in pending:
                self._pending.pop(tp, None)
            try:  # the flushed offsets of what we are losing; best effort, never blocking
                self._consumer.commit_async(
                    {tp: OffsetAndMetadata(o, "", -1) for tp, o in pending.items()}
                )
            except Exception as exc:  # noqa: BLE001 - the new owner re-reads: nothing is lost
                log.warning("commit of revoked partitions not sent (%s)", exc)
        for tp in revoked:
            self._next.pop(tp, None)

    def _on_assigned(self, assigned: set[Any]) -> None:
        owned = set(self._consumer.assignment()) | assigned
        owned_inputs = {partition_input(tp.topic, tp.partition) for tp in owned}
        watermark = self.watermark
        watermark.expect(sorted(owned_inputs))
        gone = [
            name for name in watermark.inputs
            if name.startswith(f"{self.topic}/") and name not in owned_inputs
        ]
        for name in gone:
            watermark.remove_input(name)
        if self.metrics is not None:
            self.metrics.forget_partitions(gone)
        now = time.monotonic()
        for tp in assigned:
            self._last_data.setdefault(tp, now)
        for tp in list(self._last_data):
            if tp not in owned:
                del self._last_data[tp]
                self._idle_closed.discard(tp)
        log.info("assigned partitions: %s", sorted(owned_inputs))

    def _release_idle_partitions(self, now: float) -> None:
        """A caught-up partition silent for ``partition_idle_s`` stops holding the watermark."""
        owned = set(self._consumer.assignment() or ())
        for tp, last in list(self._last_data.items()):
            if tp in self._idle_closed or now - last < self.options.partition_idle_s:
                continue
            if tp not in owned:
                continue
            highwater = self._consumer.highwater(tp)
            position = self._next.get(tp)
            if position is None:
                try:
                    position = self._consumer.position(tp, timeout_ms=1000)
                except Exception as exc:  # noqa: BLE001 - unknown yet: try again later
                    log.debug("position of %s unknown yet: %s", tp, exc)
                    continue
            if highwater is None or position is None or position < highwater:
                continue
            self._idle_closed.add(tp)
            alerts = self.pipeline.close_input(partition_input(tp.topic, tp.partition))
            self.totals.add_alerts(alerts)
            if self.metrics is not None and alerts:
                self.metrics.alerts.inc(len(alerts))

    def _update_lag_metrics(self) -> None:
        assert self.metrics is not None
        lags: dict[str, int] = {}
        owned = set(self._consumer.assignment() or ())
        for tp, position in self._next.items():
            if tp not in owned:
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lags[str(tp.partition)] = max(0, highwater - position)
        now = utc_now()
        event_lag = {
            name.rsplit("/", 1)[1]: (now - stamp).total_seconds()
            for name, stamp in self.pipeline.watermark.inputs.items()
            if name.startswith(f"{self.topic}/")
        }
        self.metrics.set_partition_lags(lags, event_lag)


def consume(
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    options: ConsumeOptions | None = None,
    metrics_port: int | None = None,
    metrics_addr: str = "127.0.0.1",
    stop: GracefulStop | None = None,
    progress: bool = False,
) -> RunTotals:
    """Run one consumer-group member until stopped; the entry point of ``finsentry consume``."""
    from tqdm import tqdm

    from finsentry.metrics import ConsumerMetrics

    metrics = ConsumerMetrics()
    if metrics_port is not None:
        metrics.serve(metrics_port, metrics_addr)
    owned = pipeline is None
    pipe = pipeline or Pipeline.from_settings(settings)
    bar = tqdm(unit="msg", desc=f"consume {settings.kafka_topic}", disable=not progress)

    def show(batch: FlushedBatch) -> None:
        bar.update(batch.report.consumed)
        bar.set_postfix(dead=consumer.totals.dead_lettered, alerts=consumer.totals.alert_count)

    consumer = KafkaNewsConsumer(
        settings, pipe, options=options, metrics=metrics, stop=stop, on_batch=show
    )
    try:
        return consumer.run()
    finally:
        bar.close()
        if owned:
            pipe.close()
