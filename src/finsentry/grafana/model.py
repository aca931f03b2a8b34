"""A small, typed builder for Grafana's dashboard JSON model (schemaVersion 39).

Each panel carries its query as a :class:`Query`: the SQL (with Grafana's PostgreSQL macros), the
result format Grafana expects, and the columns the panel reads. The tests run every query against a
real PostgreSQL and check those columns, so the JSON and its checks come from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 39
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "finsentry-postgres"
DATASOURCE_NAME = "finsentry PostgreSQL"
# Panels, variables and annotations read the data source chosen by the ``$datasource`` variable;
# the variable's default is the fixed uid that file and API provisioning create.
DATASOURCE_VARIABLE = "datasource"
DATASOURCE: dict[str, str] = {"type": DATASOURCE_TYPE, "uid": f"${{{DATASOURCE_VARIABLE}}}"}
# The input that Grafana's dashboard import asks for (``__inputs``), in the import flavour.
IMPORT_INPUT = "DS_FINSENTRY_POSTGRESQL"
GRID_WIDTH = 24
ALL_VALUE = "$__all"

ColumnKind = Literal["time", "number", "text", "bool"]
QueryFormat = Literal["time_series", "table"]


@dataclass(frozen=True, slots=True)
class Column:
    """A result column a panel reads: its name and what kind of values it must hold."""

    name: str
    kind: ColumnKind


def time_col(name: str = "time") -> Column:
    return Column(name, "time")


def num(name: str) -> Column:
    return Column(name, "number")


def text(name: str) -> Column:
    return Column(name, "text")


def flag(name: str) -> Column:
    return Column(name, "bool")


@dataclass(frozen=True, slots=True)
class Query:
    """One SQL query of a panel, variable or annotation, and the columns it returns in order."""

    sql: str
    format: QueryFormat
    columns: tuple[Column, ...]

    def target(self, ref_id: str = "A") -> dict[str, Any]:
        return {
            "refId": ref_id,
            "datasource": dict(DATASOURCE),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.sql,
        }


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel: its type, title, query and how it looks. Layout is assigned by the dashboard."""

    type: str
    title: str
    query: Query
    description: str = ""
    width: int = 12
    height: int = 8
    unit: str | None = None
    min_interval: str | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    color: dict[str, Any] | None = None
    thresholds: dict[str, Any] | None = None
    overrides: tuple[dict[str, Any], ...] = ()
    links: tuple[dict[str, Any], ...] = ()

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.min is not None:
            defaults["min"] = self.min
        if self.max is not None:
            defaults["max"] = self.max
        if self.color:
            defaults["color"] = self.color
        if self.thresholds:
            defaults["thresholds"] = self.thresholds
        if self.custom:
            defaults["custom"] = self.custom
        if self.links:
            defaults["links"] = list(self.links)
        panel: dict[str, Any] = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "datasource": dict(DATASOURCE),
            "targets": [self.query.target()],
            "fieldConfig": {"defaults": defaults, "overrides": list(self.overrides)},
            "options": self.options,
        }
        if self.min_interval:
            panel["interval"] = self.min_interval
        return panel


@dataclass(frozen=True, slots=True)
class Row:
    """A row header that groups the panels after it."""

    title: str


@dataclass(frozen=True, slots=True)
class QueryVariable:
    """A dashboard template variable filled by a SQL query (refreshed when the time range changes)."""

    name: str
    label: str
    query: Query
    description: str = ""
    multi: bool = True
    include_all: bool = True

    def to_json(self) -> dict[str, Any]:
        current: dict[str, Any] = {}
        if self.include_all:  # start on "All": every option, in the query's order
            current = {"selected": True, "text": ["All"], "value": [ALL_VALUE]}
        return {
            "type": "query",
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "datasource": dict(DATASOURCE),
            "definition": self.query.sql,
            "query": self.query.sql,
            "refresh": 2,
            "sort": 0,  # keep the query's order (busiest first)
            "multi": self.multi,
            "includeAll": self.include_all,
            "allValue": None,  # "All" expands to every option, each escaped by the format
            "current": current,
            "options": [],
            "hide": 0,
        }


def datasource_variable(current_uid: str = DATASOURCE_UID) -> dict[str, Any]:
    """The ``$datasource`` variable: any PostgreSQL data source, by default finsentry's."""
    return {
        "type": "datasource",
        "name": DATASOURCE_VARIABLE,
        "label": "Data source",
        "description": "The finsentry PostgreSQL store to read.",
        "query": DATASOURCE_TYPE,
        "regex": "",
        "refresh": 1,
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": DATASOURCE_NAME, "value": current_uid},
        "options": [],
        "hide": 0,
    }


@dataclass(frozen=True, slots=True)
class Annotation:
    """A SQL annotation source: rows with time, timeend, text and tags become annotations."""

    name: str
    query: Query
    color: str = "red"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enable": True,
            "hide": False,
            "iconColor": self.color,
            "datasource": dict(DATASOURCE),
            "target": self.query.target("Anno"),
        }


BUILTIN_ANNOTATION: dict[str, Any] = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A dashboard: panels laid out left to right, top to bottom, in the order given."""

    uid: str
    title: str
    description: str
    items: tuple[Panel | Row, ...]
    variables: tuple[QueryVariable, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    time_from: str = "now-24h"
    refresh: str = "1m"
    links: tuple[dict[str, Any], ...] = ()

    @property
    def panels(self) -> list[Panel]:
        return [item for item in self.items if isinstance(item, Panel)]

    def panel_ids(self) -> dict[str, int]:
        """Panel title -> the id it gets in the JSON (alert rules link to panels by id)."""
        return {
            item.title: panel_id
            for panel_id, item in enumerate(self.items, start=1)
            if isinstance(item, Panel)
        }

    def queries(self) -> list[tuple[str, Query]]:
        """Every SQL query of the dashboard, named: panels, variables and annotations."""
        named = [(f"panel {p.title!r}", p.query) for p in self.panels]
        named += [(f"variable ${v.name}", v.query) for v in self.variables]
        named += [(f"annotation {a.name!r}", a.query) for a in self.annotations]
        return named

    def layout(self) -> list[dict[str, Any]]:
        """The items as JSON panels: left to right, a new line when the next does not fit, each
        row header on a line of its own."""
        panels: list[dict[str, Any]] = []
        x = y = row_height = 0
        for panel_id, item in enumerate(self.items, start=1):
            if isinstance(item, Row):
                if x:
                    y, x, row_height = y + row_height, 0, 0
                panels.append(_row_json(item, panel_id, y))
                y += 1
                continue
            if x + item.width > GRID_WIDTH:
                y, x, row_height = y + row_height, 0, 0
            panels.append(item.to_json(panel_id, x, y))
            x += item.width
            row_height = max(row_height, item.height)
        return panels

    def to_json(self, for_import: bool = False) -> dict[str, Any]:
        """The dashboard model. ``for_import``: the flavour for Grafana's UI import, whose
        ``__inputs`` asks for the PostgreSQL data source and makes it the variable's default."""
        ds_default = f"${{{IMPORT_INPUT}}}" if for_import else DATASOURCE_UID
        model: dict[str, Any] = {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["finsentry"],
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "links": list(self.links),
            "annotations": {"list": [BUILTIN_ANNOTATION, *(a.to_json() for a in self.annotations)]},
            "templating": {
                "list": [datasource_variable(ds_default), *(v.to_json() for v in self.variables)]
            },
            "panels": self.layout(),
        }
        return {**_import_header(), **model} if for_import else model


def _row_json(row: Row, panel_id: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "row",
        "title": row.title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
        "panels": [],
    }


def _import_header() -> dict[str, Any]:
    """What Grafana's UI import reads first: the data source to ask for, what the dashboard needs."""
    return {
        "__inputs": [
            {
                "name": IMPORT_INPUT,
                "label": DATASOURCE_NAME,
                "description": "finsentry's PostgreSQL store (the read-only role)",
                "type": "datasource",
                "pluginId": DATASOURCE_TYPE,
                "pluginName": "PostgreSQL",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.2.0"},
            {"type": "datasource", "id": DATASOURCE_TYPE, "name": "PostgreSQL", "version": "1.0.0"},
        ],
    }
