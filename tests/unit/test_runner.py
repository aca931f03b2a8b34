"""The one runner: sources yield batches, the pipeline stores them, the source hears when."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run
from finsentry.schema import RawRecord
from finsentry.sources import Assignment, Batch, Source
from finsentry.sources.files import FileSource
from finsentry.store import open_store
from finsentry.totals import BatchReport
from tests.fixtures.scorers import LexiconScorer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def line(i: int, minutes: float, headline: str = "Apple shares surge") -> bytes:
    return json.dumps({
        "id": f"n{i}", "published_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "source": "wire", "headline": f"{headline} {i}", "tickers": ["AAPL"],
    }).encode()


def make_pipeline(tmp_path: Path, scorer: Any = None) -> Pipeline:
    settings = Settings(db=str(tmp_path / "run.db"), allowed_lateness_s=60)
    store = open_store(settings.db)
    return Pipeline.from_settings(settings, store=store, scorer=scorer or LexiconScorer())


class ScriptedSource:
    """A source that yields prepared batches and records what it is told (a real ``Source``)."""

    name = "scripted"

    def __init__(self, batches: list[Batch[int]]) -> None:
        self.batches = batches
        self.durable: list[tuple[int, BatchReport]] = []
        self.finished = False

    def read(self) -> Iterator[Batch[int]]:
        try:
            yield from self.batches
        finally:
            self.finished = True

    def on_durable(self, batch: Batch[int], report: BatchReport) -> None:
        self.durable.append((batch.position, report))


def test_files_run_through_the_runner_and_learn_what_is_durable(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(line(i, i) for i in range(25)) + b"\n{bad\n\n")
    pipe = make_pipeline(tmp_path)
    source = FileSource([path], batch_size=10)
    assert isinstance(source, Source)
    seen: list[int] = []
    totals = run(source, pipe, on_batch=lambda batch, report: seen.append(len(batch.records)))
    assert seen == [10, 10, 6, 0]  # the last batch only closes the file's input
    assert (totals.consumed, totals.processed, totals.dead_lettered) == (26, 25, 1)
    assert totals.balanced
    assert source.records_durable == 26
    assert source.bytes_durable == path.stat().st_size
    # closed: nothing holds the watermark back, every window is final
    assert pipe.watermark.value == T0 + timedelta(minutes=24)
    pipe.close()


def test_a_failed_batch_is_never_reported_durable(tmp_path: Path) -> None:
    class Unplugged(LexiconScorer):
        def score(self, texts: Any, targets: Any = None) -> Any:
            if any("Broken" in t for t in texts):
                raise OSError("device lost")  # the machine, not the data: never dead-lettered
            return super().score(texts, targets)

    records = [RawRecord(line(i, i, "Broken" if i >= 5 else "Fine"), "t", "mem", i) for i in range(8)]
    source = ScriptedSource([Batch(records[:5], 1), Batch(records[5:], 2)])
    pipe = make_pipeline(tmp_path, Unplugged())
    with pytest.raises(OSError, match="device lost"):
        run(source, pipe)
    assert [position for position, _ in source.durable] == [1]
    assert source.finished  # the source's clean-up ran
    assert pipe.store.counts()["items"] == 5 and pipe.store.dead_letters() == []
    pipe.close()


def test_assignment_holds_the_watermark_until_every_owned_input_speaks(tmp_path: Path) -> None:
    def rec(i: int, minutes: float, part: int) -> RawRecord:
        return RawRecord(line(i, minutes), "kafka", f"news/{part}", i)

    owned = Assignment("news/", frozenset({"news/0", "news/1"}))
    source = ScriptedSource([
        Batch([rec(1, 0, 0), rec(2, 90, 0)], 1, assignment=owned),  # partition 1 silent
        Batch([rec(3, 30, 1)], 2),  # on time although behind partition 0
        Batch((), 3, assignment=Assignment("news/", frozenset({"news/0"}))),  # 1 moved away
        Batch((), 4, closed=("news/0",)),  # caught up and idle
    ])
    pipe = make_pipeline(tmp_path)
    marks: list[datetime | None] = []
    totals = run(source, pipe, on_batch=lambda batch, report: marks.append(pipe.watermark.value))
    assert marks == [
        None,
        T0 + timedelta(minutes=30) - timedelta(seconds=60),
        T0 + timedelta(minutes=90) - timedelta(seconds=60),
        T0 + timedelta(minutes=90),
    ]
    assert totals.late == 0 and totals.processed == 3
    assert set(pipe.input_times) == {"news/0"}
    assert [report.consumed for _, report in source.durable] == [2, 1, 0, 0]
    assert source.durable[0][1].input_times["news/0"] == T0 + timedelta(minutes=90)
    pipe.close()
