"""Dashboards as code: the checked-in JSON is current, well formed, and every query expands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.cli.grafana import grafana
from finsentry.grafana.dashboards import all_dashboards, file_name, render
from finsentry.grafana.macros import (
    MacroError,
    auto_interval,
    expand_sql,
    format_interval,
    parse_interval,
)
from finsentry.grafana.model import DATASOURCE_UID

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=6)


def test_checked_in_dashboards_are_current() -> None:
    for dashboard in all_dashboards():
        path = ROOT / "dashboards" / file_name(dashboard)
        assert path.exists(), f"{path} missing: run finsentry grafana generate"
        assert path.read_text(encoding="utf-8") == render(dashboard), (
            f"{path} is stale: run finsentry grafana generate"
        )


def test_generate_check_flags_stale_files(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(grafana, ["generate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "health.json",
        "overview.json",
        "ticker.json",
    ]
    assert runner.invoke(grafana, ["generate", "--out", str(tmp_path), "--check"]).exit_code == 0
    (tmp_path / "ticker.json").write_text("{}", encoding="utf-8")
    stale = runner.invoke(grafana, ["generate", "--out", str(tmp_path), "--check"])
    assert stale.exit_code == 1 and "ticker.json" in stale.output


@pytest.mark.parametrize("dashboard", all_dashboards(), ids=lambda d: d.uid)
def test_dashboard_model_is_well_formed(dashboard) -> None:
    model = json.loads(render(dashboard))
    assert model["schemaVersion"] >= 39 and model["uid"] == dashboard.uid
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in model["panels"]]
    assert len(titles) == len(set(titles)), "panel titles must be unique"
    occupied: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & occupied, f"panel {panel['title']!r} overlaps another"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == DATASOURCE_UID
        (target,) = panel["targets"]
        assert target["datasource"]["uid"] == DATASOURCE_UID and target["rawQuery"]
        assert target["format"] in {"time_series", "table"}
        if target["format"] == "time_series":
            assert "$__timeGroupAlias(" in target["rawSql"]
        known = {"unit", "decimals", "min", "max", "color", "links", "displayName", "thresholds"}
        for override in panel["fieldConfig"]["overrides"]:
            assert override["matcher"]["id"] == "byName"
            for prop in override["properties"]:  # Grafana's property ids: known or custom.<x>
                assert prop["id"] in known or prop["id"].startswith("custom."), prop
    for note in model["annotations"]["list"][1:]:
        assert note["datasource"]["uid"] == DATASOURCE_UID
    sql_panels = {
        p["title"]: p["targets"][0]["rawSql"] for p in model["panels"] if p["type"] != "row"
    }
    for panel in dashboard.panels:
        assert sql_panels[panel.title] == panel.query.sql


def test_expected_panels_exist() -> None:
    titles = {d.uid: {p.title for p in d.panels} for d in all_dashboards()}
    assert {
        "News volume",
        "Tone per topic",
        "Top movers vs the previous period",
        "Alerts",
    } <= titles["finsentry-overview"]
    assert any("heatmap" in t.lower() for t in titles["finsentry-overview"])
    assert {"Tone: $ticker", "Volume: $ticker", "Headlines: $ticker", "Alerts: $ticker"} <= titles[
        "finsentry-ticker"
    ]
    assert {
        "Throughput",
        "End-to-end lag",
        "Dead letters by reason",
        "Late and duplicate items",
    } <= titles["finsentry-health"]
    ticker = next(d for d in all_dashboards() if d.uid == "finsentry-ticker")
    assert [v.name for v in ticker.variables] == ["ticker"]


def test_macros_expand_like_grafana() -> None:
    sql = (
        "SELECT $__timeGroupAlias(t, $__interval), $__timeGroup(t, '1h', 0) AS g, $__time(t),"
        " $__timeEpoch(t) FROM x WHERE $__timeFilter(t) AND t >= $__timeFrom() AND t < $__timeTo()"
        " AND $__unixEpochFilter(e) AND s = '$ticker' AND s2 = '${ticker}' AND n = $__interval_ms"
    )
    out = expand_sql(sql, START, END, variables={"ticker": "ACME"}, interval_s=300)
    assert 'floor(extract(epoch from t)/300)*300 AS "time"' in out
    assert "floor(extract(epoch from t)/3600)*3600 AS g" in out
    assert 't AS "time"' in out and 'extract(epoch from t) AS "time"' in out
    assert "t BETWEEN '2026-03-02T00:00:00Z' AND '2026-03-02T06:00:00Z'" in out
    assert "t >= '2026-03-02T00:00:00Z' AND t < '2026-03-02T06:00:00Z'" in out
    assert f"e >= {int(START.timestamp())} AND e <= {int(END.timestamp())}" in out
    assert "s = 'ACME' AND s2 = 'ACME'" in out and "n = 300000" in out
    assert "$" not in out


def test_macro_errors_are_loud() -> None:
    with pytest.raises(MacroError, match="ticker"):
        expand_sql("SELECT 1 WHERE s = '$ticker'", START, END)
    with pytest.raises(MacroError, match="unknown"):
        expand_sql("SELECT $__nope(x)", START, END)
    with pytest.raises(MacroError, match="interval"):
        expand_sql("SELECT $__timeGroup(t, 'soon')", START, END)
    with pytest.raises(MacroError, match="empty"):
        expand_sql("SELECT 1", END, START)


def test_intervals() -> None:
    assert parse_interval("5m") == 300 and parse_interval("'1h'") == 3600
    assert parse_interval("250ms") == 0.25
    assert format_interval(300) == "5m" and format_interval(90) == "90s"
    assert format_interval(86400) == "1d"
    six_hours = auto_interval(START, END, max_data_points=1000)
    assert six_hours >= (END - START).total_seconds() / 1000
    assert auto_interval(START, END, min_interval="5m") == 300


@pytest.mark.parametrize("dashboard", all_dashboards(), ids=lambda d: d.uid)
def test_every_query_expands(dashboard) -> None:
    for name, query in dashboard.queries():
        out = expand_sql(query.sql, START, END, variables={"ticker": "ACME"})
        assert "$" not in out, name
        assert query.columns, name
