"""Building blocks shared by finsentry's dashboards: panel options, units, thresholds, links and
SQL fragments that put template variables into queries safely.

Every template variable reaches SQL through :func:`any_of`: ``= ANY(ARRAY[${name:sqlstring}]::text[])``.
Grafana's ``sqlstring`` format quotes each selected value and doubles its single quotes, so a
value cannot end the literal; the array form keeps an empty selection valid SQL (it matches
nothing) where ``IN ()`` would be a syntax error.
"""

from __future__ import annotations

from typing import Any

from finsentry.grafana.model import (
    Annotation,
    Column,
    Panel,
    Query,
    QueryVariable,
    num,
    text,
    time_col,
)

OVERVIEW_UID = "finsentry-overview"
TICKER_UID = "finsentry-ticker"
HEALTH_UID = "finsentry-health"

TONE_COLORS = {"mode": "continuous-RdYlGr"}
TONE_RANGE: dict[str, Any] = {"unit": "none", "min": -1.0, "max": 1.0, "decimals": 2}
SHARE_RANGE: dict[str, Any] = {"unit": "percentunit", "min": 0.0, "max": 1.0, "decimals": 1}
RECORDS_PER_S = "suffix: rec/s"  # Grafana's custom-unit syntax; reqps would say "req/s"
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
THRESHOLD_LINES: dict[str, Any] = {"thresholdsStyle": {"mode": "line+area"}}
STACKED_BARS: dict[str, Any] = {
    "drawStyle": "bars",
    "fillOpacity": 60,
    "stacking": {"mode": "normal"},
}
DENSE_BARS: dict[str, Any] = {**STACKED_BARS, "fillOpacity": 70}
SPAN_NULLS: dict[str, Any] = {"spanNulls": True}
THIN_LINES: dict[str, Any] = {"lineWidth": 1, **SPAN_NULLS}


def grafana_interval(seconds: int) -> str:
    """A Grafana interval string for a number of seconds: 300 -> '5m', 3600 -> '1h'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def any_of(column: str, variable: str) -> str:
    """``column`` is one of the values selected in ``$variable`` (escaped by Grafana)."""
    return f"{column} = ANY(ARRAY[${{{variable}:sqlstring}}]::text[])"


def thresholds(warn: float, bad: float) -> dict[str, Any]:
    """Green below ``warn``, orange from it, red from ``bad``."""
    return {
        "mode": "absolute",
        "steps": [
            {"color": "green", "value": None},
            {"color": "orange", "value": warn},
            {"color": "red", "value": bad},
        ],
    }


def tone(alias: str = "tone", prefix: str = "") -> str:
    return f"SUM({prefix}score_sum) / NULLIF(SUM({prefix}count), 0) AS {alias}"


def stat(title: str, sql: str, column: str, description: str, **kw: Any) -> Panel:
    return Panel(
        "stat",
        title,
        Query(sql, "table", (num(column),)),
        description=description,
        width=kw.pop("width", 6),
        height=4,
        options=STAT_OPTIONS,
        **kw,
    )


def timeseries(
    title: str, sql: str, columns: tuple[Column, ...], description: str, **kw: Any
) -> Panel:
    """A time series panel: one SQL query in Grafana's time series format."""
    return Panel(
        "timeseries",
        title,
        Query(sql, "time_series", columns),
        description=description,
        options=TIMESERIES_OPTIONS,
        **kw,
    )


def table(title: str, sql: str, columns: tuple[Column, ...], description: str, **kw: Any) -> Panel:
    """A table panel: one SQL query in table format."""
    return Panel(
        "table",
        title,
        Query(sql, "table", columns),
        description=description,
        options=TABLE_OPTIONS,
        **kw,
    )


def scope_variable(name: str, label: str, kind: str, window_s: int) -> QueryVariable:
    """A multi-select variable of a scope's values with news in the range, busiest first."""
    return QueryVariable(
        name,
        label,
        Query(
            "SELECT scope_value\nFROM window_stats\n"
            f"WHERE window_size_s = {window_s} AND scope_kind = '{kind}'"
            " AND $__timeFilter(window_start)\n"
            "GROUP BY scope_value\nORDER BY SUM(count) DESC, scope_value",
            "table",
            (text("scope_value"),),
        ),
        description=f"{label}s with news in the time range, busiest first.",
    )


def ticker_link(title: str, value: str) -> dict[str, Any]:
    """A data link to the ticker dashboard for the ticker in ``value`` (a link variable)."""
    return {"title": title, "url": f"/d/{TICKER_UID}?var-ticker={value}&${{__url_time_range}}"}


def by_name(column: str, **properties: Any) -> dict[str, Any]:
    """A field override for one column; ``custom_x=...`` sets the property ``custom.x``."""
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [
            {"id": key.replace("custom_", "custom.", 1), "value": value}
            for key, value in properties.items()
        ],
    }


def dash_link(uid: str, title: str) -> dict[str, Any]:
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


def alerts_annotation(scope_filter: str = "", fired: bool = False) -> Annotation:
    """finsentry's alerts as annotations (every time series panel of the dashboard shows them):
    over the window they are about, or (``fired``, for wall-clock dashboards) when they fired."""
    at = "fired_at" if fired else "window_start"
    span = (
        "fired_at AS time, fired_at AS timeend"
        if fired
        else ("window_start AS time, window_end AS timeend")
    )
    sql = (
        f"SELECT {span},\n"
        "  severity || ' ' || rule || ' on ' || scope_kind || ' ' || scope_value\n"
        "    || ': observed ' || round(observed::numeric, 3)\n"
        "    || ', expected ' || round(expected::numeric, 3) AS text,\n"
        "  'finsentry,' || rule || ',' || severity AS tags\n"
        "FROM alerts\n"
        f"WHERE $__timeFilter({at}){scope_filter}\n"
        f"ORDER BY {at}"
    )
    return Annotation(
        "finsentry alerts",
        Query(sql, "table", (time_col(), time_col("timeend"), text("text"), text("tags"))),
    )


def alert_scope_filter(prefix: str = "") -> str:
    """Alerts about everything, or about a topic, ticker or source selected in the variables."""
    p = prefix
    return (
        f"({p}scope_kind = 'all'"
        f" OR ({p}scope_kind = 'topic' AND {any_of(p + 'scope_value', 'topic')})"
        f" OR ({p}scope_kind = 'ticker' AND {any_of(p + 'scope_value', 'ticker')})"
        f" OR ({p}scope_kind = 'source' AND {any_of(p + 'scope_value', 'source')}))"
    )


# The alerts table links each scope to where it is shown: a ticker to the ticker dashboard, a
# topic or source to the overview filtered to it; 'all' to the unfiltered overview.
ALERT_LINK_COLUMNS = (
    "  CASE scope_kind WHEN 'ticker' THEN '" + TICKER_UID + "' ELSE '" + OVERVIEW_UID + "' END"
    " AS dashboard,\n"
    "  CASE WHEN scope_kind = 'all' THEN '' ELSE 'var-' || scope_kind END AS scope_param"
)
ALERT_LINK = {
    "title": "Open ${__data.fields.scope_kind} ${__value.raw}",
    "url": "/d/${__data.fields.dashboard}?${__data.fields.scope_param}=${__value.raw:percentencode}"
    "&${__url_time_range}",
}

# The headline tables: scores coloured by tone, URLs opened by a click.
SCORE_CELL = by_name(
    "score", color=TONE_COLORS, min=-1, max=1, custom_cellOptions={"type": "color-text"}
)
URL_LINK = by_name("url", links=[{"title": "Open", "url": "${__value.raw}"}])


def web_url(column: str) -> str:
    """``column`` where it is an http(s) link, else NULL: rows stored before validation dropped
    other schemes (``javascript:``, ``data:``) must not become clickable "Open" links."""
    return f"CASE WHEN {column} ~* '^https?://' THEN {column} END AS url"
ALERT_COLUMNS = (
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
)


def alerts_table(title: str, where: str, description: str, width: int = 12) -> Panel:
    """finsentry's alerts in the range (``where`` selects them), each scope linked to its view."""
    return table(
        title,
        "SELECT window_start AS time, severity, rule, scope_kind, scope_value, metric,\n"
        "  observed, expected, status, id,\n"
        f"{ALERT_LINK_COLUMNS}\n"
        f"FROM alerts\nWHERE $__timeFilter(window_start) AND {where}\n"
        "ORDER BY window_start DESC, id\nLIMIT 500",
        ALERT_COLUMNS,
        description,
        width=width,
        height=10,
        decimals=3,
        overrides=(
            by_name("scope_value", links=[ALERT_LINK]),
            by_name("dashboard", custom_hidden=True),
            by_name("scope_param", custom_hidden=True),
        ),
    )
