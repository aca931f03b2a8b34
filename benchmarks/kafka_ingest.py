"""Ingest path without the model: finsentry's consumer (consume + decode + validate + commit) vs a
bare kafka-python consumer loop over the same topic, in the same run.

    .venv/bin/python benchmarks/kafka_ingest.py --messages 200000 --repeat 5

Starts a throw-away broker (infra/kafka/broker) unless --bootstrap is given and produces the
messages once. Then ``--repeat`` rounds, each running the three readers over the whole topic in a
rotated order (so none always runs first or last while the neighbours' load drifts): a bare
kafka-python loop, finsentry's consumer with the validation stage, and the same consumer only
counting (what the consumer machinery costs). Every reader is timed from its first record to its
last one handled (for finsentry: stored and its offsets committed), so group joins, connection
set-up and closing do not count; CPU time of the process (all threads) is taken over the same
span. The summary gives the median and the range over the rounds of each rate and of the ratio of
each round's pair, and the CPU time a message: the wall-clock ratio depends on whether the bare
loop waits on the broker, the CPU ratio is what a run bound by one core gets.

The finsentry side runs KafkaNewsConsumer exactly as ``finsentry consume`` does (group member,
micro-batches, RawRecords, validation + normalisation, watermark, offset commits); only scoring
and the store are replaced by a validate-only stage.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
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
    RECEIVE_MAX_BYTES,
    ConsumeOptions,
    FlushedBatch,
    KafkaNewsConsumer,
)
from finsentry.sources.publish import NewsPublisher, ensure_topic  # noqa: E402
from finsentry.sources.validate import parse_records  # noqa: E402


@dataclass
class Span:
    """A reader's run: messages, and wall-clock and CPU time from its first record to its last."""

    messages: int = 0
    first_wall: float | None = None
    first_cpu: float = 0.0
    last_wall: float = 0.0
    last_cpu: float = 0.0

    def start(self) -> None:
        if self.first_wall is None:
            self.first_wall, self.first_cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.last_wall, self.last_cpu = time.perf_counter(), time.process_time()

    @property
    def rate(self) -> float:
        assert self.first_wall is not None, "no record was read"
        return self.messages / (self.last_wall - self.first_wall)

    @property
    def cpu_us(self) -> float:
        return (self.last_cpu - self.first_cpu) / self.messages * 1e6


class ValidateOnly:
    """The pipeline up to validation: decode, validate, normalise, watermark. No model, no store.

    With ``validate=False`` it only counts: what the consumer itself costs (RawRecords, batching,
    offset commits) without the validation stage.
    """

    def __init__(self, settings: Settings, span: Span, validate: bool = True) -> None:
        self.settings = settings
        self.span = span
        self.validate = validate
        self.watermark = Watermark(settings.allowed_lateness_s)

    def process(self, records: Sequence[RawRecord], source: str = "") -> BatchReport:
        self.span.start()
        if not self.validate:
            return BatchReport(consumed=len(records), processed=len(records))
        items, dead = parse_records(records, self.settings, utc_now())
        self.watermark.observe(items)
        return BatchReport(consumed=len(records), processed=len(items), dead_letters=dead)

    def assign_inputs(self, prefix: str, inputs: Collection[str]) -> list[str]:
        return []  # one reader owns every partition; the watermark needs no hold-back here

    def close_input(self, name: str) -> list[Alert]:
        self.watermark.close_input(name)
        return []


def bare_loop(bootstrap: str, topic: str, count: int, batch: int) -> Span:
    """A plain kafka-python consumer reading ``count`` messages (same fetch sizes)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=batch,
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
        receive_message_max_bytes=RECEIVE_MAX_BYTES,
    )
    span = Span()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while span.messages < count:
            for records in consumer.poll(timeout_ms=1000, max_records=batch).values():
                span.start()
                span.messages += len(records)
        span.stop()
        return span
    finally:
        consumer.close(autocommit=False)


def finsentry_loop(settings: Settings, count: int, validate: bool = True) -> tuple[Span, Any]:
    """KafkaNewsConsumer over ``count`` messages; the span ends when the last batch is durable."""
    span = Span()
    stage = ValidateOnly(settings, span, validate)

    def durable(batch: FlushedBatch) -> None:
        span.messages += batch.report.consumed
        span.stop()

    consumer = KafkaNewsConsumer(
        settings.with_overrides(kafka_group=f"bench-{uuid.uuid4().hex[:8]}"),
        stage,
        options=ConsumeOptions(max_messages=count, session_timeout_ms=6000),
        on_batch=durable,
    )
    totals = consumer.run()
    assert span.messages == totals.consumed == count
    return span, totals


READERS = ("bare", "validate", "consumer")
LABELS = {
    "bare": "bare kafka-python",
    "validate": "finsentry consume+decode+validate",
    "consumer": "finsentry consumer without validation",
}


def one_round(
    bootstrap: str, settings: Settings, n: int, batch: int, order: Sequence[str]
) -> dict[str, Span]:
    spans: dict[str, Span] = {}
    for reader in order:
        if reader == "bare":
            spans[reader] = bare_loop(bootstrap, settings.kafka_topic, n, batch)
        else:
            spans[reader], totals = finsentry_loop(settings, n, validate=reader == "validate")
            assert totals.consumed == totals.processed + totals.dead_lettered == n
    return spans


def spread(values: Sequence[float], fmt: str) -> str:
    """``median (min-max)`` of ``values``."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def summary(rounds: Sequence[dict[str, Span]]) -> None:
    print(f"over {len(rounds)} rounds, median (min-max):")
    for reader in READERS:
        rates = [r[reader].rate for r in rounds]
        cpu = [r[reader].cpu_us for r in rounds]
        line = (
            f"  {LABELS[reader]:<38} {spread(rates, ',.0f')} msg/s, CPU {spread(cpu, '.1f')} us/msg"
        )
        if reader != "bare":
            ratios = [r[reader].rate / r["bare"].rate for r in rounds]
            cpu_ratio = statistics.median(r["bare"].cpu_us for r in rounds) / statistics.median(cpu)
            line += f"; ratio to bare {spread(ratios, '.2f')}, CPU ratio {cpu_ratio:.2f}"
        print(line)
    print("target: consume+decode+validate >= 0.9 of the bare loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=512, help="records per poll / micro-batch")
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds (each runs every reader once)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)  # group-join chatter of every round

    with broker(args.bootstrap) as bootstrap:
        topic = f"bench-ingest-{uuid.uuid4().hex[:6]}"
        settings = Settings(
            kafka_bootstrap=bootstrap,
            kafka_topic=topic,
            batch_max_items=args.batch,
            batch_max_wait_ms=500,
        )
        ensure_topic(settings, topic, args.partitions)
        publisher = NewsPublisher(settings, topic)
        started = time.perf_counter()
        result = publisher.publish(news_stream(args.messages))
        publisher.close()
        print(
            f"produced {result.sent} messages to {topic} ({args.partitions} partitions) "
            f"in {time.perf_counter() - started:.1f}s"
        )
        rounds = []
        for round_ in range(args.repeat):
            order = READERS[round_ % 3 :] + READERS[: round_ % 3]
            spans = one_round(bootstrap, settings, args.messages, args.batch, order)
            rounds.append(spans)
            print(
                f"round {round_ + 1} ({', '.join(order)}): "
                + " | ".join(
                    f"{r} {spans[r].rate:,.0f} msg/s, {spans[r].cpu_us:.1f} us CPU" for r in READERS
                )
                + f" | ratio {spans['validate'].rate / spans['bare'].rate:.2f}",
                flush=True,
            )
        summary(rounds)
        from kafka.record import util

        print(
            f"kafka-python CRC32C: {'C (crc32c package)' if util.crc32c_c else 'pure Python'}; "
            f"fetch sizes {PARTITION_FETCH_BYTES >> 20} MiB a partition, "
            f"{FETCH_MAX_BYTES >> 20} MiB a request"
        )


if __name__ == "__main__":
    main()
