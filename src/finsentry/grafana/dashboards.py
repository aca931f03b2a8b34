"""finsentry's Grafana dashboards, as code: overview, ticker drill-down and pipeline health.

Every query is SQL for Grafana's PostgreSQL data source and uses its macros (``$__timeFilter``,
``$__timeGroupAlias``, ``$__timeFrom()`` ...) over the tables described in
:mod:`finsentry.store.base`. Tone and volume come from ``window_stats`` at one window size (the
detectors' window by default): sums and counts there merge additively, so grouping windows into
Grafana's ``$__interval`` gives exact means. ``finsentry grafana generate`` writes the JSON files
under ``dashboards/``; a test fails when the checked-in files differ from this module's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finsentry.grafana.model import (
    Annotation,
    Dashboard,
    Panel,
    Query,
    QueryVariable,
    Row,
    flag,
    num,
    text,
    time_col,
)

OVERVIEW_UID = "finsentry-overview"
TICKER_UID = "finsentry-ticker"
HEALTH_UID = "finsentry-health"

TONE_COLORS = {"mode": "continuous-RdYlGr"}
TONE_RANGE: dict[str, Any] = {"unit": "none", "min": -1.0, "max": 1.0, "decimals": 2}
TABLE_OPTIONS: dict[str, Any] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
STAT_OPTIONS: dict[str, Any] = {
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "colorMode": "value",
    "graphMode": "none",
    "textMode": "auto",
    "justifyMode": "auto",
    "orientation": "auto",
}
TIMESERIES_OPTIONS: dict[str, Any] = {
    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
    "tooltip": {"mode": "multi", "sort": "desc"},
}


def grafana_interval(seconds: int) -> str:
    """A Grafana interval string for a number of seconds: 300 -> '5m', 3600 -> '1h'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _tone(alias: str = "tone", prefix: str = "") -> str:
    return f"SUM({prefix}score_sum) / NULLIF(SUM({prefix}count), 0) AS {alias}"


def _stat(title: str, sql: str, column: str, description: str, **kw: Any) -> Panel:
    return Panel(
        "stat",
        title,
        Query(sql, "table", (num(column),)),
        description=description,
        width=6,
        height=4,
        options=STAT_OPTIONS,
        **kw,
    )


def _ticker_link(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "url": f"/d/{TICKER_UID}?var-ticker=${{__value.raw}}&${{__url_time_range}}",
    }


def _by_name(column: str, **properties: Any) -> dict[str, Any]:
    """A field override for one column; ``custom_x=...`` sets the property ``custom.x``."""
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [
            {"id": key.replace("custom_", "custom.", 1), "value": value}
            for key, value in properties.items()
        ],
    }


def _alerts_annotation(scope_filter: str = "") -> Annotation:
    sql = (
        "SELECT window_start AS time, window_end AS timeend,\n"
        "  severity || ' ' || rule || ' on ' || scope_kind || ' ' || scope_value\n"
        "    || ': observed ' || round(observed::numeric, 3)\n"
        "    || ', expected ' || round(expected::numeric, 3) AS text,\n"
        "  'finsentry,' || rule || ',' || severity AS tags\n"
        "FROM alerts\n"
        f"WHERE $__timeFilter(window_start){scope_filter}\n"
        "ORDER BY window_start"
    )
    return Annotation(
        "finsentry alerts",
        Query(sql, "table", (time_col(), time_col("timeend"), text("text"), text("tags"))),
    )


def overview(window_s: int = 300, top_tickers: int = 20) -> Dashboard:
    """News volume and tone for everything, per topic and per ticker, plus the alerts."""
    ws = f"window_size_s = {window_s}"
    scope_all = f"{ws} AND scope_kind = 'all' AND $__timeFilter(window_start)"
    per = grafana_interval(window_s)
    items: list[Panel | Row] = [
        _stat(
            "Items",
            f"SELECT COALESCE(SUM(count), 0) AS items\nFROM window_stats\nWHERE {scope_all}",
            "items",
            "Novel news items in the time range (duplicates excluded).",
            unit="short",
        ),
        _stat(
            "Mean tone",
            f"SELECT {_tone()}\nFROM window_stats\nWHERE {scope_all}",
            "tone",
            "Mean of P(positive) - P(negative) over novel items, in [-1, 1].",
            color=TONE_COLORS,
            **TONE_RANGE,
        ),
        _stat(
            "Negative share",
            "SELECT SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share\n"
            f"FROM window_stats\nWHERE {scope_all}",
            "negative_share",
            "Share of novel items the model labels negative.",
            unit="percentunit",
            decimals=1,
        ),
        _stat(
            "Alerts fired",
            "SELECT COUNT(*) AS alerts\nFROM alerts\nWHERE $__timeFilter(window_start)",
            "alerts",
            "Alerts whose window starts in the time range.",
            unit="short",
        ),
        Panel(
            "timeseries",
            "News volume",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                "  SUM(count) AS novel, SUM(duplicates) AS duplicates, SUM(late) AS late\n"
                f"FROM window_stats\nWHERE {scope_all}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("novel"), num("duplicates"), num("late")),
            ),
            description=f"Items per interval ({per} windows grouped to the panel interval).",
            unit="short",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}},
        ),
        Panel(
            "timeseries",
            "Tone per topic",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                f"  scope_value AS metric,\n  {_tone()}\n"
                f"FROM window_stats\nWHERE {ws} AND scope_kind = 'topic'"
                " AND $__timeFilter(window_start)\nGROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("tone")),
            ),
            description="Mean tone of each topic's novel items.",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"lineWidth": 1, "spanNulls": True},
            **TONE_RANGE,
        ),
        Panel(
            "status-history",
            "Tone heatmap: top tickers by volume",
            Query(
                "WITH top AS (\n"
                "  SELECT scope_value\n  FROM window_stats\n"
                f"  WHERE {ws} AND scope_kind = 'ticker' AND $__timeFilter(window_start)\n"
                f"  GROUP BY scope_value\n  ORDER BY SUM(count) DESC, scope_value\n"
                f"  LIMIT {top_tickers}\n)\n"
                "SELECT $__timeGroupAlias(w.window_start, $__interval),\n"
                f"  w.scope_value AS metric,\n  {_tone(prefix='w.')}\n"
                "FROM window_stats w JOIN top ON top.scope_value = w.scope_value\n"
                f"WHERE w.{ws} AND w.scope_kind = 'ticker'"
                " AND $__timeFilter(w.window_start)\n"
                "GROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("tone")),
            ),
            description=(
                f"One row per ticker (the {top_tickers} busiest), colour = mean tone per interval"
                " (red negative, green positive); empty cells had no news."
            ),
            width=24,
            height=12,
            min_interval="1h",
            color=TONE_COLORS,
            options={
                "showValue": "never",
                "rowHeight": 0.9,
                "colWidth": 0.95,
                "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                "tooltip": {"mode": "single"},
            },
            links=(_ticker_link("Drill down: ${__field.displayName}"),),
            **TONE_RANGE,
        ),
        Panel(
            "table",
            "Top movers vs the previous period",
            Query(
                "WITH cur AS (\n"
                "  SELECT scope_value AS ticker, SUM(count) AS items,\n"
                f"    {_tone()}\n  FROM window_stats\n"
                f"  WHERE {ws} AND scope_kind = 'ticker' AND $__timeFilter(window_start)\n"
                "  GROUP BY scope_value\n"
                "), prev AS (\n"
                f"  SELECT scope_value AS ticker, {_tone()}\n  FROM window_stats\n"
                f"  WHERE {ws} AND scope_kind = 'ticker'\n"
                "    AND window_start >= $__timeFrom()::timestamptz"
                " - ($__timeTo()::timestamptz - $__timeFrom()::timestamptz)\n"
                "    AND window_start < $__timeFrom()::timestamptz\n"
                "  GROUP BY scope_value\n"
                ")\n"
                "SELECT cur.ticker, cur.items, cur.tone, prev.tone AS previous_tone,\n"
                "  cur.tone - COALESCE(prev.tone, 0) AS change\n"
                "FROM cur LEFT JOIN prev ON prev.ticker = cur.ticker\n"
                "WHERE cur.items >= 3\n"
                "ORDER BY abs(cur.tone - COALESCE(prev.tone, 0)) DESC, cur.ticker\nLIMIT 15",
                "table",
                (
                    text("ticker"),
                    num("items"),
                    num("tone"),
                    num("previous_tone"),
                    num("change"),
                ),
            ),
            description=(
                "Tickers whose mean tone moved most against the same length of time just before"
                " the range (at least 3 items)."
            ),
            height=10,
            decimals=3,
            options=TABLE_OPTIONS,
            overrides=(
                _by_name("ticker", links=[_ticker_link("Drill down")]),
                _by_name(
                    "change",
                    color=TONE_COLORS,
                    min=-1,
                    max=1,
                    custom_cellOptions={"type": "color-background"},
                ),
                _by_name("items", decimals=0),
            ),
        ),
        Panel(
            "table",
            "Alerts",
            Query(
                "SELECT window_start AS time, severity, rule, scope_kind, scope_value, metric,\n"
                "  observed, expected, status, id\n"
                "FROM alerts\nWHERE $__timeFilter(window_start)\n"
                "ORDER BY window_start DESC, id\nLIMIT 500",
                "table",
                (
                    time_col(),
                    text("severity"),
                    text("rule"),
                    text("scope_kind"),
                    text("scope_value"),
                    text("metric"),
                    num("observed"),
                    num("expected"),
                    text("status"),
                    text("id"),
                ),
            ),
            description="Alerts in the time range, newest first. Click a ticker to drill down.",
            height=10,
            decimals=3,
            options=TABLE_OPTIONS,
            overrides=(_by_name("scope_value", links=[_ticker_link("Drill down")]),),
        ),
    ]
    return Dashboard(
        OVERVIEW_UID,
        "finsentry: overview",
        "News volume and tone over time, per topic and ticker, with the alerts.",
        tuple(items),
        annotations=(_alerts_annotation(),),
        links=(_dash_link(TICKER_UID, "Ticker"), _dash_link(HEALTH_UID, "Pipeline health")),
    )


def _dash_link(uid: str, title: str) -> dict[str, Any]:
    return {
        "type": "link",
        "title": title,
        "url": f"/d/{uid}",
        "keepTime": True,
        "includeVars": False,
        "targetBlank": False,
        "icon": "dashboard",
        "asDropdown": False,
        "tags": [],
    }


def ticker(window_s: int = 300) -> Dashboard:
    """One ticker: its tone and volume, its headlines with their scores, its alerts."""
    scope = (
        f"window_size_s = {window_s} AND scope_kind = 'ticker' AND scope_value = '$ticker'"
        " AND $__timeFilter(window_start)"
    )
    per = grafana_interval(window_s)
    variable = QueryVariable(
        "ticker",
        "Ticker",
        Query(
            "SELECT scope_value\nFROM window_stats\n"
            f"WHERE window_size_s = {window_s} AND scope_kind = 'ticker'"
            " AND $__timeFilter(window_start)\n"
            "GROUP BY scope_value\nORDER BY SUM(count) DESC, scope_value",
            "table",
            (text("scope_value"),),
        ),
        description="Tickers with news in the time range, busiest first.",
    )
    items: list[Panel | Row] = [
        _stat(
            "Items",
            f"SELECT COALESCE(SUM(count), 0) AS items\nFROM window_stats\nWHERE {scope}",
            "items",
            "Novel items about $ticker in the time range.",
            unit="short",
        ),
        _stat(
            "Mean tone",
            f"SELECT {_tone()}\nFROM window_stats\nWHERE {scope}",
            "tone",
            "Mean tone of $ticker's novel items.",
            color=TONE_COLORS,
            **TONE_RANGE,
        ),
        _stat(
            "Negative share",
            "SELECT SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share\n"
            f"FROM window_stats\nWHERE {scope}",
            "negative_share",
            "Share of $ticker's novel items labelled negative.",
            unit="percentunit",
            decimals=1,
        ),
        _stat(
            "Alerts fired",
            "SELECT COUNT(*) AS alerts\nFROM alerts\n"
            "WHERE scope_kind = 'ticker' AND scope_value = '$ticker'"
            " AND $__timeFilter(window_start)",
            "alerts",
            "Alerts about $ticker in the time range.",
            unit="short",
        ),
        Panel(
            "timeseries",
            "Tone: $ticker",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                f"  {_tone()},\n"
                "  SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share\n"
                f"FROM window_stats\nWHERE {scope}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("tone"), num("negative_share")),
            ),
            description="Mean tone and negative share per interval.",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"spanNulls": True},
            **TONE_RANGE,
        ),
        Panel(
            "timeseries",
            "Volume: $ticker",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                "  SUM(negative) AS negative, SUM(neutral) AS neutral,"
                " SUM(positive) AS positive,\n  SUM(duplicates) AS duplicates\n"
                f"FROM window_stats\nWHERE {scope}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (
                    time_col(),
                    num("negative"),
                    num("neutral"),
                    num("positive"),
                    num("duplicates"),
                ),
            ),
            description="Novel items per interval by sentiment, and duplicates.",
            unit="short",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            overrides=(
                _by_name("negative", color={"mode": "fixed", "fixedColor": "red"}),
                _by_name("neutral", color={"mode": "fixed", "fixedColor": "gray"}),
                _by_name("positive", color={"mode": "fixed", "fixedColor": "green"}),
            ),
        ),
        Panel(
            "table",
            "Headlines: $ticker",
            Query(
                "SELECT i.published_at AS time, i.headline, i.sentiment, i.score,\n"
                "  i.p_negative, i.p_positive, i.topic, i.source, i.novel, i.url\n"
                "FROM item_tickers t JOIN items i ON i.id = t.item_id\n"
                "WHERE t.ticker = '$ticker' AND $__timeFilter(t.published_at)\n"
                "ORDER BY t.published_at DESC, i.id\nLIMIT 500",
                "table",
                (
                    time_col(),
                    text("headline"),
                    text("sentiment"),
                    num("score"),
                    num("p_negative"),
                    num("p_positive"),
                    text("topic"),
                    text("source"),
                    flag("novel"),
                    text("url"),
                ),
            ),
            description="The ticker's headlines, newest first, with the model's scores.",
            width=24,
            height=12,
            decimals=3,
            options=TABLE_OPTIONS,
            overrides=(
                _by_name(
                    "score",
                    color=TONE_COLORS,
                    min=-1,
                    max=1,
                    custom_cellOptions={"type": "color-text"},
                ),
                _by_name("url", links=[{"title": "Open", "url": "${__value.raw}"}]),
            ),
        ),
        Panel(
            "table",
            "Alerts: $ticker",
            Query(
                "SELECT window_start AS time, severity, rule, metric, observed, expected,"
                " status,\n  jsonb_array_length(evidence::jsonb) AS evidence_items, id\n"
                "FROM alerts\n"
                "WHERE scope_kind = 'ticker' AND scope_value = '$ticker'"
                " AND $__timeFilter(window_start)\n"
                "ORDER BY window_start DESC, id",
                "table",
                (
                    time_col(),
                    text("severity"),
                    text("rule"),
                    text("metric"),
                    num("observed"),
                    num("expected"),
                    text("status"),
                    num("evidence_items"),
                    text("id"),
                ),
            ),
            description="Alerts about the ticker in the time range.",
            width=24,
            decimals=3,
            options=TABLE_OPTIONS,
        ),
    ]
    return Dashboard(
        TICKER_UID,
        "finsentry: ticker",
        "One ticker's tone, volume, headlines and alerts.",
        tuple(items),
        variables=(variable,),
        annotations=(_alerts_annotation(" AND scope_kind = 'ticker' AND scope_value = '$ticker'"),),
        links=(_dash_link(OVERVIEW_UID, "Overview"), _dash_link(HEALTH_UID, "Pipeline health")),
    )


def health() -> Dashboard:
    """Pipeline health: throughput, end-to-end lag, scoring time, dead letters, late items."""
    batches = "FROM batches\nWHERE $__timeFilter(flushed_at)"
    items: list[Panel | Row] = [
        _stat(
            "Processed",
            f"SELECT COALESCE(SUM(processed), 0) AS processed\n{batches}",
            "processed",
            "Records scored and stored in the time range.",
            unit="short",
        ),
        _stat(
            "Dead letters",
            "SELECT COUNT(*) AS dead_letters\nFROM dead_letters\nWHERE $__timeFilter(received_at)",
            "dead_letters",
            "Records that failed validation in the time range.",
            unit="short",
        ),
        _stat(
            "Mean end-to-end lag",
            "SELECT SUM(lag_ms_mean * processed) / NULLIF(SUM(processed), 0) / 1000.0"
            f" AS lag_s\n{batches}",
            "lag_s",
            "Mean time from an item's publication to its durable write.",
            unit="s",
        ),
        _stat(
            "Late share",
            "SELECT SUM(late)::float8 / NULLIF(SUM(processed), 0) AS late_share\n" + batches,
            "late_share",
            "Share of items that arrived behind the watermark.",
            unit="percentunit",
            decimals=2,
        ),
        Panel(
            "timeseries",
            "Throughput",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(consumed) / ($__interval_ms / 1000.0) AS consumed_per_s,\n"
                "  SUM(processed) / ($__interval_ms / 1000.0) AS processed_per_s,\n"
                "  SUM(dead_lettered) / ($__interval_ms / 1000.0) AS dead_lettered_per_s\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (
                    time_col(),
                    num("consumed_per_s"),
                    num("processed_per_s"),
                    num("dead_lettered_per_s"),
                ),
            ),
            description="Records per second through the pipeline, by flush time.",
            unit="reqps",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "timeseries",
            "End-to-end lag",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(lag_ms_mean * processed) / NULLIF(SUM(processed), 0) / 1000.0"
                " AS mean_lag_s,\n"
                "  MAX(lag_ms_max) / 1000.0 AS max_lag_s\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("mean_lag_s"), num("max_lag_s")),
            ),
            description="Publication to durable write, mean and worst per interval.",
            unit="s",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "timeseries",
            "Dead letters by reason",
            Query(
                "SELECT $__timeGroupAlias(received_at, $__interval),\n"
                "  reason_code AS metric, COUNT(*) AS dead_letters\n"
                "FROM dead_letters\nWHERE $__timeFilter(received_at)\n"
                "GROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("dead_letters")),
            ),
            description="Rejected records per interval, by stable reason code.",
            unit="short",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
        ),
        Panel(
            "timeseries",
            "Late and duplicate items",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(late) AS late, SUM(duplicates) AS duplicates\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("late"), num("duplicates")),
            ),
            description=(
                "Items behind the watermark (stored, counted, folded in by"
                " `finsentry db reaggregate`) and near-duplicates, per interval."
            ),
            unit="short",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "timeseries",
            "Scoring time per item",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(scoring_ms) / NULLIF(SUM(processed), 0) AS scoring_ms_per_item\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("scoring_ms_per_item")),
            ),
            description="Model time per scored item.",
            unit="ms",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "table",
            "Sources",
            Query(
                "SELECT source, COUNT(*) AS batches, SUM(consumed) AS consumed,\n"
                "  SUM(processed) AS processed, SUM(dead_lettered) AS dead_lettered,\n"
                "  MAX(flushed_at) AS last_flush\n"
                f"{batches}\nGROUP BY source\nORDER BY source",
                "table",
                (
                    text("source"),
                    num("batches"),
                    num("consumed"),
                    num("processed"),
                    num("dead_lettered"),
                    time_col("last_flush"),
                ),
            ),
            description="Per source: batches flushed and records read = processed + dead letters.",
            options=TABLE_OPTIONS,
        ),
        Panel(
            "table",
            "Recent dead letters",
            Query(
                "SELECT received_at AS time, reason_code, reason, source, input, position\n"
                "FROM dead_letters\nWHERE $__timeFilter(received_at)\n"
                "ORDER BY received_at DESC, key\nLIMIT 200",
                "table",
                (
                    time_col(),
                    text("reason_code"),
                    text("reason"),
                    text("source"),
                    text("input"),
                    num("position"),
                ),
            ),
            description="The newest rejected records and why (raw bytes stay in the store).",
            width=24,
            height=10,
            options=TABLE_OPTIONS,
        ),
    ]
    return Dashboard(
        HEALTH_UID,
        "finsentry: pipeline health",
        "Throughput, end-to-end lag, dead letters and late items of the finsentry pipeline.",
        tuple(items),
        refresh="30s",
        time_from="now-6h",
        links=(_dash_link(OVERVIEW_UID, "Overview"), _dash_link(TICKER_UID, "Ticker")),
    )


def all_dashboards(window_s: int = 300) -> list[Dashboard]:
    return [overview(window_s), ticker(window_s), health()]


def render(dashboard: Dashboard) -> str:
    """The dashboard's JSON text as written to disk (stable, so the staleness test can compare)."""
    return json.dumps(dashboard.to_json(), indent=2, ensure_ascii=False) + "\n"


def file_name(dashboard: Dashboard) -> str:
    return dashboard.uid.removeprefix("finsentry-") + ".json"


def write_dashboards(out_dir: Path, window_s: int = 300) -> list[Path]:
    """Write every dashboard as ``<name>.json`` into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for dashboard in all_dashboards(window_s):
        path = out_dir / file_name(dashboard)
        path.write_text(render(dashboard), encoding="utf-8")
        paths.append(path)
    return paths
