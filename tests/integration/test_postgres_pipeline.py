"""The whole pipeline on PostgreSQL gives what it gives on SQLite: windows, alerts, counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.store import open_store
from finsentry.store.base import Store
from tests.fixtures.scorers import LexiconScorer

pytestmark = pytest.mark.postgres


def pipeline(db: str) -> Pipeline:
    settings = Settings(db=db)
    store = open_store(db)
    return Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())


def snapshot(store: Store, sizes: tuple[int, ...]) -> tuple[object, ...]:
    start, end = store.time_range()  # type: ignore[attr-defined]
    assert start is not None and end is not None
    lo, hi = start - timedelta(days=1), end + timedelta(days=1)
    windows = {size: store.window_stats(size, lo, hi) for size in sizes}
    alerts = [a.to_json() for a in store.alerts()]
    for a in alerts:
        a.pop("fired_at")  # wall-clock time of the run
    return windows, alerts, store.counts()


def test_pipeline_on_postgres_matches_sqlite(tmp_path: Path, postgres_dsn: str) -> None:
    stream = tmp_path / "news.jsonl"
    simulate(stream, hours=10, seed=5, incidents=1)
    lite = pipeline(str(tmp_path / "p.db"))
    pg = pipeline(postgres_dsn)
    sizes = lite.settings.window_sizes_s
    lite_totals = run_files([stream], lite.settings, pipeline=lite, batch_size=1000)
    pg_totals = run_files([stream], pg.settings, pipeline=pg, batch_size=97)
    assert pg_totals.processed == lite_totals.processed > 100
    assert pg_totals.balanced and lite_totals.balanced
    expected = snapshot(lite.store, sizes)
    assert snapshot(pg.store, sizes) == expected
    counts = pg.store.counts()
    assert counts["duplicates"] > 0  # the simulator syndicates stories: counted once
    assert counts["alerts"] >= 1  # the injected incident, identical on both stores
    # a replay of the whole file through PostgreSQL changes nothing
    again = run_files([stream], pg.settings, pipeline=pg, batch_size=250)
    assert again.new_items == 0 and again.alerts == []
    assert snapshot(pg.store, sizes) == expected
    lite.close()
    pg.close()
