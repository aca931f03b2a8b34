"""The Kafka source: consumer-group members that feed the pipeline and lose nothing.

A member polls micro-batches (:mod:`.consumer`), the runner stores each one, and only then are its
dead letters produced to ``<topic>.dlq`` (:mod:`.deadletters`) and its offsets committed
(:mod:`.offsets`). Partition assignment, idle partitions and lag metrics live in
:mod:`.partitions`; connection settings in :mod:`.client`; :mod:`.member` wires a source and a
pipeline into :func:`finsentry.runner.run`.

Delivery is at least once from Kafka; the store upserts items by id and adds window deltas only for
new items, so a replay after a crash or a rebalance double counts nothing (exactly once in effect).
Offsets are committed only after the write, so a crash loses nothing either.
"""

from __future__ import annotations

from finsentry.sources.kafka.client import SOURCE, client_config, partition_input
from finsentry.sources.kafka.consumer import (
    FETCH_MAX_BYTES,
    PARTITION_FETCH_BYTES,
    RECEIVE_MAX_BYTES,
    ConsumeOptions,
    KafkaSource,
    Polled,
)
from finsentry.sources.kafka.deadletters import DeadLetterProducer, dead_letter_headers
from finsentry.sources.kafka.member import KEEP_ALERTS, FlushedBatch, KafkaNewsConsumer, consume
from finsentry.sources.kafka.offsets import OffsetLedger
from finsentry.sources.kafka.partitions import PartitionTracker

__all__ = [
    "FETCH_MAX_BYTES",
    "RECEIVE_MAX_BYTES",
    "KEEP_ALERTS",
    "PARTITION_FETCH_BYTES",
    "SOURCE",
    "ConsumeOptions",
    "DeadLetterProducer",
    "FlushedBatch",
    "KafkaNewsConsumer",
    "KafkaSource",
    "OffsetLedger",
    "PartitionTracker",
    "Polled",
    "client_config",
    "consume",
    "dead_letter_headers",
    "partition_input",
]
