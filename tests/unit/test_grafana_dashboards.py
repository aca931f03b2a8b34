"""Dashboards as code: the checked-in JSON is current, well formed, and every query expands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.cli.grafana import grafana
from finsentry.grafana.alerting import health_rules, provisioning_yaml
from finsentry.grafana.dashboards import all_dashboards, file_name, health, render
from finsentry.grafana.macros import (
    MacroError,
    auto_interval,
    expand_sql,
    format_interval,
    format_variable,
    parse_interval,
    variable_uses,
)
from finsentry.grafana.model import DATASOURCE, DATASOURCE_UID, IMPORT_INPUT

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=6)


def test_checked_in_dashboards_are_current() -> None:
    for dashboard in all_dashboards():
        for for_import in (False, True):
            path = ROOT / "dashboards" / file_name(dashboard, for_import)
            assert path.exists(), f"{path} missing: run finsentry grafana generate"
            assert path.read_text(encoding="utf-8") == render(dashboard, for_import), (
                f"{path} is stale: run finsentry grafana generate"
            )
    alerting = ROOT / "infra" / "grafana" / "provisioning" / "alerting" / "finsentry.yaml"
    assert alerting.read_text(encoding="utf-8") == provisioning_yaml(
        panel_ids=health().panel_ids()
    ), f"{alerting} is stale: run finsentry grafana generate"


def test_generate_check_flags_stale_files(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["generate", "--out", str(tmp_path), "--alerting-file", str(tmp_path / "a.yaml")]
    result = runner.invoke(grafana, args)
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*")) == [
        "a.yaml",
        "health.json",
        "import/health.json",
        "import/overview.json",
        "import/ticker.json",
        "overview.json",
        "ticker.json",
    ]
    assert runner.invoke(grafana, [*args, "--check"]).exit_code == 0
    (tmp_path / "import" / "ticker.json").write_text("{}", encoding="utf-8")
    stale = runner.invoke(grafana, [*args, "--check"])
    assert stale.exit_code == 1 and "import/ticker.json" in stale.output
    runner.invoke(grafana, args)
    (tmp_path / "a.yaml").write_text("groups: []\n", encoding="utf-8")
    stale = runner.invoke(grafana, [*args, "--check"])
    assert stale.exit_code == 1 and "a.yaml" in stale.output


@pytest.mark.parametrize("dashboard", all_dashboards(), ids=lambda d: d.uid)
def test_datasource_variable_for_provisioning_and_import(dashboard) -> None:
    """File/API provisioning: the variable defaults to the fixed uid; UI import: __inputs asks."""
    plain = json.loads(render(dashboard))
    imported = json.loads(render(dashboard, for_import=True))
    assert "__inputs" not in plain
    ds_var = plain["templating"]["list"][0]
    assert ds_var["type"] == "datasource" and ds_var["name"] == "datasource"
    assert ds_var["query"] == "grafana-postgresql-datasource"
    assert ds_var["current"]["value"] == DATASOURCE_UID
    (wanted,) = imported["__inputs"]
    assert wanted["name"] == IMPORT_INPUT and wanted["type"] == "datasource"
    assert wanted["pluginId"] == "grafana-postgresql-datasource"
    placeholder = "${" + IMPORT_INPUT + "}"
    assert imported["templating"]["list"][0]["current"]["value"] == placeholder
    # the two flavours differ only there; Grafana's import replaces the placeholder
    del imported["__inputs"], imported["__requires"]
    imported["templating"]["list"][0]["current"]["value"] = DATASOURCE_UID
    assert imported == plain
    assert render(dashboard, for_import=True).count(placeholder) == 1
    for variable in plain["templating"]["list"][1:]:
        assert variable["multi"] and variable["includeAll"] and variable["sort"] == 0
        assert "ORDER BY SUM(" in variable["query"], "variables list the busiest first"
        assert variable["current"]["value"] == ["$__all"]


def _all_sql() -> list[tuple[str, str]]:
    named = [(f"{d.uid} {name}", q.sql) for d in all_dashboards() for name, q in d.queries()]
    return named + [(f"rule {r.uid}", r.sql) for r in health_rules()]


def test_every_variable_reaches_sql_escaped() -> None:
    """No template variable is pasted raw: each goes through ${name:sqlstring}."""
    seen = set()
    for name, sql in _all_sql():
        for variable, fmt in variable_uses(sql):
            if variable.startswith("__"):
                assert variable in {"__interval", "__interval_ms"}, (name, variable)
                continue
            seen.add(variable)
            assert fmt == "sqlstring", f"{name}: ${variable} without :sqlstring"
        assert "'$" not in sql and '"$' not in sql, f"{name}: a variable inside quotes"
    assert seen == {"ticker", "topic", "source"}


def test_links_go_where_they_say() -> None:
    overview = json.loads(render(all_dashboards()[0]))
    panels = {p["title"]: p for p in overview["panels"]}
    heatmap = panels["Tone heatmap: top tickers by volume"]
    (link,) = heatmap["fieldConfig"]["defaults"]["links"]
    assert "var-ticker=${__field.displayName:percentencode}" in link["url"]
    assert "__value" not in link["url"], "the cell's value is the tone, not the ticker"
    overrides = {o["matcher"]["options"]: o for o in panels["Alerts"]["fieldConfig"]["overrides"]}
    (scope_link,) = overrides["scope_value"]["properties"][0]["value"]
    assert scope_link["url"].startswith("/d/${__data.fields.dashboard}?")
    assert "finsentry-ticker" not in scope_link["url"], "topic alerts must not open tickers"
    sql = panels["Alerts"]["targets"][0]["rawSql"]
    assert "WHEN 'ticker' THEN 'finsentry-ticker' ELSE 'finsentry-overview'" in sql


def test_units_and_thresholds() -> None:
    by_uid = {d.uid: json.loads(render(d)) for d in all_dashboards()}
    assert "reqps" not in json.dumps(by_uid)
    health_panels = {p["title"]: p for p in by_uid["finsentry-health"]["panels"]}
    for title in ("Dead letters", "Mean end-to-end lag", "Late share", "End-to-end lag",
                  "Dead-letter and late share", "Scoring time per item"):  # fmt: skip
        steps = health_panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["color"] for s in steps] == ["green", "orange", "red"], title
        assert steps[1]["value"] < steps[2]["value"]
    lag = health_panels["End-to-end lag"]["fieldConfig"]["defaults"]
    lag_rule = next(r for r in health_rules() if r.uid == "finsentry-consumer-lag")
    assert lag["thresholds"]["steps"][2]["value"] == lag_rule.threshold
    assert lag["custom"]["thresholdsStyle"]["mode"] == "line+area"
    assert health_panels["Throughput"]["fieldConfig"]["defaults"]["unit"] == "suffix: rec/s"
    ticker = {p["title"]: p for p in by_uid["finsentry-ticker"]["panels"]}
    tone = ticker["Tone: $ticker"]
    assert "negative_share" not in tone["targets"][0]["rawSql"], "a share on the tone axis"
    assert tone["fieldConfig"]["defaults"]["min"] == -1
    share = ticker["Negative share: $ticker"]["fieldConfig"]["defaults"]
    assert (share["unit"], share["min"], share["max"]) == ("percentunit", 0, 1)


def test_variable_formats_like_grafana() -> None:
    """The cases of Grafana's own formatRegistry tests, and the data source's default."""
    assert format_variable("v", "test'value", "sqlstring") == "'test''value'"
    assert format_variable("v", ["test", "test'value2"], "sqlstring") == "'test','test''value2'"
    assert format_variable("v", "test", "singlequote") == "'test'"
    assert format_variable("v", ["test", "test'2"], "singlequote") == "'test','test\\'2'"
    assert format_variable("v", ["test", 'test"2'], "doublequote") == '"test","test\\"2"'
    assert format_variable("v", ["a", "b"], "csv") == "a,b"
    assert format_variable("v", ["a", "b"], "pipe") == "a|b"
    assert format_variable("v", ["a", "b"], "glob") == "{a,b}"
    assert format_variable("v", ["a"], "glob") == "a"
    assert format_variable("v", ["test", "12"], "json") == '["test","12"]'
    assert format_variable("v", ["a.b", "c"], "regex") == "(a\\.b|c)"
    assert format_variable("v", ["foo()bar BAZ", "test2"], "percentencode") == (
        "%7Bfoo%28%29bar%20BAZ%2Ctest2%7D"
    )
    assert format_variable("v", ["a b", "c"], "queryparam") == "var-v=a%20b&var-v=c"
    assert format_variable("v", ["a", "b"], "raw") == "a,b"
    # the PostgreSQL data source without a format: multi-value quoted, single value unquoted
    assert format_variable("v", ["a", "o'b"]) == "'a','o''b'"
    assert format_variable("v", "o'b") == "o''b"
    with pytest.raises(MacroError, match="unknown variable format"):
        format_variable("v", "a", "shout")
    sql = "WHERE s = ANY(ARRAY[${t:sqlstring}]::text[]) AND r = '${t:raw}' AND [[t:csv]] = $t"
    hostile = "MMM' OR ''='"
    out = expand_sql(sql, START, END, variables={"t": [hostile, "BRK.B"]})
    assert "ARRAY['MMM'' OR ''''=''','BRK.B']" in out
    assert "r = 'MMM' OR ''=',BRK.B'" in out  # raw is not escaped: never use it in SQL
    assert "AND MMM' OR ''=',BRK.B = 'MMM'' OR ''''=''','BRK.B'" in out


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
        assert panel["datasource"] == DATASOURCE and DATASOURCE["uid"] == "${datasource}"
        (target,) = panel["targets"]
        assert target["datasource"] == DATASOURCE and target["rawQuery"]
        assert target["format"] in {"time_series", "table"}
        if target["format"] == "time_series":
            assert "$__timeGroupAlias(" in target["rawSql"]
        known = {"unit", "decimals", "min", "max", "color", "links", "displayName", "thresholds"}
        for override in panel["fieldConfig"]["overrides"]:
            assert override["matcher"]["id"] == "byName"
            for prop in override["properties"]:  # Grafana's property ids: known or custom.<x>
                assert prop["id"] in known or prop["id"].startswith("custom."), prop
    notes = model["annotations"]["list"][1:]
    assert [n["name"] for n in notes] == ["finsentry alerts"], "alerts on every time series"
    for note in notes:
        assert note["datasource"] == DATASOURCE
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
    assert [v.name for v in ticker.variables] == ["ticker", "topic", "source"]
    assert {
        "Model versions",
        "Scoring throughput",
        "Score distribution: this week vs last",
    } <= titles["finsentry-health"]


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
        values = {"ticker": ["ACME"], "topic": ["earnings"], "source": ["wire"]}
        out = expand_sql(query.sql, START, END, variables=values)
        assert "$" not in out, name
        assert query.columns, name
