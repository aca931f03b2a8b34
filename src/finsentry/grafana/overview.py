"""The overview dashboard: news volume and tone for everything, per topic, source and ticker, the
busiest tickers' tone, the biggest movers, the alerts and the newest headlines.

Each panel is built by one function below, in the order the dashboard shows them.
"""

from __future__ import annotations

from finsentry.grafana.model import Dashboard, Panel, Query, flag, num, text, time_col
from finsentry.grafana.panels import (
    HEALTH_UID,
    OVERVIEW_UID,
    SCORE_CELL,
    STACKED_BARS,
    THIN_LINES,
    TICKER_UID,
    TONE_COLORS,
    TONE_RANGE,
    URL_LINK,
    alert_scope_filter,
    alerts_annotation,
    alerts_table,
    any_of,
    by_name,
    dash_link,
    grafana_interval,
    scope_variable,
    stat,
    table,
    ticker_link,
    timeseries,
    tone,
    web_url,
)
from finsentry.grafana.windows import (
    items_stat,
    negative_share_stat,
    tone_lines,
    tone_stat,
    window_filter,
)


def _stats(topics: str) -> list[Panel]:
    """The top row: items, mean tone and negative share of $topic, and the alerts fired."""
    return [
        items_stat(
            "Items",
            topics,
            "Novel news items in the time range about the topics in $topic (duplicates excluded).",
        ),
        tone_stat(
            topics, "Mean of P(positive) - P(negative) over novel items of $topic, in [-1, 1]."
        ),
        negative_share_stat(topics, "Share of novel items of $topic the model labels negative."),
        stat(
            "Alerts fired",
            "SELECT COUNT(*) AS alerts\nFROM alerts\n"
            f"WHERE $__timeFilter(window_start) AND {alert_scope_filter()}",
            "alerts",
            "Alerts whose window starts in the time range: market-wide, or about a topic,"
            " ticker or source selected above.",
            unit="short",
        ),
    ]


def _news_volume(topics: str, per: str) -> Panel:
    return timeseries(
        "News volume",
        "SELECT $__timeGroupAlias(window_start, $__interval),\n"
        "  SUM(count) AS novel, SUM(duplicates) AS duplicates, SUM(late) AS late\n"
        f"FROM window_stats\nWHERE {topics}\nGROUP BY 1\nORDER BY 1",
        (time_col(), num("novel"), num("duplicates"), num("late")),
        f"Items of $topic per interval ({per} windows grouped to the interval).",
        unit="short",
        min_interval=per,
        custom=STACKED_BARS,
    )


def _volume_per_source(sources: str, per: str) -> Panel:
    return timeseries(
        "Volume per source",
        "SELECT $__timeGroupAlias(window_start, $__interval),\n"
        "  scope_value AS metric, SUM(count) AS items\n"
        f"FROM window_stats\nWHERE {sources}\nGROUP BY 1, 2\nORDER BY 1, 2",
        (time_col(), text("metric"), num("items")),
        "Novel items per interval from each news source in $source.",
        unit="short",
        min_interval=per,
        custom=STACKED_BARS,
    )


def _series(window_s: int) -> list[Panel]:
    """Volume and tone over time: all of $topic, per topic, per source."""
    topics, sources = window_filter(window_s, "topic"), window_filter(window_s, "source")
    per = grafana_interval(window_s)
    return [
        _news_volume(topics, per),
        tone_lines(
            "Tone per topic",
            topics,
            "Mean tone of each topic's novel items.",
            min_interval=per,
            custom=THIN_LINES,
        ),
        _volume_per_source(sources, per),
        tone_lines(
            "Tone per source",
            sources,
            "Mean tone of each news source's novel items.",
            min_interval=per,
            custom=THIN_LINES,
        ),
    ]


def _heatmap_sql(ws: str, top_tickers: int) -> str:
    return (
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
        "GROUP BY 1, 2\nORDER BY 1, 2"
    )


def _tone_heatmap(ws: str, top_tickers: int) -> Panel:
    return Panel(
        "status-history",
        "Tone heatmap: top tickers by volume",
        Query(
            _heatmap_sql(ws, top_tickers), "time_series", (time_col(), text("metric"), num("tone"))
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
    )


def _movers_sql(ws: str) -> str:
    tickers = f"{ws} AND scope_kind = 'ticker' AND {any_of('scope_value', 'ticker')}"
    return (
        "WITH cur AS (\n"
        "  SELECT scope_value AS ticker, SUM(count) AS items,\n"
        f"    {tone()}\n  FROM window_stats\n"
        f"  WHERE {tickers}\n"
        "    AND $__timeFilter(window_start)\n"
        "  GROUP BY scope_value\n"
        "), prev AS (\n"
        f"  SELECT scope_value AS ticker, {tone()}\n  FROM window_stats\n"
        f"  WHERE {tickers}\n"
        "    AND window_start >= $__timeFrom()::timestamptz"
        " - ($__timeTo()::timestamptz - $__timeFrom()::timestamptz)\n"
        "    AND window_start < $__timeFrom()::timestamptz\n"
        "  GROUP BY scope_value\n"
        ")\n"
        "SELECT cur.ticker, cur.items, cur.tone, prev.tone AS previous_tone,\n"
        "  cur.tone - COALESCE(prev.tone, 0) AS change\n"
        "FROM cur LEFT JOIN prev ON prev.ticker = cur.ticker\n"
        "WHERE cur.items >= 3\n"
        "ORDER BY abs(cur.tone - COALESCE(prev.tone, 0)) DESC, cur.ticker\nLIMIT 15"
    )


def _top_movers(ws: str) -> Panel:
    return table(
        "Top movers vs the previous period",
        _movers_sql(ws),
        (text("ticker"), num("items"), num("tone"), num("previous_tone"), num("change")),
        "Tickers of $ticker whose mean tone moved most against the same length of time"
        " just before the range (at least 3 items).",
        height=10,
        decimals=3,
        overrides=(
            by_name("ticker", links=[ticker_link("Drill down", "${__value.raw:percentencode}")]),
            by_name(
                "change",
                color=TONE_COLORS,
                min=-1,
                max=1,
                custom_cellOptions={"type": "color-background"},
            ),
            by_name("items", decimals=0),
        ),
    )


def _headlines() -> Panel:
    return table(
        "Headlines",
        "SELECT published_at AS time, headline, sentiment, score, topic, source,\n"
        f"  array_to_string(tickers, ' ') AS tickers, novel, {web_url('url')}\n"
        "FROM items\n"
        f"WHERE $__timeFilter(published_at) AND {any_of('topic', 'topic')}\n"
        f"  AND {any_of('source', 'source')}\n"
        "ORDER BY published_at DESC, id\nLIMIT 200",
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
        "The newest headlines of the topics in $topic from the sources in $source.",
        width=24,
        height=10,
        decimals=3,
        overrides=(SCORE_CELL, URL_LINK),
    )


def _tickers_and_news(window_s: int, top_tickers: int) -> list[Panel]:
    """The busiest tickers, the biggest movers, the alerts and the newest headlines."""
    ws = f"window_size_s = {window_s}"
    return [
        _tone_heatmap(ws, top_tickers),
        _top_movers(ws),
        alerts_table(
            "Alerts",
            alert_scope_filter(),
            "Alerts in the time range, newest first: market-wide, and about the topics,"
            " tickers and sources selected above. Click a scope to open it.",
        ),
        _headlines(),
    ]


def overview(window_s: int = 300, top_tickers: int = 20) -> Dashboard:
    """News volume and tone for everything, per topic, source and ticker, plus the alerts."""
    items = [
        *_stats(window_filter(window_s, "topic")),
        *_series(window_s),
        *_tickers_and_news(window_s, top_tickers),
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
