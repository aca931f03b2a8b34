"""Grafana's PostgreSQL SQL macros and template variables, expanded for a concrete time range.

Grafana interpolates template variables (``$ticker``, ``${ticker}``, ``$__interval``,
``$__interval_ms``) in the browser, then its PostgreSQL data source expands the ``$__`` macros on the
server. :func:`expand_sql` does both the same way, so a panel's SQL can be run (and tested) against
PostgreSQL without Grafana:

====================================  =========================================================
``$__time(col)``                      ``col AS "time"``
``$__timeEpoch(col)``                 ``extract(epoch from col) AS "time"``
``$__timeFilter(col)``                ``col BETWEEN '2026-01-02T00:00:00Z' AND '...'``
``$__timeFrom()`` / ``$__timeTo()``   ``'2026-01-02T00:00:00Z'``
``$__timeGroup(col, 5m[, fill])``     ``floor(extract(epoch from col)/300)*300``
``$__timeGroupAlias(col, 5m)``        the same ``AS "time"``
``$__unixEpochFilter(col)``           ``col >= 1767312000 AND col <= 1767398400``
``$__unixEpochFrom()`` / ``To()``     ``1767312000``
``$__unixEpochGroup(col, 5m)``        ``floor((col)/300)*300`` (``...Alias`` adds ``AS "time"``)
====================================  =========================================================

Template variables are formatted the way Grafana formats them (its ``formatRegistry``):
``${ticker:sqlstring}`` gives ``'MMM','BRK.B'`` with single quotes doubled, which is the only
safe way to put a variable's value into SQL. A variable's value is a ``str`` (a single-valued
variable) or a sequence of strings (a multi-value variable, or one with "All": "All" stands for
every option). Without a format, the SQL data source's default applies: a multi-value variable is
quoted as ``sqlstring`` does, a single value is pasted with its quotes doubled but not quoted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

from finsentry.schema import as_utc

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_INTERVAL = re.compile(r"^\s*'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)'?\s*$")
_MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")
# Grafana's variable syntaxes: $name, [[name]] / [[name:format]], ${name} / ${name:format}
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}")
# Grafana's rounding of the automatic interval (kbn.roundInterval), in seconds.
_NICE_INTERVALS = (
    0.001,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    20,
    30,
    60,
    120,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    604800,
    2592000,
    31536000,
)


class MacroError(ValueError):
    """A macro or variable that Grafana would not expand (unknown name, bad argument)."""


def parse_interval(value: str) -> float:
    """Seconds in a Grafana interval string: '5m' -> 300, '1h' -> 3600, '250ms' -> 0.25."""
    match = _INTERVAL.match(value)
    if not match:
        raise MacroError(f"not a Grafana interval: {value!r} (expected e.g. 30s, 5m, 1h, 1d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_interval(seconds: float) -> str:
    """The Grafana spelling of an interval: 300 -> '5m', 0.5 -> '500ms'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    for unit in ("y", "w", "d", "h", "m"):
        size = int(_UNITS[unit])
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def auto_interval(
    start: datetime, end: datetime, max_data_points: int = 1000, min_interval: str | None = None
) -> float:
    """Grafana's ``$__interval`` in seconds: the range over the points, rounded, at least the min."""
    raw = (as_utc(end) - as_utc(start)).total_seconds() / max(max_data_points, 1)
    nice = next((n for n in _NICE_INTERVALS if n >= raw), _NICE_INTERVALS[-1])
    # kbn.roundInterval picks the nearest nice value below the midpoint; 'at least' keeps
    # the number of points within max_data_points, which is what matters here.
    if min_interval:
        nice = max(nice, parse_interval(min_interval))
    return nice


def _rfc3339(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _args(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",")] if raw.strip() else []


def _group_seconds(args: list[str], macro: str) -> int:
    if len(args) < 2:
        raise MacroError(f"$__{macro} needs (column, interval[, fill]), got ({', '.join(args)})")
    seconds = parse_interval(args[1])
    return max(int(seconds), 1)


def _expand_macro(name: str, args: list[str], start: datetime, end: datetime) -> str:
    t0, t1 = _rfc3339(start), _rfc3339(end)
    e0, e1 = int(as_utc(start).timestamp()), int(as_utc(end).timestamp())
    column = args[0] if args else ""
    if name in {"time", "timeEpoch", "timeFilter", "unixEpochFilter"} and len(args) != 1:
        raise MacroError(f"$__{name} takes one column, got ({', '.join(args)})")
    if name == "time":
        return f'{column} AS "time"'
    if name == "timeEpoch":
        return f'extract(epoch from {column}) AS "time"'
    if name == "timeFilter":
        return f"{column} BETWEEN '{t0}' AND '{t1}'"
    if name == "timeFrom":
        return f"'{t0}'"
    if name == "timeTo":
        return f"'{t1}'"
    if name in {"timeGroup", "timeGroupAlias"}:
        size = _group_seconds(args, name)
        expr = f"floor(extract(epoch from {column})/{size})*{size}"
        return expr + (' AS "time"' if name.endswith("Alias") else "")
    if name == "unixEpochFilter":
        return f"{column} >= {e0} AND {column} <= {e1}"
    if name == "unixEpochFrom":
        return str(e0)
    if name == "unixEpochTo":
        return str(e1)
    if name in {"unixEpochGroup", "unixEpochGroupAlias"}:
        size = _group_seconds(args, name)
        expr = f"floor(({column})/{size})*{size}"
        return expr + (' AS "time"' if name.endswith("Alias") else "")
    raise MacroError(f"unknown Grafana PostgreSQL macro $__{name}")


VariableValue = str | Sequence[str]
_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|[\]{}/]")


def _quote_each(value: VariableValue, quote_one: Callable[[str], str]) -> str:
    if isinstance(value, str):
        return quote_one(value)
    return ",".join(quote_one(v) for v in value)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _joined(value: VariableValue, sep: str) -> str:
    return value if isinstance(value, str) else sep.join(value)


def _regex(value: VariableValue) -> str:
    escaped = [_REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), v) for v in _as_list(value)]
    if isinstance(value, str) or len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def _as_list(value: VariableValue) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _percent(value: str) -> str:
    return quote(value, safe="-_.~")  # RFC 3986 unreserved, like encodeURIComponentStrict


# Grafana's variable formats (public/app/features/templating/formatRegistry.ts), by name.
FORMATS: dict[str, Callable[[str, VariableValue], str]] = {
    "raw": lambda _, v: _joined(v, ","),
    "csv": lambda _, v: _joined(v, ","),
    "pipe": lambda _, v: _joined(v, "|"),
    "text": lambda _, v: _joined(v, " + "),
    "glob": lambda _, v: _joined(v, ",") if len(_as_list(v)) <= 1 else "{" + ",".join(v) + "}",
    "json": lambda _, v: json.dumps(
        v if isinstance(v, str) else list(v), separators=(",", ":"), ensure_ascii=False
    ),
    "regex": lambda _, v: _regex(v),
    "distributed": lambda name, v: _joined(
        [x if i == 0 else f"{name}={x}" for i, x in enumerate(_as_list(v))], ","
    ),
    "singlequote": lambda _, v: _quote_each(v, lambda x: "'" + x.replace("'", "\\'") + "'"),
    "doublequote": lambda _, v: _quote_each(v, lambda x: '"' + x.replace('"', '\\"') + '"'),
    "sqlstring": lambda _, v: _quote_each(v, _sql_literal),
    "percentencode": lambda _, v: _percent(v if isinstance(v, str) else "{" + ",".join(v) + "}"),
    "queryparam": lambda name, v: "&".join(f"var-{name}={_percent(x)}" for x in _as_list(v)),
}


def format_variable(name: str, value: VariableValue, fmt: str | None = None) -> str:
    """A variable's value as Grafana interpolates it into a PostgreSQL query.

    With a format (``sqlstring``, ``csv``, ``raw`` ...) Grafana's formatter of that name; without,
    the SQL data source's default: each value of a multi-value variable quoted and joined with
    commas (as ``sqlstring``), a single value with its single quotes doubled but unquoted.
    """
    if fmt is None:
        if isinstance(value, str):
            return value.replace("'", "''")
        return FORMATS["sqlstring"](name, value)
    formatter = FORMATS.get(fmt)
    if formatter is None:
        raise MacroError(f"unknown variable format ${{{name}:{fmt}}}; known: {', '.join(FORMATS)}")
    return formatter(name, value)


def variable_uses(sql: str) -> list[tuple[str, str | None]]:
    """``(name, format)`` of every template variable in ``sql`` (``$__`` macros excluded)."""
    uses: list[tuple[str, str | None]] = []
    for match in _VARIABLE.finditer(sql):
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        if match.group(1) is not None and name.startswith("__") and _is_macro_call(sql, match):
            continue
        uses.append((name, fmt))
    return uses


def _is_macro_call(sql: str, match: re.Match[str]) -> bool:
    return sql[match.end() : match.end() + 1] == "("


def expand_sql(
    sql: str,
    start: datetime,
    end: datetime,
    *,
    variables: Mapping[str, VariableValue] | None = None,
    interval_s: float | None = None,
    min_interval: str | None = None,
    max_data_points: int = 1000,
) -> str:
    """The SQL Grafana would send to PostgreSQL for this time range and these variable values.

    ``variables`` maps a name to a string (single-valued variable) or a list of strings (multi-value
    variable; for "All" pass every option). ``interval_s`` fixes ``$__interval``; by default it is
    derived as Grafana does from the range, ``max_data_points`` and the panel's ``min_interval``.
    Unknown variables, formats or macros raise :class:`MacroError`, as a query that Grafana cannot
    expand would fail on the dashboard.
    """
    if as_utc(end) <= as_utc(start):
        raise MacroError(f"empty time range: {start} .. {end}")
    interval = interval_s or auto_interval(start, end, max_data_points, min_interval)
    values: dict[str, VariableValue] = {
        "__interval": format_interval(interval),
        "__interval_ms": str(round(interval * 1000)),
        "__range_s": str(int((as_utc(end) - as_utc(start)).total_seconds())),
        "__from": str(int(as_utc(start).timestamp() * 1000)),
        "__to": str(int(as_utc(end).timestamp() * 1000)),
        **(variables or {}),
    }

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        if match.group(1) is not None and name.startswith("__") and _is_macro_call(sql, match):
            return match.group(0)  # a macro: expanded below
        if name in values:
            if name.startswith("__") and fmt is None:
                return str(values[name])  # built-ins are numbers and intervals
            return format_variable(name, values[name], fmt)
        raise MacroError(f"template variable ${name} has no value")

    interpolated = _VARIABLE.sub(variable, sql)
    expanded = _MACRO.sub(
        lambda m: _expand_macro(m.group(1), _args(m.group(2)), start, end), interpolated
    )
    leftover = re.search(r"\$__\w+\(", expanded)
    if leftover:
        raise MacroError(f"unexpanded macro {leftover.group(0)} (missing parentheses?)")
    return expanded


def time_range(end: datetime, hours: float) -> tuple[datetime, datetime]:
    """``(end - hours, end)``: a convenience for 'the last N hours' ranges."""
    end = as_utc(end)
    return end - timedelta(hours=hours), end
