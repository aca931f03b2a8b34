"""The Kafka source's parts that need no broker: settings pass-through, keys, watermark, metrics."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest

from finsentry.aggregate import PartitionWatermark, Watermark
from finsentry.config import Settings
from finsentry.metrics import ConsumerMetrics
from finsentry.schema import DeadLetter, NewsItem
from finsentry.shutdown import GracefulStop
from finsentry.sources.kafka import (
    OffsetLedger,
    client_config,
    dead_letter_headers,
    partition_input,
)
from finsentry.sources.kafka.deadletters import dead_letter_messages
from finsentry.sources.publish import message_key

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def item(input_name: str, minutes: float) -> NewsItem:
    return NewsItem(
        id=f"{input_name}-{minutes}", published_at=T0 + timedelta(minutes=minutes), source="w",
        headline="h", input=input_name,
    )


def test_security_settings_are_passed_through() -> None:
    settings = Settings(
        kafka_bootstrap="b1:9096, b2:9096",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password="s3cret",  # type: ignore[arg-type]
        kafka_ssl_cafile="/etc/ca.pem",
    )
    config = client_config(settings)
    assert config == {
        "bootstrap_servers": ["b1:9096", "b2:9096"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": "/etc/ca.pem",
    }
    assert "s3cret" not in repr(settings)
    plain = client_config(Settings(kafka_bootstrap="127.0.0.1:9092"))
    assert plain == {"bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "PLAINTEXT"}


def test_message_keys_follow_the_first_ticker_then_the_id() -> None:
    assert message_key(b'{"id": "a1", "tickers": ["msft", "AAPL"]}') == b"MSFT"
    assert message_key(b'{"id": "a1", "tickers": "NVDA|AMD"}') == b"NVDA"
    assert message_key(b'{"id": "a1", "tickers": []}') == b"a1"
    assert message_key(b'{"id": 17}') == b"17"
    assert message_key(b"not json") is None
    assert message_key(b"\xff\xfe") is None
    assert message_key(b"[1, 2]") is None


def test_dead_letter_headers_say_why_and_where() -> None:
    dead = DeadLetter(b"x", "bad_json", "invalid JSON", "kafka", "news/3", 41)
    headers = dict(dead_letter_headers(dead, "news", 3, 41))
    assert headers == {
        "reason_code": b"bad_json",
        "reason": b"invalid JSON",
        "source_topic": b"news",
        "source_partition": b"3",
        "source_offset": b"41",
    }
    assert partition_input("news", 3) == "news/3"


def test_an_unheard_partition_holds_the_watermark() -> None:
    mark = PartitionWatermark(Watermark(600))
    mark.expect(["news/0", "news/1"])
    # partition 0 runs ahead while partition 1 has said nothing: nothing may be judged late yet
    assert mark.observe([item("news/0", 0), item("news/0", 120)]) == [False, False]
    assert mark.value is None
    # partition 1 arrives with older items: they are on time
    assert mark.observe([item("news/1", 5)]) == [False]
    assert mark.value == T0 + timedelta(minutes=5) - timedelta(seconds=600)
    # an item far behind every partition is late
    assert mark.observe([item("news/1", -60)]) == [True]


def test_an_idle_partition_is_released_and_a_revoked_one_forgotten() -> None:
    mark = PartitionWatermark(Watermark(60))
    mark.expect(["news/0", "news/1", "news/2"])
    mark.observe([item("news/0", 10), item("news/1", 3)])
    assert mark.value is None and mark.unheard == {"news/2"}
    mark.close_input("news/2")  # idle: caught up and silent
    assert mark.value == T0 + timedelta(minutes=3) - timedelta(seconds=60)
    mark.remove_input("news/1")  # revoked
    assert mark.value == T0 + timedelta(minutes=10) - timedelta(seconds=60)
    restored = PartitionWatermark(Watermark(60, mark.to_state()))
    assert restored.value == mark.value


def test_metrics_are_exposed_in_their_own_registry() -> None:
    first, second = ConsumerMetrics(), ConsumerMetrics()
    first.observe_batch(10, 8, ["bad_json", "null_value"], 0.5, 0.7, new_alerts=1)
    first.set_partition_lags({"0": 5}, {"0": 12.5})
    text = generate_latest(first.registry).decode()
    assert "finsentry_messages_consumed_total 10.0" in text
    assert "finsentry_messages_processed_total 8.0" in text
    assert 'finsentry_messages_dead_lettered_total{reason="bad_json"} 1.0' in text
    assert 'finsentry_consumer_lag{partition="0"} 5.0' in text
    assert 'finsentry_event_lag_seconds{partition="0"} 12.5' in text
    assert "finsentry_alerts_total 1.0" in text
    assert "finsentry_messages_consumed_total 0.0" in generate_latest(second.registry).decode()
    first.forget_partitions(["0"])
    assert 'finsentry_consumer_lag{partition="0"}' not in generate_latest(first.registry).decode()


def test_the_first_signal_asks_to_stop() -> None:
    stop = GracefulStop()
    assert not stop.requested
    stop._handle(signal.SIGTERM, None)
    assert stop.requested


def test_metrics_are_served_over_http() -> None:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    metrics = ConsumerMetrics()
    metrics.observe_batch(3, 3, [], 0.1, 0.2)
    assert metrics.serve(port) == ("127.0.0.1", port)  # loopback by default
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert "finsentry_messages_processed_total 3.0" in body
    assert "finsentry_batch_size_bucket" in body


def consumer_record(partition: int, offset: int, key: bytes | None, value: bytes | None) -> Any:
    from kafka.consumer.fetcher import ConsumerRecord

    return ConsumerRecord("news", partition, -1, offset, 0, 0, key, value, [], None, -1, -1, -1)


def test_the_ledger_keeps_the_next_offset_after_what_is_durable() -> None:
    from kafka import TopicPartition

    ledger = OffsetLedger()
    assert not ledger.pending and ledger.position(TopicPartition("news", 0)) is None
    ledger.durable([consumer_record(0, 5, None, b"a"), consumer_record(1, 9, None, b"b"),
                    consumer_record(0, 7, None, b"c")])
    ledger.durable([consumer_record(0, 6, None, b"d")])  # an older offset never moves it back
    assert ledger.pending
    assert ledger.positions() == {TopicPartition("news", 0): 8, TopicPartition("news", 1): 10}


def test_dead_letter_messages_keep_the_original_key_and_bytes() -> None:
    records = [consumer_record(2, 41, b"k", b"{oops"), consumer_record(2, 42, None, None),
               consumer_record(3, 7, b"t", None)]
    dead = [DeadLetter(b"", "bad_json", "invalid JSON", "kafka", "news/2", 41),
            DeadLetter(b"", "empty", "empty message", "kafka", "news/2", 42),
            DeadLetter(b"", "empty", "empty message", "kafka", "news/3", 7)]
    messages = dead_letter_messages(dead, records)
    assert [(topic, key, value) for topic, key, value, _ in messages] == [
        ("news", b"k", b"{oops"), ("news", None, b""), ("news", b"t", None)  # a keyless tombstone cannot be sent as one
    ]
    assert dict(messages[2][3])["source_offset"] == b"7"


class CommitRecorder:
    """A consumer stand-in that owns partitions 0 and 1 and records asynchronous commits."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[Any, int], Any]] = []

    def assignment(self) -> set[Any]:
        from kafka import TopicPartition

        return {TopicPartition("news", 0), TopicPartition("news", 1)}

    def commit_async(self, offsets: dict[Any, Any], callback: Any = None) -> None:
        self.sent.append(({tp: meta.offset for tp, meta in offsets.items()}, callback))


def test_one_commit_is_in_flight_and_the_next_covers_the_batches_stored_meanwhile() -> None:
    from kafka import TopicPartition

    p0, p1 = TopicPartition("news", 0), TopicPartition("news", 1)
    consumer, ledger = CommitRecorder(), OffsetLedger()
    ledger.durable([consumer_record(0, 9, None, b"a")])
    ledger.commit(consumer)
    ledger.durable([consumer_record(0, 19, None, b"b")])
    ledger.commit(consumer)  # the first is still on its way: nothing more is sent
    ledger.durable([consumer_record(1, 4, None, b"c")])
    ledger.commit(consumer)
    assert [offsets for offsets, _ in consumer.sent] == [{p0: 10}]
    consumer.sent[0][1]({p0: 10}, None)  # the broker answers the first
    assert ledger.pending  # what was stored meanwhile is still to commit
    ledger.commit(consumer)
    assert [offsets for offsets, _ in consumer.sent][1] == {p0: 20, p1: 5}
    consumer.sent[1][1]({p0: 20, p1: 5}, None)
    assert not ledger.pending


def test_a_failed_commit_stays_pending_and_is_sent_again() -> None:
    from kafka import TopicPartition

    consumer, ledger = CommitRecorder(), OffsetLedger()
    ledger.durable([consumer_record(1, 2, None, b"a")])
    ledger.commit(consumer)
    consumer.sent[0][1]({}, RuntimeError("coordinator moved"))
    assert ledger.pending
    ledger.commit(consumer)
    assert [offsets for offsets, _ in consumer.sent] == [{TopicPartition("news", 1): 3}] * 2


def test_a_rebalance_restarts_the_idle_exit_clock(monkeypatch: Any) -> None:
    """A member that gets partitions after 20 idle seconds does not leave at 25: the idle clock
    counts from its new assignment (its peer may only just have joined the group)."""
    from collections import namedtuple

    import finsentry.sources.kafka.consumer as consumer_module
    from finsentry.sources.kafka.consumer import ConsumeOptions, KafkaSource

    clock = [1000.0]
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: clock[0])
    TP = namedtuple("TP", "topic partition")
    source = KafkaSource(Settings(kafka_topic="news"), ConsumeOptions(idle_exit_s=25))

    class Quiet:
        """Polls return nothing; at 20 s the group hands this member partition 0."""

        owned: set[Any] = set()

        def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
            clock[0] += max(timeout_ms, 100) / 1000
            if not self.owned and clock[0] >= 1020.0:
                self.owned = {TP("news", 0)}
                source._on_assigned(set(self.owned))
            return {}

        def assignment(self) -> set[Any]:
            return self.owned

    source._consumer = Quiet()
    batches = list(source._loop())
    assert any(b.assignment is not None for b in batches)
    assert clock[0] >= 1044.5  # 25 s after the assignment at ~1020, not at 1025
    assert clock[0] < 1047.0


def test_a_slow_batch_does_not_add_a_full_wait_to_the_records_behind_it(monkeypatch: Any) -> None:
    """Records arriving while a batch is scored are cut as soon as they have waited
    batch_max_wait_ms, counted from the poll before them: not a whole wait again from the poll
    that picks them up. Over 3 s of a steady stream with 0.8 s of scoring a batch, no record waits
    in the consumer longer than the scoring of the batch ahead of it (it waited 1.3 s before)."""
    from collections import namedtuple

    import finsentry.sources.kafka.consumer as consumer_module
    from finsentry.sources.kafka.consumer import ConsumeOptions, KafkaSource

    clock = [1000.0]
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: clock[0])
    TP = namedtuple("TP", "topic partition")
    Rec = namedtuple("Rec", "topic partition offset key value timestamp")
    tp = TP("news", 0)
    arrivals = [1000.0 + i * 0.02 for i in range(150)]  # 50 a second for 3 s
    settings = Settings(kafka_topic="news", batch_max_items=500, batch_max_wait_ms=500)
    source = KafkaSource(settings, ConsumeOptions(max_messages=len(arrivals)))

    class Stream:
        sent = 0

        def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
            pending = [t for t in arrivals[self.sent :] if t <= clock[0]]
            if not pending:  # wait for the next record or the time-out
                clock[0] = min(arrivals[self.sent], clock[0] + timeout_ms / 1000)
                pending = [t for t in arrivals[self.sent :] if t <= clock[0]]
            clock[0] += 0.001
            batch = pending[:max_records]
            out = [Rec("news", 0, self.sent + i, None, b"{}", 0) for i in range(len(batch))]
            self.sent += len(batch)
            return {tp: out} if out else {}

        def assignment(self) -> set[Any]:
            return {tp}

    source._consumer = Stream()
    waits: list[float] = []
    for batch in source._loop():
        if batch.records:
            cut = clock[0]
            waits += [cut - arrivals[r.offset] for r in batch.position.records]
            clock[0] += 0.8  # scoring and storing this batch
    assert len(waits) == len(arrivals)
    assert max(waits) <= 0.8 + 0.05


def test_records_held_in_kafka_behind_a_due_batch_join_it(monkeypatch: Any) -> None:
    """After a slow batch the first poll returns only the fetch that was in flight (a few
    records); the rest of what arrived meanwhile needs one more fetch. Cut alone, the few made a
    tiny batch and the rest waited a whole batch_max_wait_ms behind it, then formed a big, slow
    batch: a cycle in which records waited 2-3 s end to end at 300 msg/s. A due batch now polls on
    briefly, so the backlog goes in one batch and the stream settles into batches of what arrives
    while one is processed. Fake clock; processing costs 0.2 s plus 2 ms a record."""
    from collections import namedtuple

    import finsentry.sources.kafka.consumer as consumer_module
    from finsentry.sources.kafka.consumer import ConsumeOptions, KafkaSource

    clock = [1000.0]
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: clock[0])
    TP = namedtuple("TP", "topic partition")
    Rec = namedtuple("Rec", "topic partition offset key value timestamp")
    tp = TP("news", 0)
    arrivals = [1000.0 + i / 300 for i in range(3000)]  # 300 a second for 10 s
    settings = Settings(kafka_topic="news", batch_max_items=512, batch_max_wait_ms=500)
    source = KafkaSource(settings, ConsumeOptions(max_messages=len(arrivals)))

    class Fetcher:
        """What kafka-python does: a poll hands out what the last fetch brought; after a pause
        between polls only an in-flight fetch's few records are there; the next poll, 2 ms
        later, gets everything that had arrived."""

        sent = 0
        last_poll = 1000.0

        def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
            paused = clock[0] - self.last_poll > 0.1
            pending = [t for t in arrivals[self.sent :] if t <= clock[0]]
            if not pending:
                clock[0] = min(arrivals[self.sent], clock[0] + timeout_ms / 1000)
                pending = [t for t in arrivals[self.sent :] if t <= clock[0]]
            clock[0] += 0.002
            self.last_poll = clock[0]
            batch = pending[: min(max_records, 4 if paused else max_records)]
            out = [Rec("news", 0, self.sent + i, None, b"{}", 0) for i in range(len(batch))]
            self.sent += len(batch)
            return {tp: out} if out else {}

        def assignment(self) -> set[Any]:
            return {tp}

    source._consumer = Fetcher()
    latencies: list[float] = []
    sizes: list[int] = []
    for batch in source._loop():
        if batch.records:
            clock[0] += 0.2 + 0.002 * len(batch.records)  # processing, then durable
            latencies += [clock[0] - arrivals[r.offset] for r in batch.position.records]
            sizes.append(len(batch.records))
    assert len(latencies) == len(arrivals)
    latencies.sort()
    assert latencies[int(0.99 * len(latencies))] < 1.2, sizes  # was 2.2 s, with batches 4, 400, 4...
    assert sum(size < 10 for size in sizes[5:]) <= 1, sizes
