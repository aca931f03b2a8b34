"""Publish a JSONL news file to a Kafka topic (``finsentry publish``): demos, tests, benchmarks.

Each non-blank line is sent as it is (bytes untouched, so malformed lines reach the consumer and
its dead-letter path). The message key is the item's first ticker, else its id, so one company's
news stays in one partition and in order; lines that are not JSON objects get no key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsentry.config import Settings
from finsentry.sources.kafka.client import client_config

log = logging.getLogger(__name__)


def message_key(line: bytes) -> bytes | None:
    """First ticker (``tickers`` as a list or a ``|``/``,`` separated string), else ``id``."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    tickers = value.get("tickers")
    if isinstance(tickers, str):
        tickers = [t for t in tickers.replace(",", "|").split("|") if t.strip()]
    if isinstance(tickers, list) and tickers and isinstance(tickers[0], str) and tickers[0].strip():
        return tickers[0].strip().upper().encode()
    ident = value.get("id")
    if isinstance(ident, str | int) and not isinstance(ident, bool):
        return str(ident).encode()
    return None


def ensure_topic(settings: Settings, topic: str, partitions: int, timeout_s: float = 30.0) -> bool:
    """Create ``topic`` with ``partitions`` partitions if it does not exist. True if created.

    Replicated like Kafka's own default for internal topics: three copies, or one a broker where
    the cluster is smaller. Returns once every partition has a leader, so a producer or a consumer
    group that starts right after finds the whole topic.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**client_config(settings), client_id="finsentry-admin")
    try:
        if topic in set(admin.list_topics()):
            return False
        replicas = max(1, min(3, len(admin.describe_cluster().get("brokers") or [])))
        try:
            admin.create_topics(
                [NewTopic(topic, partitions, replicas)], timeout_ms=int(timeout_s * 1000)
            )
        except TopicAlreadyExistsError:
            return False
        _wait_for_leaders(admin, topic, partitions, timeout_s)
        return True
    finally:
        admin.close()


def _wait_for_leaders(admin: Any, topic: str, partitions: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        described = admin.describe_topics([topic])
        led = [  # kafka-python 2.3 says "topic" and "leader", 3.0 "name" and "leader_id"
            p for t in described
            if topic in (t.get("topic"), t.get("name")) and not t.get("error_code")
            for p in t.get("partitions") or [] if p.get("leader", p.get("leader_id", -1)) >= 0
        ]  # fmt: skip
        if len(led) >= partitions:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"topic {topic!r} was created but {partitions - len(led)} of its {partitions} "
                f"partitions had no leader after {timeout_s:.0f} s; check the brokers' logs"
            )
        time.sleep(0.1)


def file_lines(path: str | Path) -> Iterator[bytes]:
    """Non-blank lines of a file, without their line endings."""
    with open(path, "rb") as handle:
        for line in handle:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


@dataclass(frozen=True, slots=True)
class PublishResult:
    sent: int
    failed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class NewsPublisher:
    """A Kafka producer for news lines, optionally paced to ``rate`` messages per second."""

    def __init__(self, settings: Settings, topic: str | None = None, **producer_config: Any) -> None:
        from kafka import KafkaProducer

        self.topic = topic or settings.kafka_topic
        config: dict[str, Any] = {"acks": "all", "linger_ms": 10, "batch_size": 128 * 1024}
        config.update(producer_config)
        self._producer = KafkaProducer(**client_config(settings), **config)
        self.failed = 0

    def _on_error(self, exc: BaseException) -> None:
        self.failed += 1
        if self.failed <= 5:
            log.error("a message could not be published: %s", exc)

    def send(self, value: bytes | None, key: bytes | None = None) -> None:
        if value is None and key is None:
            raise ValueError("a message needs a value or a key")
        future = self._producer.send(self.topic, value=value, key=key)
        future.add_errback(self._on_error)

    def publish(
        self,
        lines: Iterable[bytes],
        rate: float | None = None,
        on_sent: Callable[[int], object] | None = None,
    ) -> PublishResult:
        """Send every line (keyed by :func:`message_key`); wait until all are acknowledged."""
        started = time.monotonic()
        sent = 0
        for line in lines:
            if rate:
                ahead = started + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            self.send(line, message_key(line))
            sent += 1
            if on_sent is not None:
                on_sent(1)
        self._producer.flush()
        return PublishResult(sent - self.failed, self.failed, time.monotonic() - started)

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.close(timeout=30)


def publish_file(
    path: str | Path,
    settings: Settings,
    *,
    topic: str | None = None,
    rate: float | None = None,
    partitions: int | None = None,
    progress: bool = False,
) -> PublishResult:
    """Publish a JSONL file to ``topic`` (creating it with ``partitions`` if missing)."""
    from tqdm import tqdm

    name = topic or settings.kafka_topic
    if partitions is not None:
        ensure_topic(settings, name, partitions)
    total = sum(1 for _ in file_lines(path)) if progress else None
    publisher = NewsPublisher(settings, name)
    with tqdm(total=total, unit="msg", desc=f"publish {name}", disable=not progress) as bar:
        try:
            return publisher.publish(file_lines(path), rate=rate, on_sent=bar.update)
        finally:
            publisher.close()
