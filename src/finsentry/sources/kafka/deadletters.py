"""The dead-letter producer: bad records to ``<topic>.dlq`` with their key, bytes and reason.

The producer waits for every dead letter to be acknowledged (``acks=all``) and retries those that
were not, so a batch's offsets are committed only once its dead letters are safe on the topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from finsentry.schema import DeadLetter
from finsentry.sources.kafka.client import partition_input

log = logging.getLogger(__name__)

# source topic, key, value, headers
Message = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


def dead_letter_headers(dead: DeadLetter, topic: str, partition: int, offset: int) -> list[
    tuple[str, bytes]
]:
    """Headers of a dead-letter message: why it failed and where it came from."""
    return [
        ("reason_code", dead.reason_code.encode()),
        ("reason", dead.reason.encode()),
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
    ]


def dead_letter_messages(dead_letters: Sequence[DeadLetter], records: Sequence[Any]) -> list[Message]:
    """One DLQ message per dead letter: the original record's key and value, and the headers."""
    by_position = {(partition_input(r.topic, r.partition), r.offset): r for r in records}
    messages: list[Message] = []
    for dead in dead_letters:
        record = by_position[(dead.input, dead.position)]
        value = record.value
        if value is None and record.key is None:
            value = b""  # a keyless tombstone cannot be produced as such
        headers = dead_letter_headers(dead, record.topic, record.partition, record.offset)
        messages.append((record.topic, record.key, value, headers))
    return messages


class DeadLetterProducer:
    """Produces dead letters to the dead-letter topic of their source topic (``topic_for``) and
    returns only once all are acknowledged."""

    def __init__(self, topic_for: Callable[[str], str], config: dict[str, Any]) -> None:
        self.topic_for = topic_for
        self._config = config
        self._producer: Any = None

    def open(self) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(
            **self._config,
            acks="all",
            linger_ms=5,
            max_block_ms=10_000,
            request_timeout_ms=15_000,
            delivery_timeout_ms=30_000,
        )

    def close(self) -> None:
        """Close the producer; an error here is logged, never raised (we are shutting down)."""
        if self._producer is None:
            return
        try:
            self._producer.close(timeout=10)
        except Exception as exc:  # noqa: BLE001 - shutting down: report, go on
            log.warning("closing the Kafka producer failed: %s", exc)
        self._producer = None

    def send(self, dead_letters: Sequence[DeadLetter], records: Sequence[Any]) -> None:
        """Send the dead letters of ``records`` (kafka-python ConsumerRecords); retry until acked."""
        messages = dead_letter_messages(dead_letters, records)
        attempt = 0
        while messages:
            attempt += 1
            messages = self._send_once(messages)
            if messages:
                log.warning(
                    "%d dead letters not acknowledged by %s (attempt %d); retrying",
                    len(messages), ", ".join(sorted({self.topic_for(m[0]) for m in messages})), attempt,
                )
                time.sleep(min(5.0, 0.5 * attempt))

    def _send_once(self, messages: list[Message]) -> list[Message]:
        """One round: send all, flush, return the messages not acknowledged."""
        sent: list[tuple[Message, Any]] = []
        for message in messages:
            source, key, value, headers = message
            try:
                topic = self.topic_for(source)
                future = self._producer.send(topic, value=value, key=key, headers=headers)
            except Exception as exc:  # noqa: BLE001 - broker away: retried by the caller
                log.warning("dead-letter topic unavailable (%s); retrying", exc)
                future = None
            sent.append((message, future))
        try:
            self._producer.flush(timeout=30)
        except Exception as exc:  # noqa: BLE001 - unacknowledged ones are retried by the caller
            log.warning("dead-letter flush incomplete (%s)", exc)
        return [m for m, f in sent if f is None or not f.succeeded()]
