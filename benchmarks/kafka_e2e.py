"""End to end with the default model: Kafka topic -> validate -> score -> store, on this machine.

    .venv/bin/python benchmarks/kafka_e2e.py --messages 5000            # a few minutes on 2 cores
    .venv/bin/python benchmarks/kafka_e2e.py --messages 200000          # the full run

Phase 1 (throughput): ``--messages`` are produced first, then consumed by KafkaNewsConsumer with the
real pipeline (default model, SQLite store, detectors on): headlines/s from the first batch to the
last durable write. The baseline in the same run is the model alone (``Scorer.score`` over the same
texts in the same batch sizes, no Kafka, no store), so the ratio is the share of the model's speed
the whole streaming path keeps.
Phase 2 (latency): a producer thread publishes ``--latency-messages`` at ``--rate`` msg/s (default:
half the phase-1 throughput) while the consumer runs; latency = durable write (store flush + DLQ +
commit) minus the Kafka record timestamp (produce time); p50/p99.
RSS is sampled after every batch; peak RSS must not grow with the stream length.

``--scorer constant`` replaces the model by a constant scorer, to check over a long stream in
minutes (``--messages 200000``) that everything around the model keeps its memory flat.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_common import broker, news_stream, percentile, rss_mib  # noqa: E402

from finsentry.config import Settings  # noqa: E402
from finsentry.pipeline import Pipeline  # noqa: E402
from finsentry.schema import RawRecord, Target, TextScore, utc_now  # noqa: E402
from finsentry.sources.kafka import ConsumeOptions, FlushedBatch, KafkaNewsConsumer  # noqa: E402
from finsentry.sources.publish import NewsPublisher, ensure_topic  # noqa: E402
from finsentry.sources.validate import parse_records  # noqa: E402


class ConstantScorer:
    """Not a model: the same scores for every text (memory and overhead checks only)."""

    model_id = "constant-bench@0"

    def score(
        self, texts: list[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]:
        return [TextScore(0.2, 0.6, 0.2, "General News | Opinion", 0.5) for _ in texts]


class Probe:
    """Collects batch timings, produce->durable latencies and RSS samples."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float = 0.0
        self.cpu_first = self.cpu_last = 0.0  # process CPU time (all threads) at the same points
        self.latencies: list[float] = []
        self.rss: list[tuple[int, float]] = []
        self.done = 0

    def wrap(self, pipeline: Pipeline) -> None:
        process = pipeline.process

        def timed(records: Any, source: str = "") -> Any:
            if self.first is None:
                self.first = time.perf_counter()
                self.cpu_first = time.process_time()
            return process(records, source)

        pipeline.process = timed  # type: ignore[method-assign]

    def on_batch(self, batch: FlushedBatch) -> None:
        self.last = time.perf_counter()
        self.cpu_last = time.process_time()
        self.done += batch.report.consumed
        self.latencies.extend(batch.durable_at - ts / 1000.0 for ts in batch.record_timestamps_ms)
        self.rss.append((self.done, rss_mib()))


def run_phase(settings: Settings, pipeline: Pipeline, count: int) -> Probe:
    probe = Probe()
    probe.wrap(pipeline)
    consumer = KafkaNewsConsumer(
        settings,
        pipeline,
        options=ConsumeOptions(max_messages=count, session_timeout_ms=10_000),
        on_batch=probe.on_batch,
    )
    totals = consumer.run()
    del pipeline.process  # the instance override set by Probe.wrap
    assert totals.consumed == totals.processed + totals.dead_lettered == count, totals
    return probe


def produce(
    settings: Settings, topic: str, count: int, seed: int, rate: float | None, step_s: float = 1.0
) -> None:
    publisher = NewsPublisher(settings, topic)
    try:
        publisher.publish(news_stream(count, seed=seed, step_s=step_s), rate=rate)
    finally:
        publisher.close()


def model_only_rate(pipeline: Pipeline, count: int, batch: int) -> tuple[float, float]:
    """The baseline: the scorer alone over the same kind of items, in the same batch size, with
    the same per-ticker targets the pipeline asks for (tagged before the clock starts).
    Returns texts/s and CPU seconds of this process per text."""
    records = [RawRecord(line, "bench", "bench/0", i) for i, line in enumerate(news_stream(count, seed=99))]
    items, _ = parse_records(records, pipeline.settings, utc_now())
    texts = [item.text for item in items]
    targets = pipeline.tagger.tag_targets(items)
    pipeline.scorer.score(texts[:32], targets[:32])  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), batch):
        pipeline.scorer.score(texts[i : i + batch], targets[i : i + batch])
    cpu = (time.process_time() - cpu) / len(texts)
    return len(texts) / (time.perf_counter() - started), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--messages", type=int, default=5_000, help="phase 1 stream length")
    parser.add_argument("--latency-messages", type=int, default=1_500)
    parser.add_argument("--rate", type=float, help="phase 2 msg/s (default: half of phase 1)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    parser.add_argument("--batch-wait-ms", type=int, help="FINSENTRY_BATCH_MAX_WAIT_MS to run with")
    parser.add_argument("--baseline-texts", type=int, default=1_000)
    parser.add_argument("--scorer", choices=("model", "constant"), default="model")
    parser.add_argument(
        "--step-s", type=float, default=1.0,
        help="event-time spacing of the phase-1 stream (dedup remembers 2 x 24 h of it)",
    )
    args = parser.parse_args()

    with broker(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        run = uuid.uuid4().hex[:6]
        settings = Settings(
            kafka_bootstrap=bootstrap, db=str(Path(tmp) / "bench.db"), model=args.model,
            device=args.device, backend=args.backend,
        )
        if args.batch_wait_ms is not None:
            settings = settings.with_overrides(batch_max_wait_ms=args.batch_wait_ms)
        started = time.perf_counter()
        scorer = ConstantScorer() if args.scorer == "constant" else None
        pipeline = Pipeline.from_settings(settings, scorer=scorer)
        backend = getattr(pipeline.scorer, "backend", "none")
        print(f"model {pipeline.scorer.model_id} ({backend} backend) loaded in "
              f"{time.perf_counter() - started:.1f}s; "
              f"RSS {rss_mib():.0f} MiB; batch_max_items {settings.batch_max_items}, "
              f"batch_max_wait_ms {settings.batch_max_wait_ms}")

        baseline, base_cpu = model_only_rate(pipeline, args.baseline_texts, settings.batch_max_items)
        print(f"baseline: the scorer alone scores {baseline:,.1f} texts/s "
              f"({base_cpu * 1000:.2f} CPU ms a text)")

        topic = f"bench-e2e-{run}"
        ensure_topic(settings, topic, args.partitions)
        produce(settings, topic, args.messages, seed=1, rate=None, step_s=args.step_s)
        rss_start = rss_mib()
        probe = run_phase(settings.with_overrides(kafka_topic=topic, kafka_group=topic), pipeline,
                          args.messages)
        assert probe.first is not None
        rate = args.messages / (probe.last - probe.first)
        cpu = (probe.cpu_last - probe.cpu_first) / args.messages
        after, after_cpu = model_only_rate(pipeline, args.baseline_texts, settings.batch_max_items)
        base_cpu = min(base_cpu, after_cpu)
        print(f"phase 1: {args.messages} messages topic -> store at {rate:,.1f} headlines/s "
              f"(the scorer alone again after it: {after:,.1f} texts/s; ratio to the better "
              f"{rate / max(baseline, after):.2f}); CPU {cpu * 1000:.2f} ms a headline against "
              f"{base_cpu * 1000:.2f} ms for the scorer alone, CPU ratio {base_cpu / cpu:.2f}")
        marks = [probe.rss[int(len(probe.rss) * q)] for q in (0.1, 0.25, 0.5, 0.6, 0.75, 0.9)]
        marks.append(probe.rss[-1])
        print("RSS over the run (messages done: MiB): "
              + ", ".join(f"{done}: {mib:.0f}" for done, mib in marks)
              + f"; at start {rss_start:.0f} MiB")

        topic2 = f"bench-e2e-lat-{run}"
        ensure_topic(settings, topic2, args.partitions)
        paced = args.rate or max(1.0, rate / 2)
        producer = threading.Thread(
            target=produce, args=(settings, topic2, args.latency_messages, 2, paced), daemon=True
        )
        producer.start()
        lat = run_phase(settings.with_overrides(kafka_topic=topic2, kafka_group=topic2), pipeline,
                        args.latency_messages)
        producer.join()
        print(f"phase 2: {args.latency_messages} messages produced at {paced:,.1f} msg/s: "
              f"produce -> durable write p50 {percentile(lat.latencies, 50) * 1000:,.0f} ms, "
              f"p99 {percentile(lat.latencies, 99) * 1000:,.0f} ms")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MiB over {args.messages + args.latency_messages} messages")
        pipeline.close()


if __name__ == "__main__":
    main()
