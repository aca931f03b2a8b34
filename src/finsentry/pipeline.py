"""The one pipeline core: every source feeds batches of raw records to :meth:`Pipeline.process`.

validate -> normalise -> entities -> score (the text, and towards each ticker) -> dedup ->
watermark -> store (one transaction) -> detect

``process`` returns only after the store has made the batch durable, so a source may commit the
positions of the records it passed in as soon as it returns.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from finsentry.aggregate import PartitionWatermark, Watermark
from finsentry.alerts.delivery import AlertDelivery
from finsentry.config import Settings
from finsentry.isolate import describe, is_systemic, isolate
from finsentry.schema import (
    Alert,
    DeadLetter,
    NewsItem,
    RawRecord,
    ScoredItem,
    Target,
    TextScore,
    as_utc,
    utc_now,
)
from finsentry.store.base import BatchHealth, BatchWrite, Store
from finsentry.totals import BatchReport, RunTotals
from finsentry.workers import Workers

if TYPE_CHECKING:
    from finsentry.alerts.engine import AlertEngine
    from finsentry.dedup import Deduplicator, Revision
    from finsentry.entities import EntityTagger

__all__ = ["BatchReport", "Pipeline", "RunTotals", "TextScorer", "WATERMARK_STATE_KEY"]

log = logging.getLogger(__name__)

WATERMARK_STATE_KEY = "watermark"  # before workers; each worker now saves watermark/<id>
EXCLUSIVE_LOCK = "pipeline"  # de-duplicate, write and evaluate: one worker at a time


class TextScorer(Protocol):
    """What the pipeline needs of a model: see :mod:`finsentry.scoring`.

    ``targets`` holds, per text, the tickers to score its sentiment towards and where the text
    names them; each result's ``targets`` answers them in order.
    """

    model_id: str

    def score(
        self, texts: Sequence[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]: ...


class Pipeline:
    """Chains the stages over micro-batches; owns the watermark; writes through one Store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        scorer: TextScorer,
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
        self.workers = Workers(
            store, settings.worker_id, settings.allowed_lateness_s, settings.worker_lease_s
        )
        saved = self.workers.saved()  # a restart under the same worker id goes on from it
        self.watermark = PartitionWatermark(Watermark(settings.allowed_lateness_s, saved))
        self._save_state()  # registered: holds detection back until it has read something

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        scorer: TextScorer | None = None,
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
        """Run one micro-batch through every stage and make it durable before returning.

        A record that fails tagging, scoring or the store write on its own is dead-lettered
        (``scoring_failed``, ``store_failed``) and the rest of the batch is stored without it.
        """
        from finsentry.sources.validate import parse_records

        report = BatchReport(consumed=len(records))
        if not records:
            return report
        now = self.clock()
        items, dead = parse_records(records, self.settings, now)
        report.dead_letters.extend(dead)
        originals = _Originals(records, now)
        kept = self._score(items, report, originals) if items else []
        with self.store.exclusive(EXCLUSIVE_LOCK):  # one worker at a time from here on
            self._take_in_others()
            before = copy.deepcopy(self.watermark)
            scored = self._mark(kept)
            stored = self._write(scored, report, originals, source or records[0].source, before)
            if self.engine is not None:
                self.engine.note_items(stored)  # late items: the detectors re-read their windows
            report.input_times = self.watermark.inputs
            report.alerts = self._detect()
        return report

    def _score(
        self, items: Sequence[NewsItem], report: BatchReport, originals: _Originals
    ) -> list[tuple[NewsItem, tuple[tuple[Target, ...], TextScore]]]:
        """Tag and score; records failing alone are dead-lettered."""
        spent: list[float] = []

        def tag_and_score(part: Sequence[NewsItem]) -> list[tuple[tuple[Target, ...], TextScore]]:
            targets = self.tagger.tag_targets(part)
            started = time.perf_counter()
            scores = self.scorer.score([item.text for item in part], targets)
            spent.append(time.perf_counter() - started)
            return list(zip(targets, scores, strict=True))

        done = isolate(items, tag_and_score)
        report.scoring_s = sum(spent)
        for index, exc in done.failures.items():
            report.dead_letters.append(
                originals.dead(items[index], "scoring_failed", describe("tagging or scoring", exc))
            )
        return [(item, r) for item, r in zip(items, done.results, strict=True) if r is not None]

    def _mark(
        self, kept: Sequence[tuple[NewsItem, tuple[tuple[Target, ...], TextScore]]]
    ) -> list[ScoredItem]:
        """De-duplicate and watermark (under the store's exclusive lock). Late: behind the
        merged watermark of every worker as it stood before the batch."""
        merged = self.workers.merged(self.watermark)
        tickers = [tuple(t.name for t in targets) for _, (targets, _) in kept]
        marks = self.dedup.mark([item for item, _ in kept], tickers)
        self.watermark.observe([item for item, _ in kept])
        late_flags = [merged is not None and as_utc(i.published_at) < merged for i, _ in kept]
        self.dedup.forget_behind(merged)  # what no on-time item can copy
        return [
            ScoredItem(
                item=item if item.tickers == found else replace(item, tickers=found),
                scores=score,
                model=self.scorer.model_id,
                tickers=found,
                novel=mark.novel,
                duplicate_of=mark.duplicate_of,
                late=late,
                fingerprint=mark.fingerprint,
            )
            for (item, (_, score)), found, mark, late in zip(
                kept, tickers, marks, late_flags, strict=True
            )
        ]

    def _write(
        self,
        scored: list[ScoredItem],
        report: BatchReport,
        originals: _Originals,
        source: str,
        before: PartitionWatermark,
    ) -> list[ScoredItem]:
        """One transaction for the batch. If it fails for some items only, the others are stored
        without them (in as few transactions as bisection needs), then the dead letters, the
        watermark of what was stored and the batch's health in a last one. Returns what is
        stored."""
        _count(report, scored)
        revisions = self.dedup.take_revisions()  # stored items an earlier copy re-marked
        try:
            result = self.store.write_batch(
                self._batch_write(scored, report, source, originals.now, revisions=revisions)
            )
        except Exception as exc:
            if is_systemic(exc) or not scored:
                raise
            log.warning("storing a batch failed (%s); storing its records apart", type(exc).__name__)
        else:
            report.new_items = result.new_items
            return scored
        new = 0

        def write_items(part: Sequence[ScoredItem]) -> list[bool]:
            nonlocal new
            bare = BatchWrite(items=part, dead_letters=(), window_sizes_s=self.settings.window_sizes_s)
            new += self.store.write_batch(bare).new_items
            return [True] * len(part)

        done = isolate(scored, write_items)
        for index, error in done.failures.items():
            report.dead_letters.append(
                originals.dead(scored[index].item, "store_failed", describe("storing", error))
            )
        stored = [s for s, ok in zip(scored, done.results, strict=True) if ok]
        self.watermark = before  # as if only the stored items had been seen
        before.observe([s.item for s in stored])
        _count(report, stored)
        last = self.store.write_batch(
            self._batch_write([], report, source, originals.now, stored, revisions)
        )
        report.new_items = new + last.new_items
        return stored

    def _batch_write(
        self,
        items: Sequence[ScoredItem],
        report: BatchReport,
        source: str,
        now: datetime,
        healthy: Sequence[ScoredItem] | None = None,
        revisions: Sequence[Revision] = (),
    ) -> BatchWrite:
        return BatchWrite(
            items=items,
            dead_letters=report.dead_letters,
            window_sizes_s=self.settings.window_sizes_s,
            state={self.workers.key: self.workers.state(self.watermark)},
            health=_health(source, report, items if healthy is None else healthy, now),
            revisions=revisions,
        )

    def detect(self) -> list[Alert]:
        """Evaluate the windows the merged watermark of every worker has made final, one worker
        at a time; returns the new alerts."""
        if self.engine is None:
            return []
        with self.store.exclusive(EXCLUSIVE_LOCK):
            self._take_in_others()
            return self._detect()

    def _take_in_others(self) -> None:
        """What other workers stored since this one's last look: into the duplicate index, and
        their windows marked for the detectors to re-read."""
        changed = self.dedup.refresh(self.workers.others_since)
        if changed is not None and self.engine is not None:
            self.engine.windows.note_since(changed)

    def _detect(self) -> list[Alert]:
        final_until = self.workers.merged(self.watermark) if self.engine is not None else None
        if self.engine is None or final_until is None:
            return []
        return self.engine.evaluate(final_until)

    def _save_state(self, running: bool = True) -> None:
        self.store.set_state(self.workers.key, self.workers.state(self.watermark, running))

    # -- inputs: what the runner tells the pipeline about a source's inputs -----------------

    def assign_inputs(self, prefix: str | tuple[str, ...], inputs: Collection[str]) -> list[str]:
        """This worker owns ``inputs`` (all named ``prefix...``, e.g. a topic's partitions).

        An owned input that has delivered nothing holds the watermark back until it does or is
        closed; inputs under ``prefix`` not in ``inputs`` belong to another worker now and are
        forgotten. Returns the forgotten ones.
        """
        owned = set(inputs)
        self.watermark.expect(sorted(owned))
        gone = [name for name in self.watermark.inputs if name.startswith(prefix) and name not in owned]
        for name in gone:
            self.watermark.remove_input(name)
        self._save_state()  # other workers see what this one now waits for
        return gone

    def close_input(self, input_name: str) -> list[Alert]:
        """An input has nothing more to say for now (a file read to its end, a caught-up idle
        partition): it stops holding the watermark back; detect again. Returns new alerts."""
        self.watermark.close_input(input_name)
        self.workers.released = True  # read to its end or idle: it holds nothing back now
        self._save_state()
        return self.detect()

    @property
    def input_times(self) -> dict[str, datetime]:
        """The largest event time seen per input (active and closed)."""
        return self.watermark.inputs

    def close(self) -> None:
        """Stop: this worker's inputs no longer hold the other workers' watermark back."""
        try:
            with self.store.exclusive(EXCLUSIVE_LOCK):
                self.workers.retire(self.watermark)
        except Exception as exc:  # the store may be what failed; closing must go on
            log.warning("could not mark worker %s as stopped: %s", self.workers.id, exc)
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


def _count(report: BatchReport, stored: Sequence[ScoredItem]) -> None:
    report.processed = len(stored)
    report.duplicates = sum(not s.novel for s in stored)
    report.late = sum(s.late for s in stored)


class _Originals:
    """The batch's raw records by (input, position), to dead-letter an item with its bytes."""

    def __init__(self, records: Sequence[RawRecord], now: datetime) -> None:
        self.now = now
        self._by_position = {(r.input, r.position): r for r in records}

    def dead(self, item: NewsItem, code: str, reason: str) -> DeadLetter:
        record = self._by_position.get((item.input, item.position))
        return DeadLetter(
            raw=b"" if record is None else record.data,
            reason_code=code,
            reason=reason,
            source=item.source if record is None else record.source,
            input=item.input,
            position=item.position,
            received_at=self.now,
        )
