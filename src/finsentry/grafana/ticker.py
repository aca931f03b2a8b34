"""The ticker dashboard: the tickers chosen in ``$ticker``, their tone and volume, their headlines
with the sentiment towards each ticker, and their alerts.

Each panel is built by one function below, in the order the dashboard shows them.
"""

from __future__ import annotations

from finsentry.grafana.model import Dashboard, Panel, flag, num, text, time_col
from finsentry.grafana.panels import (
    DENSE_BARS,
    HEALTH_UID,
    OVERVIEW_UID,
    SCORE_CELL,
    SHARE_RANGE,
    SPAN_NULLS,
    TICKER_UID,
    URL_LINK,
    alerts_annotation,
    alerts_table,
    any_of,
    by_name,
    dash_link,
    grafana_interval,
    scope_variable,
    stat,
    table,
    timeseries,
    web_url,
)
from finsentry.grafana.windows import (
    NEGATIVE_SHARE,
    items_stat,
    negative_share_stat,
    tone_lines,
    tone_stat,
    window_filter,
)

ALERT_SCOPE = f"scope_kind = 'ticker' AND {any_of('scope_value', 'ticker')}"


def _stats(scope: str) -> list[Panel]:
    """The top row: mentions, mean tone, negative share and alerts of the tickers in $ticker."""
    return [
        items_stat(
            "Mentions",
            scope,
            "Novel items about each ticker in $ticker, summed (an item about two of them"
            " counts twice).",
        ),
        tone_stat(scope, "Mean tone towards the tickers in $ticker over their novel items."),
        negative_share_stat(scope, "Share of the mentions labelled negative."),
        stat(
            "Alerts fired",
            "SELECT COUNT(*) AS alerts\nFROM alerts\n"
            f"WHERE {ALERT_SCOPE} AND $__timeFilter(window_start)",
            "alerts",
            "Alerts about the tickers in $ticker in the time range.",
            unit="short",
        ),
    ]


def _negative_share(scope: str, per: str) -> Panel:
    return timeseries(
        "Negative share: $ticker",
        "SELECT $__timeGroupAlias(window_start, $__interval),\n"
        f"  scope_value AS metric,\n  {NEGATIVE_SHARE}\n"
        f"FROM window_stats\nWHERE {scope}\nGROUP BY 1, 2\nORDER BY 1, 2",
        (time_col(), text("metric"), num("negative_share")),
        "Share of each ticker's novel items labelled negative, per interval.",
        min_interval=per,
        custom=SPAN_NULLS,
        **SHARE_RANGE,
    )


def _volume(scope: str, per: str) -> Panel:
    return timeseries(
        "Volume: $ticker",
        "SELECT $__timeGroupAlias(window_start, $__interval),\n"
        "  SUM(negative) AS negative, SUM(neutral) AS neutral,"
        " SUM(positive) AS positive,\n  SUM(duplicates) AS duplicates\n"
        f"FROM window_stats\nWHERE {scope}\nGROUP BY 1\nORDER BY 1",
        (time_col(), num("negative"), num("neutral"), num("positive"), num("duplicates")),
        "Mentions per interval by sentiment, and duplicates.",
        unit="short",
        width=24,
        min_interval=per,
        custom=DENSE_BARS,
        overrides=(
            by_name("negative", color={"mode": "fixed", "fixedColor": "red"}),
            by_name("neutral", color={"mode": "fixed", "fixedColor": "gray"}),
            by_name("positive", color={"mode": "fixed", "fixedColor": "green"}),
        ),
    )


def _series(scope: str, per: str) -> list[Panel]:
    """Tone, negative share and volume per interval."""
    return [
        tone_lines(
            "Tone: $ticker",
            scope,
            "Mean tone per interval, one line per ticker, in [-1, 1].",
            min_interval=per,
            custom=SPAN_NULLS,
        ),
        _negative_share(scope, per),
        _volume(scope, per),
    ]


def _headlines() -> Panel:
    return table(
        "Headlines: $ticker",
        "SELECT t.published_at AS time, t.ticker, i.headline, t.sentiment, t.score,\n"
        f"  i.score AS headline_score, i.topic, i.source, i.novel, {web_url('i.url')}\n"
        "FROM item_tickers t JOIN items i ON i.id = t.item_id\n"
        f"WHERE {any_of('t.ticker', 'ticker')} AND $__timeFilter(t.published_at)\n"
        f"  AND {any_of('i.topic', 'topic')} AND {any_of('i.source', 'source')}\n"
        "ORDER BY t.published_at DESC, i.id, t.ticker\nLIMIT 500",
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
        "Headlines about the tickers, newest first: sentiment and score towards the"
        " ticker, and the headline's overall score; filtered by $topic and $source.",
        width=24,
        height=12,
        decimals=3,
        overrides=(SCORE_CELL, URL_LINK),
    )


def ticker(window_s: int = 300) -> Dashboard:
    """The tickers chosen: their tone and volume, their headlines with scores, their alerts."""
    scope = window_filter(window_s, "ticker")
    items = [
        *_stats(scope),
        *_series(scope, grafana_interval(window_s)),
        _headlines(),
        alerts_table(
            "Alerts: $ticker", ALERT_SCOPE, "Alerts about the tickers in the time range.", width=24
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
        annotations=(alerts_annotation(" AND " + ALERT_SCOPE),),
        links=(dash_link(OVERVIEW_UID, "Overview"), dash_link(HEALTH_UID, "Pipeline health")),
    )
