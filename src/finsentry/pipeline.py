"""The one pipeline core: every source feeds batches of raw records to :meth:`Pipeline.process`.

validate -> normalise -> entities -> score (the text, and towards each ticker) -> dedup ->
watermark -> store (one transaction) -> detect

``process`` returns only after the store has made the batch durable, so a source may commit the
positions of the records it passed in as soon as it returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from finsentry.aggregate import Watermark
from finsentry.alerts.delivery import AlertDelivery
from finsentry.config import Settings
from finsentry.schema import (
    Alert,
    DeadLetter,
    RawRecord,
    ScoredItem,
    Target,
    TextScore,
    utc_now,
)
from finsentry.store.base import BatchHealth, BatchWrite, Store

if TYPE_CHECKING:
    from finsentry.alerts.engine import AlertEngine
    from finsentry.dedup import Deduplicator
    from finsentry.entities import EntityTagger

log = logging.getLogger(__name__)

WATERMARK_STATE_KEY = "watermark"


class Scorer(Protocol):
    """What the pipeline needs of a model: see :mod:`finsentry.scoring`.

    ``targets`` holds, per text, the tickers to score its sentiment towards and where the text
    names them; each result's ``targets`` answers them in order.
    """

    model_id: str

    def score(
        self, texts: Sequence[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]: ...


@dataclass(slots=True)
class BatchReport:
    """What one call of :meth:`Pipeline.process` did."""

    consumed: int = 0
    processed: int = 0
    new_items: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    scoring_s: float = 0.0

    @property
    def dead_lettered(self) -> int:
        return len(self.dead_letters)


@dataclass(slots=True)
class RunTotals:
    """Totals over a run; ``consumed == processed + dead_lettered`` always."""

    consumed: int = 0
    processed: int = 0
    new_items: int = 0
    duplicates: int = 0
    late: int = 0
    dead_lettered: int = 0
    alerts: list[Alert] = field(default_factory=list)
    dead_reasons: dict[str, int] = field(default_factory=dict)
    alert_count: int = 0
    # None keeps every alert (bounded runs print them all); a long-running consumer keeps only
    # the last N in memory (every alert is in the store anyway)
    keep_alerts: int | None = None

    def add_alerts(self, alerts: list[Alert]) -> None:
        self.alerts.extend(alerts)
        self.alert_count += len(alerts)
        if self.keep_alerts is not None and len(self.alerts) > self.keep_alerts:
            del self.alerts[: len(self.alerts) - self.keep_alerts]

    def add(self, report: BatchReport) -> None:
        self.consumed += report.consumed
        self.processed += report.processed
        self.new_items += report.new_items
        self.duplicates += report.duplicates
        self.late += report.late
        self.dead_lettered += report.dead_lettered
        self.add_alerts(report.alerts)
        for dead in report.dead_letters:
            self.dead_reasons[dead.reason_code] = self.dead_reasons.get(dead.reason_code, 0) + 1

    @property
    def balanced(self) -> bool:
        return self.consumed == self.processed + self.dead_lettered


class Pipeline:
    """Chains the stages over micro-batches; owns the watermark; writes through one Store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        scorer: Scorer,
        tagger: EntityTagger,
        dedup: Deduplicator,
        engine: AlertEngine | None,
        clock: Callable[[], datetime] = utc_now,
        delivery: AlertDelivery | None = None,
    ) -> None:
        self.settings = settings
        self.delivery = delivery
        self.store = store
        self.scorer = scorer
        self.tagger = tagger
        self.dedup = dedup
        self.engine = engine
        self.clock = clock
        self.watermark = Watermark(settings.allowed_lateness_s, store.get_state(WATERMARK_STATE_KEY))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        scorer: Scorer | None = None,
        detect: bool = True,
        deliver: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> Pipeline:
        """Build every stage from settings; pass ``store``/``scorer`` to reuse or replace them.

        With ``deliver`` (and e-mail or webhooks configured) alerts are sent by a background
        :class:`AlertDelivery` thread until :meth:`close`.
        """
        from finsentry.alerts.channels import configured_channels as channels
        from finsentry.alerts.engine import AlertEngine
        from finsentry.dedup import Deduplicator
        from finsentry.entities import EntityTagger
        from finsentry.store import open_store

        if store is None:
            store = open_store(settings.db)  # migrates
        if scorer is None:
            from finsentry.scoring import load_scorer

            scorer = load_scorer(settings)
        tagger = EntityTagger.from_settings(settings)
        dedup = Deduplicator(store, timedelta(hours=settings.dedup_horizon_h))
        engine = AlertEngine(settings, store, clock=clock) if detect else None
        delivery = None
        if engine is not None and deliver and channels(settings):
            if settings.db in {"sqlite://", ":memory:"}:
                log.warning("alerts are not delivered from an in-memory store")
            else:
                delivery = AlertDelivery(settings)
                delivery.start()
        return cls(settings, store, scorer, tagger, dedup, engine, clock, delivery)

    # -- the core ---------------------------------------------------------------------------

    def process(self, records: Sequence[RawRecord], source: str = "") -> BatchReport:
        """Run one micro-batch through every stage and make it durable before returning."""
        from finsentry.sources.validate import parse_records

        report = BatchReport(consumed=len(records))
        if not records:
            return report
        now = self.clock()
        items, dead = parse_records(records, self.settings, now)
        report.dead_letters.extend(dead)

        scored: list[ScoredItem] = []
        if items:
            targets = self.tagger.tag_targets(items)
            tickers = [tuple(t.name for t in found) for found in targets]
            started = time.perf_counter()
            scores = self.scorer.score([item.text for item in items], targets)
            report.scoring_s = time.perf_counter() - started
            marks = self.dedup.mark(items, tickers)
            late_flags = self.watermark.observe(items)
            for item, score, found, mark, late in zip(
                items, scores, tickers, marks, late_flags, strict=True
            ):
                scored.append(
                    ScoredItem(
                        item=replace(item, tickers=found),
                        scores=score,
                        model=self.scorer.model_id,
                        tickers=found,
                        novel=mark.novel,
                        duplicate_of=mark.duplicate_of,
                        late=late,
                        fingerprint=mark.fingerprint,
                    )
                )
        report.processed = len(scored)
        report.duplicates = sum(not s.novel for s in scored)
        report.late = sum(s.late for s in scored)

        result = self.store.write_batch(
            BatchWrite(
                items=scored,
                dead_letters=report.dead_letters,
                window_sizes_s=self.settings.window_sizes_s,
                state={WATERMARK_STATE_KEY: self.watermark.to_state()},
                health=_health(source or records[0].source, report, scored, now),
            )
        )
        report.new_items = result.new_items
        report.alerts = self.detect()
        return report

    def detect(self) -> list[Alert]:
        """Evaluate the windows the watermark has made final; returns the new alerts."""
        final_until = self.watermark.value
        if self.engine is None or final_until is None:
            return []
        return self.engine.evaluate(final_until)

    def close_input(self, input_name: str) -> list[Alert]:
        """A bounded input is exhausted: let the watermark move past it and detect again."""
        self.watermark.close_input(input_name)
        self.store.set_state(WATERMARK_STATE_KEY, self.watermark.to_state())
        return self.detect()

    def close(self) -> None:
        if self.delivery is not None:
            self.delivery.stop()
        self.store.close()


def _health(
    source: str, report: BatchReport, scored: Sequence[ScoredItem], now: datetime
) -> BatchHealth:
    lags = [(now - s.published_at).total_seconds() * 1000.0 for s in scored]
    return BatchHealth(
        source=source,
        consumed=report.consumed,
        processed=report.processed,
        dead_lettered=report.dead_lettered,
        duplicates=report.duplicates,
        late=report.late,
        lag_ms_mean=sum(lags) / len(lags) if lags else 0.0,
        lag_ms_max=max(lags, default=0.0),
        scoring_ms=report.scoring_s * 1000.0,
    )


def run_files(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    progress: bool = False,
    batch_size: int = 256,
) -> RunTotals:
    """Ingest JSONL/CSV files through the pipeline (``finsentry ingest``, demo, backtest, DAGs)."""
    from tqdm import tqdm

    from finsentry.sources.files import FileSource

    owned = pipeline is None
    pipe = pipeline or Pipeline.from_settings(settings)
    totals = RunTotals()
    names = [str(p) for p in paths]
    source = FileSource(names, batch_size=batch_size)
    bar = tqdm(
        total=source.total_bytes(), unit="B", unit_scale=True, desc="ingest", disable=not progress
    )
    try:
        done_bytes = 0
        for batch in source.batches():
            report = pipe.process(batch, source="file")
            source.commit()
            totals.add(report)
            batch_bytes = sum(len(r.data) + 1 for r in batch)
            done_bytes += batch_bytes
            bar.update(batch_bytes)
            bar.set_postfix(items=totals.processed, dead=totals.dead_lettered, alerts=totals.alert_count)
        for name in names:
            totals.add_alerts(pipe.close_input(name))
    finally:
        bar.close()
        if owned:
            pipe.close()
    return totals
