"""``consume`` from a real broker and ``ingest`` from a file give the same duplicate flags and window
statistics, though on the topic each story's later copies come before its earliest copy and the
copies sit on different partitions (issue 13, item 1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.sources.kafka import ConsumeOptions, KafkaNewsConsumer
from finsentry.store import open_store
from finsentry.store.base import Store
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.scorers import LexiconScorer

pytestmark = pytest.mark.kafka

SIZES = (300, 3600)
STORIES = [
    "Apple shares rise following strong quarterly earnings beat",
    "Regulator opens probe targeting Tesla brake fault claims",
    "Lender cuts outlook citing bad loans rising sharply",
    "Shell agrees deal to sell Nigerian onshore oil assets",
    "Boeing halts 737 deliveries following inspection findings",
    "Oil slumps as OPEC+ output talks stall",
    "Nestle raises dividend after record sales growth",
]
VARIANTS = ("{}", "UPDATE 1-{}", "{} - sources")


def syndicated(start: datetime, stories: int) -> list[tuple[datetime, dict[str, object]]]:
    """Each story published up to three times, by different wires, four minutes apart."""
    rows = []
    for n in range(stories):
        when = start + timedelta(minutes=6 * n)
        for copy in range(1 + n % 3):
            rows.append(
                (
                    when + timedelta(minutes=4 * copy),
                    {
                        "id": f"s{n}-c{copy}",
                        "published_at": (when + timedelta(minutes=4 * copy)).isoformat(),
                        "source": f"wire-{copy}",
                        "headline": VARIANTS[copy].format(STORIES[n % len(STORIES)]),
                    },
                )
            )
    return rows


def results(store: Store, lo: datetime, hi: datetime) -> tuple[object, ...]:
    flags = sorted((s.id, s.novel, s.duplicate_of) for s in store.items_between(lo, hi, limit=100_000))
    windows = sorted(
        (str(w.key), w.count, w.negative, w.neutral, w.positive, w.score_sum, w.duplicates)
        for size in SIZES
        for w in store.window_stats(size, lo, hi)
    )
    return flags, windows, store.counts()["late"]


def test_consume_with_later_copies_first_matches_ingest(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)
    rows = syndicated(start, 60)
    # the topic: stories in time order, but each story's copies newest first, keyed by wire so
    # that the copies spread over the partitions (4 minutes apart: within the allowed lateness)
    topic = kafka_broker.create_topic("syndicated", partitions=4)
    by_story: dict[str, list[dict[str, object]]] = {}
    for _, row in rows:
        by_story.setdefault(str(row["id"]).split("-")[0], []).append(row)
    messages = [
        (str(row["source"]).encode(), json.dumps(row).encode())
        for copies in by_story.values()
        for row in reversed(copies)
    ]
    positions = kafka_broker.produce(topic, messages)
    assert len({p for p, _ in positions}) > 1

    settings = kafka_broker.settings(
        db=str(tmp_path / "kafka.db"),
        kafka_topic=topic,
        kafka_group="order-test",
        window_sizes_s=SIZES,
        batch_max_items=7,
        batch_max_wait_ms=200,
        allowed_lateness_s=600,
        dedup_horizon_h=0.5,  # a story's text comes back 42 minutes later as a new story
    )
    consumed = Pipeline.from_settings(
        settings, store=open_store(settings.db), scorer=LexiconScorer(), deliver=False
    )
    consumer = KafkaNewsConsumer(
        settings, consumed, options=ConsumeOptions(max_messages=len(messages), session_timeout_ms=6000)
    )
    totals = consumer.run()
    assert totals.consumed == totals.processed == len(messages)

    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for _, row in sorted(rows, key=lambda r: r[0])))
    file_settings = settings.with_overrides(db=str(tmp_path / "file.db"))
    ingested = Pipeline.from_settings(
        file_settings, store=open_store(file_settings.db), scorer=LexiconScorer(), deliver=False
    )
    run_files([path], file_settings, pipeline=ingested)

    lo, hi = start - timedelta(days=1), start + timedelta(days=1)
    try:
        from_kafka = results(consumed.store, lo, hi)
        from_file = results(ingested.store, lo, hi)
        assert from_kafka == from_file
        flags = from_file[0]
        assert sum(not novel for _, novel, _ in flags) == 60  # 1 + 2 copies every 3 stories
        assert all(dup is None or dup.endswith("-c0") for _, _, dup in flags)  # earliest wins
        assert from_kafka[2] == 0  # nothing was late: the order was within the lateness
    finally:
        consumed.close()
        ingested.close()
