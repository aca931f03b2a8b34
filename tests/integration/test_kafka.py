"""The Kafka consumer against a real broker: bad input, dead letters, exactly once in effect."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finsentry.pipeline import Pipeline
from finsentry.schema import ScopeKind
from finsentry.sources.kafka import ConsumeOptions, KafkaNewsConsumer
from finsentry.store import open_store
from tests.fixtures.kafka import KafkaBroker, malformed_messages, news_lines
from tests.fixtures.registry import Registry, avro_framed
from tests.fixtures.scorers import LexiconScorer

pytestmark = pytest.mark.kafka

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR = datetime(2200, 1, 1, tzinfo=UTC)
MAX_RECORD_BYTES = 20_000


def test_bulk_stream_with_malformed_messages(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    topic = kafka_broker.create_topic("bulk", partitions=3)
    now = datetime.now(UTC).replace(microsecond=0)
    valid = news_lines(9_700, start=now - timedelta(hours=6), seed=11)
    bad = malformed_messages(300, now=now, max_record_bytes=MAX_RECORD_BYTES)
    # interleave: one bad message after every ~32 good ones
    messages: list[tuple[bytes | None, bytes | None]] = []
    expected_reason: dict[tuple[int, int], str] = {}
    bad_at = {i * 32 + 7: b for i, b in enumerate(bad)}
    order: list[str | None] = []
    good = iter(valid)
    for i in range(len(valid) + len(bad)):
        if i in bad_at:
            key, value, reason = bad_at[i]
            messages.append((key, value))
            order.append(reason)
        else:
            line = next(good)
            messages.append((json.loads(line)["tickers"][0].encode(), line))
            order.append(None)
    positions = kafka_broker.produce(topic, messages)
    for (partition, offset), reason in zip(positions, order, strict=True):
        if reason is not None:
            expected_reason[(partition, offset)] = reason
    assert len(expected_reason) == 300

    settings = kafka_broker.settings(
        db=str(tmp_path / "bulk.db"),
        kafka_topic=topic,
        kafka_group="bulk-test",
        batch_max_items=500,
        batch_max_wait_ms=300,
        max_record_bytes=MAX_RECORD_BYTES,
        allowed_lateness_s=600,
    )
    store = open_store(settings.db)
    pipeline = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    consumer = KafkaNewsConsumer(
        settings,
        pipeline,
        options=ConsumeOptions(max_messages=10_000, session_timeout_ms=6000),
    )
    totals = consumer.run()

    assert totals.consumed == 10_000
    assert totals.processed == 9_700
    assert totals.dead_lettered == 300
    assert totals.consumed == totals.processed + totals.dead_lettered
    assert totals.dead_reasons == dict(Counter(expected_reason.values()))

    # every valid item exactly once: stored by id, counted once in the windows
    ids = [json.loads(line)["id"] for line in valid]
    assert store.known_ids(ids) == set(ids)
    counts = store.counts()
    assert counts["items"] == 9_700
    assert counts["dead_letters"] == 300
    assert counts["late"] == 0
    for size in settings.window_sizes_s:
        stats = store.window_stats(size, EPOCH, FAR, ScopeKind.ALL, "*")
        assert sum(s.count + s.duplicates for s in stats) == 9_700

    # every bad one is on the DLQ topic, with its original bytes, key and reason
    originals = dict(zip(positions, messages, strict=True))
    dlq = kafka_broker.read_all(settings.dlq_topic)
    assert len(dlq) == 300
    seen = {}
    for message in dlq:
        headers = {k: v.decode() for k, v in message.headers}
        assert headers["source_topic"] == topic
        where = (int(headers["source_partition"]), int(headers["source_offset"]))
        key, value = originals[where]
        assert message.key == key
        assert message.value == value
        assert headers["reason"]
        seen[where] = headers["reason_code"]
    assert seen == expected_reason

    # exactly the processed offsets are committed
    ends = {p: n for p, n in Counter(p for p, _ in positions).items()}
    assert kafka_broker.committed("bulk-test", topic) == ends
    pipeline.close()


@pytest.mark.slow
def test_publish_and_consume_with_the_default_model(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """The real CLI end to end: finsentry publish, then finsentry consume with the real model."""
    now = datetime.now(UTC).replace(microsecond=0)
    lines = news_lines(40, start=now - timedelta(hours=1), seed=5) + [b"{oops", b"[]"]
    path = tmp_path / "news.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "e2e.db"
    env_args = ["--bootstrap", kafka_broker.bootstrap, "--topic", "e2e"]
    published = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "finsentry", "publish", str(path), *env_args, "--partitions", "2",
         "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert published.returncode == 0, published.stderr
    assert "published 42 messages" in published.stdout

    consumed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "finsentry", "consume", *env_args, "--group", "e2e",
         "--db", str(db), "--max-messages", "42", "--quiet", "--session-timeout-ms", "6000"],
        capture_output=True, text=True, timeout=600, check=False,
        env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"),
    )
    assert consumed.returncode == 0, consumed.stderr[-3000:]
    assert "consumed 42 = processed 40 + dead-lettered 2" in consumed.stdout

    store = open_store(str(db))
    try:
        assert store.counts()["items"] == 40
        items = store.items_between(now - timedelta(days=1), now + timedelta(days=1), limit=100)
        assert len(items) == 40
        assert all(item.model and "lexicon" not in item.model for item in items)
        assert all(
            abs(i.scores.negative + i.scores.neutral + i.scores.positive - 1) < 1e-3
            for i in items
        )
    finally:
        store.close()
    reasons = sorted(
        dict(m.headers)["reason_code"].decode() for m in kafka_broker.read_all("e2e.dlq")
    )
    assert reasons == ["bad_json", "not_object"]


def test_silent_partitions_are_released_and_lag_is_measured(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """Partition 2 never speaks: once the others are caught up and quiet, every partition is
    released as idle, so the watermark reaches the last item and its windows become final."""
    from kafka import KafkaProducer
    from prometheus_client import generate_latest

    from finsentry.metrics import ConsumerMetrics

    topic = kafka_broker.create_topic("silent", partitions=3)
    now = datetime.now(UTC).replace(microsecond=0)
    lines = news_lines(60, start=now - timedelta(hours=2), seed=21)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    try:
        for i, value in enumerate(lines):
            producer.send(topic, value=value, partition=i % 2)
        producer.flush()
    finally:
        producer.close()
    settings = kafka_broker.settings(
        db=str(tmp_path / "silent.db"), kafka_topic=topic, kafka_group="silent-test",
        batch_max_items=25, batch_max_wait_ms=200, allowed_lateness_s=60,
    )
    pipeline = Pipeline.from_settings(settings, store=open_store(settings.db), scorer=LexiconScorer())
    metrics = ConsumerMetrics()
    consumer = KafkaNewsConsumer(
        settings, pipeline, metrics=metrics,
        options=ConsumeOptions(idle_exit_s=8, partition_idle_s=1.0, session_timeout_ms=6000),
    )
    totals = consumer.run()

    assert (totals.consumed, totals.processed, totals.dead_lettered) == (60, 60, 0)
    last = max(datetime.fromisoformat(json.loads(line)["published_at"]) for line in lines)
    assert pipeline.watermark.value == last  # every partition closed: all windows final
    assert set(pipeline.input_times) == {f"{topic}/0", f"{topic}/1"}
    committed = kafka_broker.committed("silent-test", topic)
    assert {p: o for p, o in committed.items() if o >= 0} == {0: 30, 1: 30}  # 2: nothing
    text = generate_latest(metrics.registry).decode()
    assert "finsentry_messages_consumed_total 60.0" in text
    assert 'finsentry_consumer_lag{partition="0"} 0.0' in text
    assert 'finsentry_consumer_lag{partition="1"} 0.0' in text
    assert 'finsentry_event_lag_seconds{partition="1"}' in text
    pipeline.close()


def test_a_message_the_model_fails_on_goes_to_the_dlq_and_the_rest_commits(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    class Brittle(LexiconScorer):
        def score(self, texts: Any, targets: Any = None) -> Any:
            if any("QQQ" in t for t in texts):
                raise ValueError("the model cannot read this text")
            return super().score(texts, targets)

    topic = kafka_broker.create_topic("brittle", partitions=2)
    now = datetime.now(UTC).replace(microsecond=0)
    lines = news_lines(40, start=now - timedelta(hours=1), seed=31)
    rows = [json.loads(line) for line in lines]
    rows[17]["headline"] += " QQQ"
    positions = kafka_broker.produce(topic, [(r["id"].encode(), json.dumps(r).encode()) for r in rows])
    settings = kafka_broker.settings(
        db=str(tmp_path / "brittle.db"), kafka_topic=topic, kafka_group="brittle-test",
        batch_max_items=100, batch_max_wait_ms=500,
    )
    pipeline = Pipeline.from_settings(settings, store=open_store(settings.db), scorer=Brittle())
    consumer = KafkaNewsConsumer(
        settings, pipeline, options=ConsumeOptions(max_messages=40, session_timeout_ms=6000)
    )
    totals = consumer.run()
    assert (totals.consumed, totals.processed, totals.dead_lettered) == (40, 39, 1)
    assert totals.dead_reasons == {"scoring_failed": 1}
    [dead] = kafka_broker.read_all(settings.dlq_topic)
    headers = {k: v.decode() for k, v in dead.headers}
    partition, offset = positions[17]
    assert (headers["reason_code"], headers["source_partition"], headers["source_offset"]) == (
        "scoring_failed", str(partition), str(offset))
    assert dead.value == json.dumps(rows[17]).encode()
    assert pipeline.store.counts()["items"] == 39
    ends = dict(Counter(p for p, _ in positions))
    assert kafka_broker.committed("brittle-test", topic) == ends
    pipeline.close()


def test_a_full_fetch_is_read_on_the_first_connection(
    kafka_broker: KafkaBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One partition holding ~3 MB: the first fetch fills PARTITION_FETCH_BYTES. kafka-python 2.3
    starts each connection accepting frames of at most 1,000,000 bytes; without a larger
    ``receive_message_max_bytes`` that fetch was refused ("Invalid frame length"), the connection
    closed and the fetch sent again."""
    import logging

    topic = kafka_broker.create_topic("big-fetch", partitions=1)
    now = datetime.now(UTC).replace(microsecond=0)
    lines = []
    for line in news_lines(3_000, start=now - timedelta(hours=3), seed=19, step_s=1.0):
        row = json.loads(line)
        row["body"] = f"{row['headline']}. " * 12  # ~1 KB a message
        lines.append(json.dumps(row).encode())
    kafka_broker.produce(topic, [(None, line) for line in lines])
    assert sum(len(line) for line in lines) > 2_500_000

    settings = kafka_broker.settings(
        db=str(tmp_path / "big.db"), kafka_topic=topic, kafka_group="big-fetch",
        batch_max_items=500, allowed_lateness_s=600,
    )  # fmt: skip
    store = open_store(settings.db)
    pipeline = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    try:
        with caplog.at_level(logging.WARNING, logger="kafka"):
            totals = KafkaNewsConsumer(
                settings, pipeline, options=ConsumeOptions(max_messages=3_000)
            ).run()
    finally:
        pipeline.close()
    assert totals.processed == 3_000
    refused = [r.getMessage() for r in caplog.records if "frame length" in r.getMessage()]
    assert refused == []


def consume_once(settings: Any, messages: int) -> Any:
    """One consumer of ``settings`` (lexicon scorer) until it has handled ``messages``."""
    pipeline = Pipeline.from_settings(settings, scorer=LexiconScorer())
    try:
        return KafkaNewsConsumer(
            settings, pipeline, options=ConsumeOptions(max_messages=messages, session_timeout_ms=6000)
        ).run()
    finally:
        pipeline.close()


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_topics_written_with_any_compression_are_read(
    kafka_broker: KafkaBroker, tmp_path: Path, codec: str
) -> None:
    """Producers of real clusters compress their batches; the light install reads every codec
    Kafka has (kafka-python needs python-snappy, lz4 and zstandard for three of them)."""
    topic = kafka_broker.create_topic(f"compressed-{codec}", partitions=1)
    lines = news_lines(30, start=datetime.now(UTC) - timedelta(hours=1), seed=41)
    kafka_broker.produce(topic, [(None, line) for line in lines], compression=codec)
    settings = kafka_broker.settings(
        db=str(tmp_path / f"{codec}.db"), kafka_topic=topic, kafka_group=f"compressed-{codec}",
        batch_max_items=16, batch_max_wait_ms=200,
    )  # fmt: skip
    stats = consume_once(settings, 30)
    assert (stats.consumed, stats.processed, stats.dead_lettered) == (30, 30, 0)
    store = open_store(str(tmp_path / f"{codec}.db"))
    try:
        assert store.counts()["items"] == 30
    finally:
        store.close()


def test_a_codec_this_install_lacks_is_named_with_the_fix(
    kafka_broker: KafkaBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kafka.codec
    from click.testing import CliRunner

    from finsentry.cli import main

    topic = kafka_broker.create_topic("compressed-missing", partitions=1)
    lines = news_lines(5, start=datetime.now(UTC) - timedelta(hours=1), seed=43)
    kafka_broker.produce(topic, [(None, line) for line in lines], compression="lz4")
    monkeypatch.setattr(kafka.codec, "has_lz4", lambda: False)  # as without the lz4 package
    result = CliRunner().invoke(main, [
        "consume", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "--group", "nolz4",
        "--db", str(tmp_path / "nolz4.db"), "--max-messages", "5", "--quiet",
    ])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "cannot read" in result.output and "pip install 'finsentry[kafka]'" in result.output


def test_the_message_key_is_the_id_of_records_without_one(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic = kafka_broker.create_topic("keyed", partitions=1)
    published = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    records = [
        {"headline": f"Acme keyed story {i}", "published_at": published, "source": "Wire"}
        for i in range(6)
    ]
    keys = [f"story-{i}".encode() for i in range(5)] + [None]  # the last has neither id nor key
    kafka_broker.produce(topic, [(k, json.dumps(r).encode()) for k, r in zip(keys, records, strict=True)])
    settings = kafka_broker.settings(
        db=str(tmp_path / "keyed.db"), kafka_topic=topic, kafka_group="keyed",
        batch_max_items=16, batch_max_wait_ms=200, input_fields=("id=@key",),
    )  # fmt: skip
    stats = consume_once(settings, 6)
    assert (stats.consumed, stats.processed, stats.dead_lettered) == (6, 5, 1)
    store = open_store(str(tmp_path / "keyed.db"))
    try:
        assert store.known_ids([f"story-{i}" for i in range(6)]) == {f"story-{i}" for i in range(5)}
    finally:
        store.close()


def test_records_of_another_system_are_read_with_its_field_names(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """Another system's producer: its own field names, event times in Unix milliseconds (as
    Kafka keeps them), no ids. ``input_fields`` reads them; re-consuming stores nothing twice."""
    topic = kafka_broker.create_topic("foreign", partitions=2)
    start = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    records = [
        {"title": f"Acme plant story number {i} from the wire", "ts": start + i * 60_000,
         "publisher": "Harbor Wire", "symbols": "ACME"}
        for i in range(40)
    ]  # fmt: skip
    kafka_broker.produce(topic, [(None, json.dumps(r).encode()) for r in records])
    fields = ("headline=title", "published_at=ts", "source=publisher", "tickers=symbols", "id=@content")

    def consume(group: str) -> Any:
        settings = kafka_broker.settings(
            db=str(tmp_path / "foreign.db"), kafka_topic=topic, kafka_group=group,
            batch_max_items=16, batch_max_wait_ms=200, input_fields=fields,
        )  # fmt: skip
        pipeline = Pipeline.from_settings(settings, scorer=LexiconScorer())
        try:
            return KafkaNewsConsumer(
                settings, pipeline, options=ConsumeOptions(max_messages=40, session_timeout_ms=6000)
            ).run()
        finally:
            pipeline.close()

    first = consume("foreign-a")
    assert (first.consumed, first.processed, first.dead_lettered) == (40, 40, 0)
    again = consume("foreign-b")  # another group reads the same messages
    assert again.processed == 40 and again.new_items == 0
    store = open_store(str(tmp_path / "foreign.db"))
    try:
        assert store.counts()["items"] == 40
        stats = store.window_stats(3600, EPOCH, FAR, ScopeKind.TICKER, "ACME")
        assert sum(s.count + s.duplicates for s in stats) == 40  # tickers from "symbols"
        first_at, last_at = store.time_range()
        assert first_at == datetime.fromtimestamp(start / 1000, UTC)
        assert last_at == datetime.fromtimestamp((start + 39 * 60_000) / 1000, UTC)
    finally:
        store.close()


def test_several_topics_are_read_as_one_stream_with_a_dead_letter_topic_each(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """A desk's feeds on topics of their own (--topic wire,rss): one group reads them all, each
    partition of each topic holds the watermark as one input, each topic's bad records go to its
    own <topic>.dlq."""
    start = datetime.now(UTC) - timedelta(hours=2)
    wire = kafka_broker.create_topic("multi-wire", partitions=2)
    rss = kafka_broker.create_topic("multi-rss", partitions=1)
    wire_lines, rss_lines = news_lines(60, start=start, seed=31), news_lines(40, start=start, seed=32)
    kafka_broker.produce(wire, [(None, v) for v in wire_lines] + [(b"w", b"{broken")])
    kafka_broker.produce(rss, [(None, v) for v in rss_lines] + [(b"r", b"")])
    settings = kafka_broker.settings(
        db=str(tmp_path / "multi.db"), kafka_topic=f"{wire}, {rss}", kafka_group="multi",
        batch_max_items=32, batch_max_wait_ms=200,
    )  # fmt: skip
    # the rss feed's records carry no source: the topic names it (--field source=@topic)
    for line in rss_lines[:10]:
        row = json.loads(line)
        del row["source"]
        kafka_broker.produce(rss, [(None, json.dumps(row | {"id": row["id"] + "-nosrc"}).encode())])
    settings = settings.with_overrides(input_fields=("source=@topic",))
    assert settings.kafka_topics == (wire, rss)
    pipeline = Pipeline.from_settings(settings, scorer=LexiconScorer())
    try:
        totals = KafkaNewsConsumer(
            settings, pipeline, options=ConsumeOptions(max_messages=112, session_timeout_ms=6000)
        ).run()
        inputs = set(pipeline.input_times)
    finally:
        pipeline.close()
    assert (totals.consumed, totals.processed, totals.dead_lettered) == (112, 110, 2)
    assert inputs == {f"{wire}/0", f"{wire}/1", f"{rss}/0"}
    store = open_store(settings.db)
    try:
        ids = [json.loads(v)["id"] for v in wire_lines + rss_lines]
        assert store.known_ids(ids) == set(ids)
        sourceless = [json.loads(v)["id"] + "-nosrc" for v in rss_lines[:10]]
        assert store.known_ids(sourceless) == set(sourceless)
    finally:
        store.close()
    con = sqlite3.connect(settings.db)
    try:
        rows = con.execute("SELECT DISTINCT source FROM items WHERE id LIKE '%-nosrc'").fetchall()
        assert rows == [(rss,)]
    finally:
        con.close()
    for topic, key in ((wire, b"w"), (rss, b"r")):
        [dead] = kafka_broker.read_all(f"{topic}.dlq")
        assert dead.key == key and dict(dead.headers)["source_topic"] == topic.encode()


def test_a_topic_list_is_checked_and_publish_takes_one_topic(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from finsentry.cli.kafka import publish
    from finsentry.config import Settings

    with pytest.raises(ValueError, match="not a Kafka topic name"):
        Settings(kafka_topic="news, wire feed")
    with pytest.raises(ValueError, match="the dead-letter topic is one topic"):
        Settings(kafka_dlq_topic="a.dlq,b.dlq")
    assert Settings(kafka_topic="wire,rss,wire").kafka_topics == ("wire", "rss")
    lines = tmp_path / "news.jsonl"
    lines.write_text("{}\n")
    found = CliRunner().invoke(publish, [str(lines), "--topic", "wire,rss"])
    assert found.exit_code == 2 and "publish writes to one topic" in found.output


def test_the_record_timestamp_is_the_time_of_records_without_one(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic = kafka_broker.create_topic("untimed", partitions=1)
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    records = [{"id": f"untimed-{i}", "headline": f"Acme untimed story {i}", "source": "Wire"} for i in range(4)]
    kafka_broker.produce(topic, [(None, json.dumps(r).encode()) for r in records])
    after = datetime.now(UTC) + timedelta(seconds=1)
    settings = kafka_broker.settings(
        db=str(tmp_path / "untimed.db"), kafka_topic=topic, kafka_group="untimed",
        batch_max_items=16, batch_max_wait_ms=200, input_fields=("published_at=@timestamp",),
    )  # fmt: skip
    stats = consume_once(settings, 4)
    assert (stats.consumed, stats.processed, stats.dead_lettered) == (4, 4, 0)
    store = open_store(settings.db)
    try:
        first_at, last_at = store.time_range()
        assert before <= first_at <= last_at <= after  # the producer's CreateTime, to the ms
    finally:
        store.close()


def test_avro_values_of_a_schema_registry_are_read(
    kafka_broker: KafkaBroker, schema_registry: Registry, tmp_path: Path
) -> None:
    """A topic written with Confluent's Avro serializer: the consumer asks the registry for the
    schema and stores the records; a record of an unknown schema is a dead letter."""
    topic = kafka_broker.create_topic("avro-news", partitions=2)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    rows = [
        {"id": f"avro-{i}", "published_at": at + timedelta(minutes=i), "source": "Wire",
         "headline": f"Acme avro story number {i}", "tickers": ["ACME"], "body": None}
        for i in range(20)
    ]  # fmt: skip
    values = [avro_framed(r) for r in rows]
    values.append(b"\x00" + (9).to_bytes(4, "big") + values[0][5:])  # a schema the registry lacks
    kafka_broker.produce(topic, [(None, v) for v in values])
    settings = kafka_broker.settings(
        db=str(tmp_path / "avro.db"), kafka_topic=topic, kafka_group="avro",
        batch_max_items=8, batch_max_wait_ms=200, schema_registry_url=schema_registry.url,
    )  # fmt: skip
    stats = consume_once(settings, 21)
    assert (stats.consumed, stats.processed, stats.dead_lettered) == (21, 20, 1)
    assert stats.dead_reasons == {"bad_avro": 1}
    store = open_store(settings.db)
    try:
        assert store.known_ids([r["id"] for r in rows]) == {r["id"] for r in rows}
        assert store.time_range() == (at, at + timedelta(minutes=19))
    finally:
        store.close()
    assert [path for path, _ in schema_registry.requests].count("/schemas/ids/1") == 1


def test_an_unreachable_registry_stops_the_consumer_and_loses_nothing(
    kafka_broker: KafkaBroker, schema_registry: Registry, tmp_path: Path
) -> None:
    from finsentry.sources.registry import RegistryUnavailable

    topic = kafka_broker.create_topic("avro-down", partitions=1)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    rows = [
        {"id": f"down-{i}", "published_at": at, "source": "Wire", "headline": f"Acme down story {i}"}
        for i in range(5)
    ]
    kafka_broker.produce(topic, [(None, avro_framed(r)) for r in rows])
    url = schema_registry.url
    schema_registry.stop()
    settings = kafka_broker.settings(
        db=str(tmp_path / "down.db"), kafka_topic=topic, kafka_group="avro-down",
        batch_max_items=8, batch_max_wait_ms=200, schema_registry_url=url,
    )  # fmt: skip
    with pytest.raises(RegistryUnavailable, match="cannot be reached"):
        consume_once(settings, 5)
    store = open_store(settings.db)
    try:
        assert store.counts()["items"] == 0 and store.counts()["dead_letters"] == 0
    finally:
        store.close()
    back = Registry()  # the registry is back (on another port): the same group reads all five
    back.start()
    try:
        stats = consume_once(settings.with_overrides(schema_registry_url=back.url), 5)
    finally:
        back.stop()
    assert (stats.consumed, stats.processed, stats.dead_lettered) == (5, 5, 0)
