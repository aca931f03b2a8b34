"""Building blocks shared by finsentry's dashboards: panel options, units, thresholds, links and
SQL fragments that put template variables into queries safely.

Every template variable reaches SQL through :func:`any_of`: ``= ANY(ARRAY[${name:sqlstring}]::text[])``.
Grafana's ``sqlstring`` format quotes each selected value and doubles its single quotes, so a
value cannot end the literal; the array form keeps an empty selection valid SQL (it matches
nothing) where ``IN ()`` would be a syntax error.
"""

from __future__ import annotations

from typing import Any

from finsentry.grafana.model import Annotation, Panel, Query, QueryVariable, num, text, time_col

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
