"""The one loop: a source's batches through the pipeline, and the source told when each is durable.

    for batch in source.read():
        pipeline.assign_inputs(...)      # if the batch says which inputs this worker owns now
        pipeline.process(batch.records)  # returns once the store holds the batch
        pipeline.close_input(...)        # inputs read to their end or idle
        source.on_durable(batch, report) # Kafka commits offsets, files and feeds mark progress

Files (:class:`~finsentry.sources.files.FileSource`), feeds
(:class:`~finsentry.sources.rss.FeedSource`) and Kafka
(:class:`~finsentry.sources.kafka.KafkaSource`) all run through :func:`run`; a source never calls
the pipeline itself. ``consumed == processed + dead_lettered`` holds for every batch, so it holds
for the run's :class:`~finsentry.pipeline.RunTotals`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Generator, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.schema import Alert, RawRecord
from finsentry.sources.base import Batch, Source
from finsentry.totals import BatchReport, RunTotals

P = TypeVar("P")


class BatchProcessor(Protocol):
    """What the runner needs of the pipeline (:class:`~finsentry.pipeline.Pipeline`)."""

    def process(self, records: Sequence[RawRecord], source: str = "") -> BatchReport: ...

    def assign_inputs(self, prefix: str | tuple[str, ...], inputs: Collection[str]) -> list[str]: ...

    def close_input(self, input_name: str) -> list[Alert]: ...


def run(
    source: Source[P],
    pipeline: BatchProcessor,
    *,
    totals: RunTotals | None = None,
    on_batch: Callable[[Batch[P], BatchReport], None] | None = None,
) -> RunTotals:
    """Run ``source`` through ``pipeline`` until the source ends; return the totals.

    An exception from the pipeline or the source ends the run without calling
    :meth:`~finsentry.sources.base.Source.on_durable` for the batch in hand, so its position is
    never committed and it is read again on the next run.
    """
    totals = totals if totals is not None else RunTotals()
    batches = source.read()
    try:
        for batch in batches:
            report = step(pipeline, batch, source.name)
            source.on_durable(batch, report)
            totals.add(report)
            if on_batch is not None:
                on_batch(batch, report)
    finally:
        if isinstance(batches, Generator):
            batches.close()  # a source's clean-up runs now, also when the run failed
    return totals


def step(pipeline: BatchProcessor, batch: Batch[P], source_name: str) -> BatchReport:
    """Apply one batch: its assignment, its records, then its closed inputs."""
    if batch.assignment is not None:
        pipeline.assign_inputs(batch.assignment.prefix, batch.assignment.inputs)
    report = pipeline.process(batch.records, source=source_name) if batch.records else BatchReport()
    for name in batch.closed:
        report.alerts.extend(pipeline.close_input(name))
    return report


def run_files(
    paths: Iterable[str | os.PathLike[str]],
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    progress: bool = False,
    batch_size: int = 256,
) -> RunTotals:
    """Ingest JSONL/CSV files through the pipeline (``finsentry ingest``, demo, backtest, DAGs).

    The files' inputs are closed once all of them are read, so the last windows become final.
    Without ``pipeline`` one is built from ``settings`` and closed at the end.
    """
    from tqdm import tqdm

    from finsentry.sources.files import FileSource

    source = FileSource(
        [Path(p) for p in paths],
        batch_size=batch_size,
        max_line_bytes=settings.max_line_bytes,
        keep_bytes=settings.dead_letter_raw_bytes,
    )
    owned = pipeline is None
    pipe = pipeline or Pipeline.from_settings(settings)
    totals = RunTotals()
    bar = tqdm(
        total=source.total_bytes(), unit="B", unit_scale=True, desc="ingest", disable=not progress
    )

    def show(batch: Batch[int], report: BatchReport) -> None:
        bar.update(batch.position)
        bar.set_postfix(items=totals.processed, dead=totals.dead_lettered, alerts=totals.alert_count)

    try:
        return run(source, pipe, totals=totals, on_batch=show)
    finally:
        bar.close()
        if owned:
            pipe.close()
