"""Every Grafana query, its macros expanded for a concrete range, runs on a real PostgreSQL store
filled by the pipeline and returns the columns and value types its panel reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from finsentry.config import Settings
from finsentry.grafana.dashboards import all_dashboards, render
from finsentry.grafana.macros import expand_sql
from finsentry.grafana.model import Query
from finsentry.pipeline import Pipeline, run_files
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.simulate import simulate
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer

pytestmark = pytest.mark.postgres

START = datetime(2026, 3, 3, tzinfo=UTC)
FULL = (START - timedelta(days=1), START + timedelta(days=1))
EMPTY = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))


@pytest.fixture(scope="module")
def filled(postgres_server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, datetime, str]:
    """(DSN, when the pipeline ran, an incident's ticker): twelve simulated hours with incidents.

    Health rows are stamped with wall-clock time, news rows with event time.
    """
    ran_at = datetime.now(UTC)
    dsn = postgres_server.create_database()
    work = tmp_path_factory.mktemp("grafana-sql")
    sim = simulate(work / "news.jsonl", hours=12, seed=3, incidents=2, start=START)
    ticker = sim.incidents[0].scope_value
    stream = sim.out
    with stream.open("ab") as fh:  # a few records that must become dead letters
        fh.write(b'{"id": "bad-1", "published_at": "2026-03-03T10:00:00", "source": "x",'
                 b' "headline": "naive time"}\nnot json at all\n')  # fmt: skip
    settings = Settings(db=dsn)
    store = open_store(dsn)
    pipe = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    try:
        run_files([stream], settings, pipeline=pipe, batch_size=64)
        evidence = tuple(
            Evidence(i.id, i.item.headline, i.published_at, i.scores.score, i.scores.sentiment)
            for i in store.items_between(
                START, START + timedelta(hours=12), ScopeKind.TICKER, ticker
            )[:3]  # fmt: skip
        )
        store.insert_alerts([  # so that the ticker's alert panels have a row whatever fired
            Alert("test_rule", ScopeKind.TICKER, ticker, "negative_share",
                  START + timedelta(hours=9), START + timedelta(hours=9, minutes=5),
                  START + timedelta(hours=9, minutes=6), "high", 0.8, 0.2, evidence)
        ])  # fmt: skip
        counts = store.counts()
    finally:
        pipe.close()
    assert counts["items"] > 500 and counts["dead_letters"] == 2 and counts["alerts"] >= 1
    return dsn, ran_at, ticker


@pytest.fixture(scope="module")
def filled_dsn(filled: tuple[str, datetime, str]) -> str:
    return filled[0]


def _queries() -> list[tuple[str, str, Query, str | None]]:
    out = []
    for dashboard in all_dashboards():
        model = json.loads(render(dashboard))
        intervals = {p["title"]: p.get("interval") for p in model["panels"]}
        for name, query in dashboard.queries():
            title = name.split(" ", 1)[1].strip("'\"")
            out.append((dashboard.uid, name, query, intervals.get(title)))
    return out


QUERIES = _queries()


def _check_value(kind: str, value: object, t0: datetime, t1: datetime, slack: float) -> None:
    if value is None:  # SQL NULL: Grafana shows a gap / empty cell
        return
    if kind == "time":
        if isinstance(value, datetime):
            assert value.tzinfo is not None, "time columns must be timestamptz"
            moment = value
        else:
            assert isinstance(value, int | float | Decimal), f"time is {type(value)}"
            moment = datetime.fromtimestamp(float(value), tz=UTC)
        assert t0 - timedelta(seconds=slack) <= moment <= t1, moment
    elif kind == "number":
        assert isinstance(value, int | float | Decimal) and not isinstance(value, bool), value
    elif kind == "bool":
        assert isinstance(value, bool), value
    else:
        assert isinstance(value, str), value


@pytest.mark.parametrize(
    ("uid", "name", "query", "min_interval"), QUERIES, ids=[f"{q[0]}:{q[1]}" for q in QUERIES]
)
def test_query_returns_the_columns_its_panel_reads(
    filled: tuple[str, datetime, str], uid: str, name: str, query: Query, min_interval: str | None
) -> None:
    dsn, ran_at, ticker = filled
    variables = {"ticker": ticker}
    # news panels look at event time; health panels at flush / receive (wall-clock) time
    # (the macros render whole seconds: end the range a little after now)
    now = datetime.now(UTC) + timedelta(seconds=5)
    full = (ran_at - timedelta(hours=1), now) if uid == "finsentry-health" else FULL
    with psycopg.connect(dsn) as conn:
        for t0, t1 in (full, EMPTY):
            sql = expand_sql(query.sql, t0, t1, variables=variables, min_interval=min_interval)
            cur = conn.execute(sql)  # type: ignore[arg-type]
            names = [d.name for d in cur.description or []]
            assert names == [c.name for c in query.columns], f"{name}: {sql}"
            rows = cur.fetchall()
            if (t0, t1) == full:
                assert rows, f"{name} returned nothing on a filled store:\n{sql}"
                for column, values in zip(query.columns, zip(*rows, strict=True), strict=True):
                    if column.kind == "number" and query.format == "time_series":
                        assert any(v is not None for v in values), f"{name}.{column.name} all null"
                    for value in values:
                        _check_value(column.kind, value, t0, t1, slack=3600)
                if query.format == "time_series":
                    times = [float(r[0]) if not isinstance(r[0], datetime) else r[0].timestamp()
                             for r in rows]  # fmt: skip
                    assert times == sorted(times), f"{name}: time series must be sorted by time"
            elif query.format == "time_series":
                assert rows == [], f"{name} returned rows for an empty range"


def test_panel_numbers_agree_with_the_store(filled: tuple[str, datetime, str]) -> None:
    """The overview's item count and the ticker volume equal counts over the items table."""
    filled_dsn, _, ticker = filled
    overview = next(d for d in all_dashboards() if d.uid == "finsentry-overview")
    items_panel = next(p for p in overview.panels if p.title == "Items")
    with psycopg.connect(filled_dsn) as conn:
        (shown,) = conn.execute(expand_sql(items_panel.query.sql, *FULL)).fetchone()  # type: ignore[arg-type,misc]
        (truth,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM items WHERE novel AND published_at >= %s AND published_at < %s",
            FULL,
        ).fetchone()
        assert int(shown) == truth > 500
        drill_down = next(d for d in all_dashboards() if d.uid == "finsentry-ticker")
        volume = next(p for p in drill_down.panels if p.title == "Volume: $ticker")
        sql = expand_sql(volume.query.sql, *FULL, variables={"ticker": ticker}, interval_s=86400)
        per_day = conn.execute(sql).fetchall()  # type: ignore[arg-type]
        novel = sum(int(r[1]) + int(r[2]) + int(r[3]) for r in per_day)
        (about_ticker,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM item_tickers t JOIN items i ON i.id = t.item_id"
            " WHERE t.ticker = %s AND i.novel AND t.published_at >= %s AND t.published_at < %s",
            (ticker, *FULL),
        ).fetchone()
        assert novel == about_ticker > 10


def test_dashboard_files_reference_only_existing_tables(filled_dsn: str) -> None:
    with psycopg.connect(filled_dsn) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )}  # fmt: skip
    for path in sorted(Path("dashboards").glob("*.json")):
        text = path.read_text(encoding="utf-8")
        for table in ("window_stats", "alerts", "items", "item_tickers", "batches", "dead_letters"):
            if f"FROM {table}" in text or f"JOIN {table}" in text:
                assert table in tables, f"{path} reads {table}, which the store lacks"
