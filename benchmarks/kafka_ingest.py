"""Ingest path without the model: finsentry's consumer (consume + decode + validate + commit) vs a
bare kafka-python consumer loop over the same topic, in the same run.

    .venv/bin/python benchmarks/kafka_ingest.py --messages 100000

Starts a throw-away broker (infra/kafka/broker) unless --bootstrap is given, produces the messages
once, then alternates the two readers ``--repeat`` times and reports the best rate of each. Both are
timed from the first record they receive to the last, so group joins and connection set-up do not
count. The finsentry side runs KafkaNewsConsumer exactly as ``finsentry consume`` does (group
member, micro-batches, RawRecords, validation + normalisation, watermark, offset commit after every
batch); only scoring and the store are replaced by a validate-only stage.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_common import broker, news_stream  # noqa: E402

from finsentry.aggregate import Watermark  # noqa: E402
from finsentry.config import Settings  # noqa: E402
from finsentry.pipeline import BatchReport  # noqa: E402
from finsentry.schema import Alert, RawRecord, utc_now  # noqa: E402
from finsentry.sources.kafka import (  # noqa: E402
    FETCH_MAX_BYTES,
    PARTITION_FETCH_BYTES,
    ConsumeOptions,
    KafkaNewsConsumer,
)
from finsentry.sources.publish import NewsPublisher, ensure_topic  # noqa: E402
from finsentry.sources.validate import parse_records  # noqa: E402


class ValidateOnly:
    """The pipeline up to validation: decode, validate, normalise, watermark. No model, no store.

    With ``validate=False`` it only counts: what the consumer itself costs (RawRecords, batching,
    offset commits) without the validation stage.
    """

    def __init__(self, settings: Settings, validate: bool = True) -> None:
        self.settings = settings
        self.validate = validate
        self.watermark = Watermark(settings.allowed_lateness_s)
        self.first_at: float | None = None
        self.items = 0

    def process(self, records: Sequence[RawRecord], source: str = "") -> BatchReport:
        if self.first_at is None:
            self.first_at = time.perf_counter()
        if not self.validate:
            return BatchReport(consumed=len(records), processed=len(records))
        items, dead = parse_records(records, self.settings, utc_now())
        self.watermark.observe(items)
        self.items += len(items)
        return BatchReport(consumed=len(records), processed=len(items), dead_letters=dead)

    def assign_inputs(self, prefix: str, inputs: Collection[str]) -> list[str]:
        return []  # one reader owns every partition; the watermark needs no hold-back here

    def close_input(self, name: str) -> list[Alert]:
        self.watermark.close_input(name)
        return []


def bare_loop(bootstrap: str, topic: str, count: int, batch: int) -> float:
    """A plain kafka-python consumer reading ``count`` messages; msgs/s from the first record."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=batch,
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        seen = 0
        first: float | None = None
        while seen < count:
            for records in consumer.poll(timeout_ms=1000, max_records=batch).values():
                if first is None:
                    first = time.perf_counter()
                seen += len(records)
        assert first is not None
        return seen / (time.perf_counter() - first)
    finally:
        consumer.close(autocommit=False)


def finsentry_loop(settings: Settings, count: int, validate: bool = True) -> tuple[float, Any]:
    stage = ValidateOnly(settings, validate)
    group = f"bench-{uuid.uuid4().hex[:8]}"
    consumer = KafkaNewsConsumer(
        settings.with_overrides(kafka_group=group),
        stage,
        options=ConsumeOptions(max_messages=count, session_timeout_ms=6000),
    )
    totals = consumer.run()
    assert stage.first_at is not None
    return totals.consumed / (time.perf_counter() - stage.first_at), totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=512, help="records per poll / micro-batch")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    with broker(args.bootstrap) as bootstrap:
        topic = f"bench-ingest-{uuid.uuid4().hex[:6]}"
        settings = Settings(
            kafka_bootstrap=bootstrap, kafka_topic=topic, batch_max_items=args.batch,
            batch_max_wait_ms=500,
        )
        ensure_topic(settings, topic, args.partitions)
        publisher = NewsPublisher(settings, topic)
        started = time.perf_counter()
        result = publisher.publish(news_stream(args.messages))
        publisher.close()
        print(f"produced {result.sent} messages to {topic} ({args.partitions} partitions) "
              f"in {time.perf_counter() - started:.1f}s")

        bare, ours, plain = [], [], []
        cpu: dict[str, list[float]] = {"bare": [], "ours": [], "plain": []}
        n = args.messages
        for round_ in range(args.repeat):
            started = time.process_time()  # all threads of this process, set-up included
            bare.append(bare_loop(bootstrap, topic, n, args.batch))
            cpu["bare"].append((time.process_time() - started) / n * 1e6)
            started = time.process_time()
            rate, totals = finsentry_loop(settings, n)
            cpu["ours"].append((time.process_time() - started) / n * 1e6)
            ours.append(rate)
            assert totals.consumed == totals.processed + totals.dead_lettered == n
            started = time.process_time()
            plain.append(finsentry_loop(settings, n, validate=False)[0])
            cpu["plain"].append((time.process_time() - started) / n * 1e6)
            print(f"round {round_ + 1}: bare kafka-python {bare[-1]:,.0f} msg/s | finsentry "
                  f"consume+decode+validate {ours[-1]:,.0f} msg/s (processed {totals.processed}, "
                  f"dead-lettered {totals.dead_lettered}) | finsentry consumer without the "
                  f"validation stage {plain[-1]:,.0f} msg/s; CPU us/msg: bare "
                  f"{cpu['bare'][-1]:.1f}, finsentry {cpu['ours'][-1]:.1f}, without validation "
                  f"{cpu['plain'][-1]:.1f}")
        best_bare, best_ours, best_plain = max(bare), max(ours), max(plain)
        print(f"best: bare {best_bare:,.0f} msg/s; finsentry consume+decode+validate "
              f"{best_ours:,.0f} msg/s, ratio {best_ours / best_bare:.2f} (target >= 0.9); "
              f"finsentry consumer alone {best_plain:,.0f} msg/s, ratio {best_plain / best_bare:.2f}")
        from kafka.record import util

        print(f"kafka-python CRC32C: {'C (crc32c package)' if util.crc32c_c else 'pure Python'}")


if __name__ == "__main__":
    main()
