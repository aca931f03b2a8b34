"""finsentry's Grafana dashboards, as code: overview, ticker drill-down and pipeline health.

Every query is SQL for Grafana's PostgreSQL data source and uses its macros (``$__timeFilter``,
``$__timeGroupAlias``, ``$__timeFrom()`` ...) over the tables described in
:mod:`finsentry.store.base`. Tone and volume come from ``window_stats`` at one window size (the
detectors' window by default): sums and counts there merge additively, so grouping windows into
Grafana's ``$__interval`` gives exact means. Template variables (``$topic``, ``$source``,
``$ticker``: multi-select with "All") enter SQL only through Grafana's ``sqlstring`` escaping
(:func:`finsentry.grafana.panels.any_of`). ``finsentry grafana generate`` writes the JSON files
under ``dashboards/`` (and the UI-import flavour under ``dashboards/import/``); a test fails when
the checked-in files differ from this module's output.
"""

from __future__ import annotations

import json
from pathlib import Path

from finsentry.grafana.health import health
from finsentry.grafana.model import Dashboard, Panel, Query, Row, flag, num, text, time_col
from finsentry.grafana.panels import (
    ALERT_LINK,
    ALERT_LINK_COLUMNS,
    HEALTH_UID,
    OVERVIEW_UID,
    SHARE_RANGE,
    TABLE_OPTIONS,
    TICKER_UID,
    TIMESERIES_OPTIONS,
    TONE_COLORS,
    TONE_RANGE,
    alert_scope_filter,
    alerts_annotation,
    any_of,
    by_name,
    dash_link,
    grafana_interval,
    scope_variable,
    stat,
    ticker_link,
    tone,
)

__all__ = [
    "HEALTH_UID", "OVERVIEW_UID", "TICKER_UID", "all_dashboards", "file_name", "health",
    "overview", "render", "ticker", "write_dashboards",
]  # fmt: skip

IMPORT_DIR = "import"


def _alerts_table(title: str, where: str, description: str, width: int = 12) -> Panel:
    return Panel(
        "table",
        title,
        Query(
            "SELECT window_start AS time, severity, rule, scope_kind, scope_value, metric,\n"
            "  observed, expected, status, id,\n"
            f"{ALERT_LINK_COLUMNS}\n"
            f"FROM alerts\nWHERE $__timeFilter(window_start) AND {where}\n"
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
                text("dashboard"),
                text("scope_param"),
            ),
        ),
        description=description,
        width=width,
        height=10,
        decimals=3,
        options=TABLE_OPTIONS,
        overrides=(
            by_name("scope_value", links=[ALERT_LINK]),
            by_name("dashboard", custom_hidden=True),
            by_name("scope_param", custom_hidden=True),
        ),
    )


def overview(window_s: int = 300, top_tickers: int = 20) -> Dashboard:
    """News volume and tone for everything, per topic, source and ticker, plus the alerts."""
    ws = f"window_size_s = {window_s}"
    topics = f"{ws} AND scope_kind = 'topic' AND {any_of('scope_value', 'topic')}"
    topics += " AND $__timeFilter(window_start)"
    per = grafana_interval(window_s)
    items: list[Panel | Row] = [
        stat(
            "Items",
            f"SELECT COALESCE(SUM(count), 0) AS items\nFROM window_stats\nWHERE {topics}",
            "items",
            "Novel news items in the time range about the topics in $topic (duplicates excluded).",
            unit="short",
        ),
        stat(
            "Mean tone",
            f"SELECT {tone()}\nFROM window_stats\nWHERE {topics}",
            "tone",
            "Mean of P(positive) - P(negative) over novel items of $topic, in [-1, 1].",
            color=TONE_COLORS,
            **TONE_RANGE,
        ),
        stat(
            "Negative share",
            "SELECT SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share\n"
            f"FROM window_stats\nWHERE {topics}",
            "negative_share",
            "Share of novel items of $topic the model labels negative.",
            **SHARE_RANGE,
        ),
        stat(
            "Alerts fired",
            "SELECT COUNT(*) AS alerts\nFROM alerts\n"
            f"WHERE $__timeFilter(window_start) AND {alert_scope_filter()}",
            "alerts",
            "Alerts whose window starts in the time range: market-wide, or about a topic,"
            " ticker or source selected above.",
            unit="short",
        ),
        Panel(
            "timeseries",
            "News volume",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                "  SUM(count) AS novel, SUM(duplicates) AS duplicates, SUM(late) AS late\n"
                f"FROM window_stats\nWHERE {topics}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("novel"), num("duplicates"), num("late")),
            ),
            description=f"Items of $topic per interval ({per} windows grouped to the interval).",
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
                f"  scope_value AS metric,\n  {tone()}\n"
                f"FROM window_stats\nWHERE {topics}\nGROUP BY 1, 2\nORDER BY 1, 2",
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
            "timeseries",
            "Volume per source",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                "  scope_value AS metric, SUM(count) AS items\n"
                f"FROM window_stats\nWHERE {ws} AND scope_kind = 'source'"
                f" AND {any_of('scope_value', 'source')}"
                " AND $__timeFilter(window_start)\nGROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("items")),
            ),
            description="Novel items per interval from each news source in $source.",
            unit="short",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}},
        ),
        Panel(
            "timeseries",
            "Tone per source",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                f"  scope_value AS metric,\n  {tone()}\n"
                f"FROM window_stats\nWHERE {ws} AND scope_kind = 'source'"
                f" AND {any_of('scope_value', 'source')}"
                " AND $__timeFilter(window_start)\nGROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("tone")),
            ),
            description="Mean tone of each news source's novel items.",
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
                f"  WHERE {ws} AND scope_kind = 'ticker' AND {any_of('scope_value', 'ticker')}\n"
                "    AND $__timeFilter(window_start)\n"
                f"  GROUP BY scope_value\n  ORDER BY SUM(count) DESC, scope_value\n"
                f"  LIMIT {top_tickers}\n)\n"
                "SELECT $__timeGroupAlias(w.window_start, $__interval),\n"
                f"  w.scope_value AS metric,\n  {tone(prefix='w.')}\n"
                "FROM window_stats w JOIN top ON top.scope_value = w.scope_value\n"
                f"WHERE w.{ws} AND w.scope_kind = 'ticker'"
                " AND $__timeFilter(w.window_start)\n"
                "GROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("tone")),
            ),
            description=(
                f"One row per ticker (the {top_tickers} busiest of $ticker), colour = mean tone"
                " per interval (red negative, green positive); empty cells had no news."
                " Click a row to open that ticker."
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
            # each row is one field named after its ticker: link the field's name, not the
            # cell's value (that is the tone)
            links=(
                ticker_link(
                    "Drill down: ${__field.displayName}", "${__field.displayName:percentencode}"
                ),
            ),
            **TONE_RANGE,
        ),
        Panel(
            "table",
            "Top movers vs the previous period",
            Query(
                "WITH cur AS (\n"
                "  SELECT scope_value AS ticker, SUM(count) AS items,\n"
                f"    {tone()}\n  FROM window_stats\n"
                f"  WHERE {ws} AND scope_kind = 'ticker' AND {any_of('scope_value', 'ticker')}\n"
                "    AND $__timeFilter(window_start)\n"
                "  GROUP BY scope_value\n"
                "), prev AS (\n"
                f"  SELECT scope_value AS ticker, {tone()}\n  FROM window_stats\n"
                f"  WHERE {ws} AND scope_kind = 'ticker' AND {any_of('scope_value', 'ticker')}\n"
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
                "Tickers of $ticker whose mean tone moved most against the same length of time"
                " just before the range (at least 3 items)."
            ),
            height=10,
            decimals=3,
            options=TABLE_OPTIONS,
            overrides=(
                by_name(
                    "ticker",
                    links=[ticker_link("Drill down", "${__value.raw:percentencode}")],
                ),
                by_name(
                    "change",
                    color=TONE_COLORS,
                    min=-1,
                    max=1,
                    custom_cellOptions={"type": "color-background"},
                ),
                by_name("items", decimals=0),
            ),
        ),
        _alerts_table(
            "Alerts",
            alert_scope_filter(),
            "Alerts in the time range, newest first: market-wide, and about the topics,"
            " tickers and sources selected above. Click a scope to open it.",
        ),
        Panel(
            "table",
            "Headlines",
            Query(
                "SELECT published_at AS time, headline, sentiment, score, topic, source,\n"
                "  array_to_string(tickers, ' ') AS tickers, novel, url\n"
                "FROM items\n"
                f"WHERE $__timeFilter(published_at) AND {any_of('topic', 'topic')}\n"
                f"  AND {any_of('source', 'source')}\n"
                "ORDER BY published_at DESC, id\nLIMIT 200",
                "table",
                (
                    time_col(),
                    text("headline"),
                    text("sentiment"),
                    num("score"),
                    text("topic"),
                    text("source"),
                    text("tickers"),
                    flag("novel"),
                    text("url"),
                ),
            ),
            description="The newest headlines of the topics in $topic from the sources in $source.",
            width=24,
            height=10,
            decimals=3,
            options=TABLE_OPTIONS,
            overrides=(
                by_name(
                    "score",
                    color=TONE_COLORS,
                    min=-1,
                    max=1,
                    custom_cellOptions={"type": "color-text"},
                ),  # fmt: skip
                by_name("url", links=[{"title": "Open", "url": "${__value.raw}"}]),
            ),
        ),
    ]
    return Dashboard(
        OVERVIEW_UID,
        "finsentry: overview",
        "News volume and tone over time, per topic, source and ticker, with the alerts.",
        tuple(items),
        variables=(
            scope_variable("topic", "Topic", "topic", window_s),
            scope_variable("source", "Source", "source", window_s),
            scope_variable("ticker", "Ticker", "ticker", window_s),
        ),
        annotations=(alerts_annotation(" AND " + alert_scope_filter()),),
        links=(dash_link(TICKER_UID, "Ticker"), dash_link(HEALTH_UID, "Pipeline health")),
    )


def ticker(window_s: int = 300) -> Dashboard:
    """The tickers chosen: their tone and volume, their headlines with scores, their alerts."""
    tickers = any_of("scope_value", "ticker")
    scope = (
        f"window_size_s = {window_s} AND scope_kind = 'ticker' AND {tickers}"
        " AND $__timeFilter(window_start)"
    )
    alert_scope = f"scope_kind = 'ticker' AND {tickers}"
    per = grafana_interval(window_s)
    items: list[Panel | Row] = [
        stat(
            "Mentions",
            f"SELECT COALESCE(SUM(count), 0) AS items\nFROM window_stats\nWHERE {scope}",
            "items",
            "Novel items about each ticker in $ticker, summed (an item about two of them"
            " counts twice).",
            unit="short",
        ),
        stat(
            "Mean tone",
            f"SELECT {tone()}\nFROM window_stats\nWHERE {scope}",
            "tone",
            "Mean tone towards the tickers in $ticker over their novel items.",
            color=TONE_COLORS,
            **TONE_RANGE,
        ),
        stat(
            "Negative share",
            "SELECT SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share\n"
            f"FROM window_stats\nWHERE {scope}",
            "negative_share",
            "Share of the mentions labelled negative.",
            **SHARE_RANGE,
        ),
        stat(
            "Alerts fired",
            "SELECT COUNT(*) AS alerts\nFROM alerts\n"
            f"WHERE {alert_scope} AND $__timeFilter(window_start)",
            "alerts",
            "Alerts about the tickers in $ticker in the time range.",
            unit="short",
        ),
        Panel(
            "timeseries",
            "Tone: $ticker",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                f"  scope_value AS metric,\n  {tone()}\n"
                f"FROM window_stats\nWHERE {scope}\nGROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("tone")),
            ),
            description="Mean tone per interval, one line per ticker, in [-1, 1].",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"spanNulls": True},
            **TONE_RANGE,
        ),
        Panel(
            "timeseries",
            "Negative share: $ticker",
            Query(
                "SELECT $__timeGroupAlias(window_start, $__interval),\n"
                "  scope_value AS metric,\n"
                "  SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share\n"
                f"FROM window_stats\nWHERE {scope}\nGROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("negative_share")),
            ),
            description="Share of each ticker's novel items labelled negative, per interval.",
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"spanNulls": True},
            **SHARE_RANGE,
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
            description="Mentions per interval by sentiment, and duplicates.",
            unit="short",
            width=24,
            min_interval=per,
            options=TIMESERIES_OPTIONS,
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            overrides=(
                by_name("negative", color={"mode": "fixed", "fixedColor": "red"}),
                by_name("neutral", color={"mode": "fixed", "fixedColor": "gray"}),
                by_name("positive", color={"mode": "fixed", "fixedColor": "green"}),
            ),
        ),
        Panel(
            "table",
            "Headlines: $ticker",
            Query(
                "SELECT t.published_at AS time, t.ticker, i.headline, t.sentiment, t.score,\n"
                "  i.score AS headline_score, i.topic, i.source, i.novel, i.url\n"
                "FROM item_tickers t JOIN items i ON i.id = t.item_id\n"
                f"WHERE {any_of('t.ticker', 'ticker')} AND $__timeFilter(t.published_at)\n"
                f"  AND {any_of('i.topic', 'topic')} AND {any_of('i.source', 'source')}\n"
                "ORDER BY t.published_at DESC, i.id, t.ticker\nLIMIT 500",
                "table",
                (
                    time_col(),
                    text("ticker"),
                    text("headline"),
                    text("sentiment"),
                    num("score"),
                    num("headline_score"),
                    text("topic"),
                    text("source"),
                    flag("novel"),
                    text("url"),
                ),
            ),
            description=(
                "Headlines about the tickers, newest first: sentiment and score towards the"
                " ticker, and the headline's overall score; filtered by $topic and $source."
            ),
            width=24,
            height=12,
            decimals=3,
            options=TABLE_OPTIONS,
            overrides=(
                by_name(
                    "score",
                    color=TONE_COLORS,
                    min=-1,
                    max=1,
                    custom_cellOptions={"type": "color-text"},
                ),  # fmt: skip
                by_name("url", links=[{"title": "Open", "url": "${__value.raw}"}]),
            ),
        ),
        _alerts_table(
            "Alerts: $ticker",
            alert_scope,
            "Alerts about the tickers in the time range.",
            width=24,
        ),
    ]
    return Dashboard(
        TICKER_UID,
        "finsentry: ticker",
        "Tickers' tone, volume, headlines and alerts.",
        tuple(items),
        variables=(
            scope_variable("ticker", "Ticker", "ticker", window_s),
            scope_variable("topic", "Topic", "topic", window_s),
            scope_variable("source", "Source", "source", window_s),
        ),
        annotations=(alerts_annotation(" AND " + alert_scope),),
        links=(dash_link(OVERVIEW_UID, "Overview"), dash_link(HEALTH_UID, "Pipeline health")),
    )


def all_dashboards(window_s: int = 300) -> list[Dashboard]:
    return [overview(window_s), ticker(window_s), health()]


def render(dashboard: Dashboard, for_import: bool = False) -> str:
    """The dashboard's JSON text as written to disk (stable, so the staleness test can compare)."""
    model = dashboard.to_json(for_import=for_import)
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def file_name(dashboard: Dashboard, for_import: bool = False) -> str:
    name = dashboard.uid.removeprefix("finsentry-") + ".json"
    return f"{IMPORT_DIR}/{name}" if for_import else name


def write_dashboards(out_dir: Path, window_s: int = 300) -> list[Path]:
    """Write every dashboard as ``<name>.json`` (file and API provisioning) and
    ``import/<name>.json`` (UI import, with ``__inputs``) into ``out_dir``."""
    paths = []
    for dashboard in all_dashboards(window_s):
        for for_import in (False, True):
            path = out_dir / file_name(dashboard, for_import)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(dashboard, for_import), encoding="utf-8")
            paths.append(path)
    return paths
