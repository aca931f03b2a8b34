"""A consumer-group member feeding the pipeline: :class:`KafkaSource` driven by the runner.

``finsentry consume``, ``consumers/news_consumer.py``, the tests and the benchmarks run
:func:`consume` or :class:`KafkaNewsConsumer`; both only wire a :class:`KafkaSource` and a pipeline
into :func:`finsentry.runner.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finsentry.config import Settings
from finsentry.runner import BatchProcessor, run
from finsentry.shutdown import GracefulStop
from finsentry.sources.base import Batch
from finsentry.sources.kafka.consumer import ConsumeOptions, KafkaSource, Polled
from finsentry.totals import BatchReport, RunTotals

if TYPE_CHECKING:
    from finsentry.metrics import ConsumerMetrics
    from finsentry.pipeline import Pipeline

KEEP_ALERTS = 1000  # alerts a long-running consumer keeps in memory for its summary


@dataclass(frozen=True, slots=True)
class FlushedBatch:
    """What one flushed micro-batch did, for callbacks (benchmarks, progress bars)."""

    report: BatchReport
    record_timestamps_ms: Sequence[int]  # Kafka timestamps (produce time) of its records
    durable_at: float  # epoch seconds when the write and the DLQ were durable


class KafkaNewsConsumer:
    """One member of a consumer group feeding ``pipeline`` micro-batches until stopped."""

    def __init__(
        self,
        settings: Settings,
        pipeline: BatchProcessor,
        *,
        options: ConsumeOptions | None = None,
        metrics: ConsumerMetrics | None = None,
        stop: GracefulStop | None = None,
        on_batch: Callable[[FlushedBatch], None] | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.source = KafkaSource(settings, options, metrics=metrics, stop=stop)
        self.options = self.source.options
        self.stop = self.source.stop
        self.on_batch = on_batch
        self.totals = RunTotals(keep_alerts=KEEP_ALERTS)

    def run(self) -> RunTotals:
        """Consume until stopped (signal, ``max_messages`` or ``idle_exit_s``); return the totals."""

        def flushed(batch: Batch[Polled], report: BatchReport) -> None:
            if self.on_batch is not None and batch.records:
                polled = batch.position
                self.on_batch(FlushedBatch(report, polled.timestamps_ms, polled.durable_at))

        return run(self.source, self.pipeline, totals=self.totals, on_batch=flushed)


def consume(
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    options: ConsumeOptions | None = None,
    metrics_port: int | None = None,
    metrics_addr: str = "127.0.0.1",
    stop: GracefulStop | None = None,
    progress: bool = False,
) -> RunTotals:
    """Run one consumer-group member until stopped; the entry point of ``finsentry consume``."""
    from tqdm import tqdm

    from finsentry.metrics import ConsumerMetrics
    from finsentry.pipeline import Pipeline

    metrics = ConsumerMetrics()
    if metrics_port is not None:
        metrics.serve(metrics_port, metrics_addr)
    owned = pipeline is None
    pipe = pipeline or Pipeline.from_settings(settings)
    bar = tqdm(unit="msg", desc=f"consume {settings.kafka_topic}", disable=not progress)

    def show(batch: FlushedBatch) -> None:
        bar.update(batch.report.consumed)
        bar.set_postfix(dead=consumer.totals.dead_lettered, alerts=consumer.totals.alert_count)

    consumer = KafkaNewsConsumer(
        settings, pipe, options=options, metrics=metrics, stop=stop, on_batch=show
    )
    try:
        return consumer.run()
    finally:
        bar.close()
        if owned:
            pipe.close()
