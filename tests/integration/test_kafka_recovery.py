"""Crashes and outages: a SIGKILLed consumer and a restarted broker lose and double count nothing."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.schema import ScopeKind
from finsentry.sources.kafka import ConsumeOptions, KafkaNewsConsumer
from finsentry.store import open_store
from tests.fixtures.kafka import (
    ConsumerProcess,
    KafkaBroker,
    keyed,
    malformed_messages,
    news_lines,
    store_counts,
    wait_until,
    window_table,
)
from tests.fixtures.scorers import LexiconScorer

pytestmark = pytest.mark.kafka

SIZES = Settings().window_sizes_s



def test_sigkill_mid_run_then_restart_equals_a_run_without_crash(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic = kafka_broker.create_topic("crash", partitions=2)
    now = datetime.now(UTC).replace(microsecond=0)
    valid = news_lines(3_000, start=now - timedelta(hours=3), seed=21)
    bad = malformed_messages(60, now=now, max_record_bytes=1_000_000)
    messages = keyed(valid) + [(k, v) for k, v, _ in bad]
    positions = kafka_broker.produce(topic, messages)
    total = len(messages)

    # the reference: the same topic read by another group, without a crash
    ref_db = tmp_path / "ref.db"
    settings = kafka_broker.settings(
        db=str(ref_db), kafka_topic=topic, kafka_group="reference", batch_max_items=200,
        batch_max_wait_ms=300,
    )
    pipeline = Pipeline.from_settings(settings, store=open_store(settings.db), scorer=LexiconScorer())
    ref = KafkaNewsConsumer(
        settings, pipeline, options=ConsumeOptions(max_messages=total, session_timeout_ms=6000)
    ).run()
    pipeline.close()
    assert (ref.processed, ref.dead_lettered) == (3_000, 60)

    # the crash: SIGKILL in the middle of the run, then a restart of the same group
    db = tmp_path / "crash.db"
    first = ConsumerProcess(kafka_broker, db, topic, "crashy", "--slow-ms", "250", name="first")
    try:
        wait_until(lambda: store_counts(db)["items"] >= 600, 120, "the first batches")
        assert first.kill() == -9
    finally:
        first.stop_if_running()
    at_kill = store_counts(db)["items"]
    assert 600 <= at_kill < 3_000, "the consumer must be killed mid-run"
    committed_at_kill = sum(max(0, n) for n in kafka_broker.committed("crashy", topic).values())
    assert committed_at_kill < total

    second = ConsumerProcess(kafka_broker, db, topic, "crashy", name="second")
    try:
        wait_until(
            lambda: store_counts(db)["items"] == 3_000 and store_counts(db)["dead_letters"] == 60,
            180,
            "the restarted consumer to catch up",
        )
        # the offsets are committed after each batch; give the last commit a moment
        wait_until(
            lambda: sum(kafka_broker.committed("crashy", topic).values()) == total, 30, "commits"
        )
        assert second.terminate() == 0
    finally:
        second.stop_if_running()
    totals = second.totals()
    assert totals["consumed"] == totals["processed"] + totals["dead_lettered"]
    assert totals["consumed"] >= total - committed_at_kill  # it re-read what was not committed

    assert window_table(db, SIZES) == window_table(ref_db, SIZES)
    crash_counts, ref_counts = store_counts(db), store_counts(ref_db)
    for key in ("items", "novel", "duplicates", "late", "dead_letters"):
        assert crash_counts[key] == ref_counts[key], key
    ends = dict(Counter(p for p, _ in positions))
    assert kafka_broker.committed("crashy", topic) == ends


def test_broker_restart_during_a_run_loses_nothing(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic = kafka_broker.create_topic("outage", partitions=2)
    now = datetime.now(UTC).replace(microsecond=0)
    before = news_lines(2_000, start=now - timedelta(hours=4), seed=31)
    after = news_lines(1_000, start=now - timedelta(hours=1), seed=32)
    bad = malformed_messages(30, now=now, max_record_bytes=1_000_000, seed=33)
    kafka_broker.produce(topic, keyed(before))

    db = tmp_path / "outage.db"
    consumer = ConsumerProcess(kafka_broker, db, topic, "outage", "--slow-ms", "200", name="outage")
    try:
        wait_until(lambda: store_counts(db)["items"] >= 300, 120, "the first batches")
        kafka_broker.stop()
        time.sleep(3)
        assert consumer.proc.poll() is None, "the consumer must wait for the broker, not exit"
        kafka_broker.start()
        positions = kafka_broker.produce(topic, keyed(after) + [(k, v) for k, v, _ in bad])
        assert len(positions) == 1_030
        wait_until(
            lambda: store_counts(db)["items"] == 3_000 and store_counts(db)["dead_letters"] == 30,
            240,
            "the consumer to resume after the broker restart",
        )
        wait_until(
            lambda: sum(kafka_broker.committed("outage", topic).values()) == 3_030, 60, "commits"
        )
        assert consumer.terminate() == 0
    finally:
        consumer.stop_if_running()
    totals = consumer.totals()
    assert totals["consumed"] == totals["processed"] + totals["dead_lettered"]
    assert totals["dead_lettered"] >= 30
    store = open_store(str(db))
    try:
        for size in SIZES:
            stats = store.window_stats(
                size, datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC),
                ScopeKind.ALL, "*",
            )
            assert sum(s.count + s.duplicates for s in stats) == 3_000
    finally:
        store.close()
    dlq = {
        (int(dict(m.headers)["source_partition"]), int(dict(m.headers)["source_offset"]))
        for m in kafka_broker.read_all("outage.dlq")
    }
    assert dlq == set(positions[-30:])
