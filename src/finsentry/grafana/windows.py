"""Panels over ``window_stats`` that the overview and the ticker dashboards share: how many novel
items, their mean tone and negative share, and tone lines per scope value.

Every query reads one window size (``window_size_s``) and one scope kind, filtered to the values
selected in the template variable of the same name (``$topic``, ``$source``, ``$ticker``).
"""

from __future__ import annotations

from typing import Any

from finsentry.grafana.model import Panel, num, text, time_col
from finsentry.grafana.panels import (
    SHARE_RANGE,
    TONE_COLORS,
    TONE_RANGE,
    any_of,
    stat,
    timeseries,
    tone,
)

NEGATIVE_SHARE = "SUM(negative)::float8 / NULLIF(SUM(count), 0) AS negative_share"


def window_filter(window_s: int, kind: str) -> str:
    """Windows of ``kind`` (``topic``, ``source``, ``ticker``) selected in ``$<kind>``, in range."""
    return (
        f"window_size_s = {window_s} AND scope_kind = '{kind}'"
        f" AND {any_of('scope_value', kind)} AND $__timeFilter(window_start)"
    )


def items_stat(title: str, where: str, description: str) -> Panel:
    return stat(
        title,
        f"SELECT COALESCE(SUM(count), 0) AS items\nFROM window_stats\nWHERE {where}",
        "items",
        description,
        unit="short",
    )


def tone_stat(where: str, description: str) -> Panel:
    return stat(
        "Mean tone",
        f"SELECT {tone()}\nFROM window_stats\nWHERE {where}",
        "tone",
        description,
        color=TONE_COLORS,
        **TONE_RANGE,
    )


def negative_share_stat(where: str, description: str) -> Panel:
    return stat(
        "Negative share",
        f"SELECT {NEGATIVE_SHARE}\nFROM window_stats\nWHERE {where}",
        "negative_share",
        description,
        **SHARE_RANGE,
    )


def tone_lines(title: str, where: str, description: str, **kw: Any) -> Panel:
    """Mean tone per interval, one line per scope value."""
    return timeseries(
        title,
        "SELECT $__timeGroupAlias(window_start, $__interval),\n"
        f"  scope_value AS metric,\n  {tone()}\n"
        f"FROM window_stats\nWHERE {where}\nGROUP BY 1, 2\nORDER BY 1, 2",
        (time_col(), text("metric"), num("tone")),
        description,
        **kw,
        **TONE_RANGE,
    )
