"""Every Grafana query, its macros expanded for a concrete range, runs on a real PostgreSQL store
filled by the pipeline and returns the columns and value types its panel reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.grafana.alerting import health_rules
from finsentry.grafana.dashboards import all_dashboards, render
from finsentry.grafana.macros import VariableValue, expand_sql
from finsentry.grafana.model import Dashboard, Query
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from finsentry.store.base import Notification
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
                  ran_at, "high", 0.8, 0.2, evidence)
        ])  # fmt: skip
        store.enqueue_notifications([Notification("a1", "email", {"subject": "x"})])
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
DASHBOARDS = {d.uid: d for d in all_dashboards()}
HOSTILE = "MMM' OR ''='"


def _all_of(conn: psycopg.Connection, dashboard: Dashboard, t0: datetime, t1: datetime
            ) -> dict[str, VariableValue]:  # fmt: skip
    """Each variable at "All": every value its own query lists, as Grafana expands it."""
    values: dict[str, VariableValue] = {}
    for variable in dashboard.variables:
        rows = conn.execute(expand_sql(variable.query.sql, t0, t1)).fetchall()  # type: ignore[arg-type]
        values[variable.name] = [r[0] for r in rows]
    return values


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
    # news panels look at event time; health panels at flush / receive (wall-clock) time
    # (the macros render whole seconds: end the range a little after now)
    now = datetime.now(UTC) + timedelta(seconds=5)
    full = (ran_at - timedelta(hours=1), now) if uid == "finsentry-health" else FULL
    with psycopg.connect(dsn) as conn:
        variables = _all_of(conn, DASHBOARDS[uid], *full)
        assert all(variables.values()), variables  # every variable lists values
        if "ticker" in variables:
            variables["ticker"] = [ticker]
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
        every_topic = _all_of(conn, overview, *FULL)
        (shown,) = conn.execute(
            expand_sql(items_panel.query.sql, *FULL, variables=every_topic)
        ).fetchone()  # type: ignore[arg-type,misc]
        (truth,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM items WHERE novel AND published_at >= %s AND published_at < %s",
            FULL,
        ).fetchone()
        assert int(shown) == truth > 500
        drill_down = next(d for d in all_dashboards() if d.uid == "finsentry-ticker")
        volume = next(p for p in drill_down.panels if p.title == "Volume: $ticker")
        sql = expand_sql(volume.query.sql, *FULL, variables={"ticker": [ticker]}, interval_s=86400)
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


def test_hostile_variable_values_match_only_their_own_rows(
    filled: tuple[str, datetime, str],
) -> None:
    """A value like ``MMM' OR ''='`` is one literal: it selects exactly the rows that carry it."""
    dsn, ran_at, ticker = filled
    ticker_dash = DASHBOARDS["finsentry-ticker"]
    mentions = next(p for p in ticker_dash.panels if p.title == "Mentions").query.sql
    with psycopg.connect(dsn) as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "INSERT INTO window_stats (window_size_s, window_start, window_end, scope_kind,"
            " scope_value, count, negative, neutral, positive, score_sum)"
            " VALUES (300, %s, %s, 'ticker', %s, 7, 7, 0, 0, -7)",
            (START + timedelta(hours=1), START + timedelta(hours=1, minutes=5), HOSTILE),
        )

        def shown(sql: str, values: dict[str, VariableValue], t0: datetime = FULL[0],
                  t1: datetime = FULL[1]) -> list[tuple[object, ...]]:  # fmt: skip
            return conn.execute(expand_sql(sql, t0, t1, variables=values)).fetchall()  # type: ignore[arg-type]

        (only,) = shown(mentions, {"ticker": [HOSTILE]})
        (real,) = shown(mentions, {"ticker": [ticker]})
        (both,) = shown(mentions, {"ticker": [HOSTILE, ticker]})
        (total,) = conn.execute(
            "SELECT SUM(count) FROM window_stats WHERE window_size_s = 300"
            " AND scope_kind = 'ticker'"
        ).fetchone()  # type: ignore[misc]
        assert only == (7,) and both[0] == 7 + real[0] and 7 < both[0] < total
        # the same value pasted raw inside quotes (what '$ticker' did) matches every ticker
        raw = "SELECT SUM(count) FROM window_stats WHERE window_size_s = 300 AND scope_kind ="
        raw += " 'ticker' AND scope_value = '${ticker:raw}' AND $__timeFilter(window_start)"
        (injected,) = shown(raw, {"ticker": HOSTILE})
        assert injected[0] > total > 7  # every ticker, and every other scope too

        # every query of every dashboard: hostile values select nothing that a value matching
        # nothing would not (the dashboards' results are the same with and without them)
        now = datetime.now(UTC) + timedelta(seconds=5)
        checked = 0
        for uid, dashboard in DASHBOARDS.items():
            rng = (ran_at - timedelta(hours=1), now) if uid == "finsentry-health" else FULL
            names = [v.name for v in dashboard.variables]
            for name, query in dashboard.queries():
                if not any(f"${{{n}:" in query.sql for n in names):
                    continue
                nothing = shown(query.sql, dict.fromkeys(names, ["no such value"]), *rng)
                hostile = shown(query.sql, dict.fromkeys(
                    names, ["no such value", "x' OR ''='", "x' OR 1=1 --", "x''); --"]
                ), *rng)  # fmt: skip
                assert hostile == nothing, f"{uid} {name}"
                checked += 1
        assert checked >= 20


def _rule_value(conn: psycopg.Connection, uid: str) -> float:
    rule = next(r for r in health_rules() if r.uid == uid)
    now = datetime.now(UTC) + timedelta(seconds=1)
    sql = expand_sql(rule.sql, now - timedelta(seconds=rule.lookback_s), now)
    cur = conn.execute(sql)  # type: ignore[arg-type]
    assert [d.name for d in cur.description or []] == [rule.column], sql
    (row,) = cur.fetchall()
    assert isinstance(row[0], int | float | Decimal), row
    return float(row[0])


def test_health_alert_rules_on_a_real_store(postgres_server) -> None:
    """Each rule's SQL, as Grafana runs it over its look-back, on PostgreSQL: quiet when healthy,
    firing when the pipeline stops, lags, dead-letters or cannot deliver."""
    dsn = postgres_server.create_database()
    open_store(dsn).close()  # the schema
    rules = {r.uid: r for r in health_rules()}
    with psycopg.connect(dsn, autocommit=True) as conn:
        # an empty store: nothing ever flushed is "no data"; the rest is quiet
        assert rules["finsentry-no-data"].fires(_rule_value(conn, "finsentry-no-data"))
        for uid in ("finsentry-consumer-lag", "finsentry-dead-letter-rate",
                    "finsentry-outbox-failures"):  # fmt: skip
            assert _rule_value(conn, uid) == 0 and not rules[uid].fires(0)

        def batch(ago_min: float, consumed: int, dead: int, lag_s: float) -> None:
            conn.execute(
                "INSERT INTO batches (flushed_at, source, consumed, processed, dead_lettered,"
                " duplicates, late, lag_ms_mean, lag_ms_max, scoring_ms)"
                " VALUES (now() - %s * interval '1 minute', 'kafka', %s, %s, %s, 0, 0, %s, %s, 5)",
                (ago_min, consumed, consumed - dead, dead, lag_s * 1000, lag_s * 2000),
            )

        batch(2, 100, 0, 20)  # healthy, two minutes ago
        batch(40, 1000, 900, 99_999)  # outside every look-back but the outbox's
        assert not rules["finsentry-no-data"].fires(_rule_value(conn, "finsentry-no-data"))
        assert _rule_value(conn, "finsentry-consumer-lag") == pytest.approx(20)
        assert _rule_value(conn, "finsentry-dead-letter-rate") == 0
        batch(1, 100, 10, 900)  # lagging and dead-lettering
        lag = _rule_value(conn, "finsentry-consumer-lag")
        assert lag == pytest.approx((100 * 20 + 90 * 900) / 190)
        assert rules["finsentry-consumer-lag"].fires(lag)
        share = _rule_value(conn, "finsentry-dead-letter-rate")
        assert share == pytest.approx(10 / 200) and not rules["finsentry-dead-letter-rate"].fires(
            share
        )
        # re-reading old dead letters (finsentry dead-letters replay) is not new input
        conn.execute(
            "INSERT INTO batches (flushed_at, source, consumed, processed, dead_lettered,"
            " duplicates, late, lag_ms_mean, lag_ms_max, scoring_ms)"
            " VALUES (now() - interval '1 minute', 'replay', 50, 0, 50, 0, 0, 0, 0, 5)"
        )
        assert _rule_value(conn, "finsentry-dead-letter-rate") == pytest.approx(share)
        batch(0.5, 100, 30, 10)
        assert rules["finsentry-dead-letter-rate"].fires(
            _rule_value(conn, "finsentry-dead-letter-rate")
        )
        conn.execute("UPDATE batches SET flushed_at = now() - interval '20 minutes'")
        assert rules["finsentry-no-data"].fires(_rule_value(conn, "finsentry-no-data"))

        for key, status, attempts, age_h in (
            ("a:email", "failed", 5, 1), ("b:email", "pending", 3, 2), ("c:email", "pending", 1, 1),
            ("d:email", "delivered", 1, 1), ("e:email", "failed", 5, 48),
        ):  # fmt: skip
            conn.execute(
                "INSERT INTO notifications (key, alert_id, channel, payload, status, attempts,"
                " created_at) VALUES (%s, %s, 'email', '{}', %s, %s,"
                " now() - %s * interval '1 hour')",
                (key, key[0], status, attempts, age_h),
            )
        failing = _rule_value(conn, "finsentry-outbox-failures")
        assert failing == 2 and rules["finsentry-outbox-failures"].fires(failing)


GRANTS = Path(__file__).parents[2] / "infra" / "postgres" / "grafana_reader.sql"


def test_grafana_reader_reads_what_the_dashboards_need_and_nothing_else(filled_dsn: str) -> None:
    """infra/postgres/grafana_reader.sql: every panel, variable and alert-rule query runs as the
    read-only role; raw dead-letter bytes, notification payloads and errors, and the pipeline's
    state are refused."""
    statements = [
        s.strip()
        for s in "\n".join(
            line.split("--", 1)[0] for line in GRANTS.read_text().splitlines()
        ).split(";")
        if s.strip()
    ]
    with psycopg.connect(filled_dsn, autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grafana_reader') "
            "THEN CREATE ROLE grafana_reader NOLOGIN; END IF; END $$"
        )
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("SET ROLE grafana_reader")
        now = datetime.now(UTC) + timedelta(seconds=5)
        ran = 0
        for dashboard in all_dashboards():
            window = (now - timedelta(days=1), now) if dashboard.uid == "finsentry-health" else FULL
            variables = _all_of(conn, dashboard, *window)
            for _, query in dashboard.queries():
                conn.execute(expand_sql(query.sql, *window, variables=variables))  # type: ignore[arg-type]
                ran += 1
        for rule in health_rules():
            conn.execute(expand_sql(rule.sql, now - timedelta(seconds=rule.lookback_s), now))  # type: ignore[arg-type]
            ran += 1
        assert ran >= 30
        for refused in (
            "SELECT raw FROM dead_letters",
            "SELECT payload FROM notifications",
            "SELECT last_error FROM notifications",
            "SELECT * FROM pipeline_state",
            "SELECT * FROM schema_version",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(refused)  # type: ignore[arg-type]


def test_headline_tables_link_only_web_urls_and_show_hostile_text_as_stored(
    filled: tuple[str, datetime, str],
) -> None:
    """Rows stored before validation dropped non-http(s) URLs keep them in ``items.url``; the
    headline tables' "Open" link must not make them clickable. The hostile headline itself is a
    value Grafana's table renders as text: the query returns it unchanged, nothing more."""
    dsn, _ran_at, ticker = filled
    hostile_headline = f"{ticker} \x1b[2J <script>alert(1)</script> [x](javascript:alert(1)) <!channel>"
    with psycopg.connect(dsn) as conn, conn.transaction(force_rollback=True):
        ids = [r[0] for r in conn.execute(  # the newest items with a ticker: on both tables
            "SELECT i.id FROM items i WHERE EXISTS (SELECT 1 FROM item_tickers t"
            " WHERE t.item_id = i.id) ORDER BY i.published_at DESC LIMIT 3"
        )]  # fmt: skip
        assert len(ids) == 3
        bad = {ids[0]: "javascript:alert(document.cookie)", ids[1]: "data:text/html,<b>x</b>"}
        for item_id, url in bad.items():
            conn.execute(
                "UPDATE items SET url = %s, headline = %s WHERE id = %s",
                (url, hostile_headline, item_id),
            )
        conn.execute("UPDATE items SET url = %s WHERE id = %s", ("https://news.example/a", ids[2]))
        checked = 0
        for uid, title in (("finsentry-overview", "Headlines"), ("finsentry-ticker", "Headlines")):
            dashboard = DASHBOARDS[uid]
            panel = next(p for p in dashboard.panels if p.title.startswith(title))
            values = _all_of(conn, dashboard, *FULL)
            cur = conn.execute(expand_sql(panel.query.sql, *FULL, variables=values))  # type: ignore[arg-type]
            columns = [d.name for d in cur.description or []]
            rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
            urls = {r["url"] for r in rows}
            assert "https://news.example/a" in urls, uid
            assert not any(u and not u.lower().startswith(("http://", "https://")) for u in urls)
            shown = [r for r in rows if r["headline"] == hostile_headline]
            assert len(shown) >= 2 and all(r["url"] is None for r in shown), uid
            checked += 1
        assert checked == 2
