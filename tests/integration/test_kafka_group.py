"""Two consumers in one group share a 4-partition topic; stopping one hands its partitions over."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.config import Settings
from finsentry.schema import ScopeKind
from finsentry.store import open_store
from tests.fixtures.kafka import (
    ConsumerProcess,
    KafkaBroker,
    keyed,
    malformed_messages,
    news_lines,
    store_counts,
    wait_until,
)

pytestmark = pytest.mark.kafka

PARTITIONS = [f"group/{p}" for p in range(4)]



def test_two_consumers_share_partitions_and_hand_over(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic = kafka_broker.create_topic("group", partitions=4)
    now = datetime.now(UTC).replace(microsecond=0)
    first_half = news_lines(4_000, start=now - timedelta(hours=5), seed=41)
    second_half = news_lines(2_000, start=now - timedelta(hours=2), seed=42)
    bad = malformed_messages(40, now=now, max_record_bytes=1_000_000, seed=43)
    positions = kafka_broker.produce(topic, keyed(first_half))

    db = tmp_path / "pair.db"
    args = ("--slow-ms", "200", "--batch-max-items", "100")
    a = ConsumerProcess(kafka_broker, db, topic, "pair", *args, name="a")
    b = ConsumerProcess(kafka_broker, db, topic, "pair", *args, name="b")
    try:
        wait_until(
            lambda: any(len(x) == 2 for x in a.assignments())
            and any(len(x) == 2 for x in b.assignments()),
            90,
            "both consumers to own two partitions each",
            0.5,
            a,
            b,
        )
        wait_until(lambda: store_counts(db)["items"] >= 1_500, 120, "progress of the pair")
        assert a.terminate() == 0  # graceful: finishes its batch, commits, leaves the group
        positions += kafka_broker.produce(
            topic, keyed(second_half, "id") + [(k, v) for k, v, _ in bad]
        )
        wait_until(
            lambda: store_counts(db)["items"] == 6_000 and store_counts(db)["dead_letters"] == 40,
            240,
            "the remaining consumer to take over every partition",
        )
        wait_until(
            lambda: sum(kafka_broker.committed("pair", topic).values()) == len(positions),
            60,
            "commits",
        )
        assert b.terminate() == 0
    finally:
        a.stop_if_running()
        b.stop_if_running()

    totals_a, totals_b = a.totals(), b.totals()
    for totals in (totals_a, totals_b):
        assert totals["consumed"] == totals["processed"] + totals["dead_lettered"]
        assert totals["processed"] > 0
    # together they saw everything (a rebalance may make one re-read a little: in effect once)
    assert totals_a["consumed"] + totals_b["consumed"] >= len(positions)
    assert sorted(b.assignments()[-1]) == PARTITIONS

    # exactly once in effect: every item stored once and counted once in the windows
    counts = store_counts(db)
    assert counts["items"] == 6_000
    assert counts["dead_letters"] == 40
    store = open_store(str(db))
    try:
        for size in Settings().window_sizes_s:
            stats = store.window_stats(
                size, datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC),
                ScopeKind.ALL, "*",
            )
            assert sum(s.count + s.duplicates for s in stats) == 6_000
    finally:
        store.close()
    # the second half arrived after 'a' had left: 'b' read it from all four partitions
    late_ids = [json.loads(line)["id"] for line in second_half]
    with sqlite3.connect(db) as conn:
        marks = ",".join("?" * len(late_ids))
        inputs = {
            row[0]
            for row in conn.execute(
                f"SELECT DISTINCT input FROM items WHERE id IN ({marks})", late_ids  # noqa: S608
            )
        }
    assert inputs == set(PARTITIONS)
    ends = dict(Counter(p for p, _ in positions))
    assert kafka_broker.committed("pair", topic) == ends


def test_two_group_members_raise_the_alerts_of_one_consumer(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """A day of simulated news (syndicated copies, three incidents) on four partitions: two
    members of one group, one of them slower, give one consumer's items, duplicate flags,
    windows and alerts (issue 13, item 4). The allowed lateness is longer than the stream, so
    windows become final only when every partition of every member is idle: a member that
    judged on its own watermark would judge the other's windows before they were complete."""
    from finsentry.app.simulate import simulate
    from tests.fixtures.ingest_worker import results

    stream = simulate(tmp_path / "day.jsonl", hours=24, seed=7, incidents=3)
    lines = [line for line in stream.out.read_bytes().splitlines() if line.strip()]
    common = ("--allowed-lateness-s", str(30 * 86_400), "--idle-exit-s", "25",
              "--batch-max-items", "100")  # fmt: skip

    solo_topic = kafka_broker.create_topic("day-solo", partitions=4)
    kafka_broker.produce(solo_topic, keyed(lines, "id"))
    solo_db = tmp_path / "solo.db"
    solo = ConsumerProcess(kafka_broker, solo_db, solo_topic, "solo", *common, name="solo")
    try:
        assert solo.wait(300) == 0, solo.log[-3000:]
    finally:
        solo.stop_if_running()
    one = results(str(solo_db))
    assert one["alerts"] and one["counts"]["items"] == len(lines)  # type: ignore[index]

    topic = kafka_broker.create_topic("day-pair", partitions=4)
    pair_db = tmp_path / "pair.db"
    a = ConsumerProcess(kafka_broker, pair_db, topic, "duo", *common, name="fast")
    b = ConsumerProcess(kafka_broker, pair_db, topic, "duo", *common, "--slow-ms", "1000",
                        name="slow")  # fmt: skip
    try:
        wait_until(
            lambda: any(len(x) == 2 for x in a.assignments())
            and any(len(x) == 2 for x in b.assignments()),
            90,
            "both members to own two partitions each",
            0.5,
            a,
            b,
        )
        kafka_broker.produce(topic, keyed(lines, "id"))
        assert a.wait(300) == 0, a.log[-3000:]
        assert b.wait(300) == 0, b.log[-3000:]
    finally:
        a.stop_if_running()
        b.stop_if_running()
    assert a.totals()["processed"] > 0 and b.totals()["processed"] > 0
    two = results(str(pair_db))
    assert two["counts"] == one["counts"]
    assert two["items"] == one["items"]
    assert two["windows"] == one["windows"]
    assert two["alerts"] == one["alerts"]
