"""simulate -> ingest -> alerts with the real default model on the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.app.backtest import inconsistent_alerts, match_incidents
from finsentry.cli import main
from finsentry.schema import ScopeKind
from finsentry.store import open_store

pytestmark = pytest.mark.slow

HOURS = 36


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def incident_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    work = tmp_path_factory.mktemp("e2e")
    stream = work / "news.jsonl"
    run_cli("simulate", "--out", str(stream), "--hours", str(HOURS), "--seed", "11", "--incidents", "3")
    truth_path = Path(f"{stream}.truth.json")
    truth = json.loads(truth_path.read_text())
    db = work / "e2e.db"
    run_cli("ingest", str(stream), "--db", str(db), "--quiet")
    return db, truth


def test_every_injected_incident_raises_an_alert_on_its_ticker(
    incident_run: tuple[Path, dict[str, object]],
) -> None:
    db, truth = incident_run
    store = open_store(str(db))
    alerts = store.alerts()
    store.close()
    assert len(truth["incidents"]) == 3  # type: ignore[arg-type]
    report = match_incidents(alerts, truth, window_s=300, grace_windows=2)
    missed = [m for m in report.incidents if not m.detected]
    assert not missed, f"missed incidents: {missed}; alerts: {[a.to_json() for a in alerts]}"
    for match in report.incidents:
        assert match.delay_s is not None and match.delay_s <= 3 * 300 + (match.end - match.start).total_seconds()
    assert report.false_alerts <= 2, report.to_json()


def test_alerts_json_is_the_documented_shape(incident_run: tuple[Path, dict[str, object]]) -> None:
    db, _ = incident_run
    out = run_cli("alerts", "--db", str(db), "--json")
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines, "no alerts printed"
    keys = {"id", "rule", "scope_kind", "scope_value", "metric", "window_start", "window_end",
            "fired_at", "severity", "observed", "expected", "evidence"}
    for alert in lines:
        assert set(alert) == keys
        assert alert["window_start"].endswith("+00:00")
        assert alert["evidence"], "an alert must carry the headlines that drove it"
        assert all(ev["headline"] for ev in alert["evidence"])


def test_reingest_of_the_same_file_changes_nothing(
    incident_run: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    db, _ = incident_run
    stream = db.parent / "news.jsonl"
    store = open_store(str(db))
    before = (store.counts(), [a.id for a in store.alerts()])
    store.close()
    run_cli("ingest", str(stream), "--db", str(db), "--quiet")
    store = open_store(str(db))
    after = (store.counts(), [a.id for a in store.alerts()])
    store.close()
    assert before == after


def test_a_quiet_stream_raises_no_alert(tmp_path: Path) -> None:
    stream = tmp_path / "quiet.jsonl"
    run_cli("simulate", "--out", str(stream), "--hours", str(HOURS), "--seed", "12", "--incidents", "0")
    db = tmp_path / "quiet.db"
    run_cli("ingest", str(stream), "--db", str(db), "--quiet")
    store = open_store(str(db))
    alerts = store.alerts()
    counts = store.counts()
    store.close()
    assert counts["items"] > 1000
    ticker_alerts = [a for a in alerts if a.scope_kind == ScopeKind.TICKER]
    assert ticker_alerts == [], [a.to_json() for a in ticker_alerts]
    assert alerts == [], [a.to_json() for a in alerts]


def test_demo_runs_and_finds_the_incidents(tmp_path: Path) -> None:
    out = run_cli("demo", "--seed", "5", "--hours", str(HOURS), "--dir", str(tmp_path / "demo"))
    assert "dead-lettered" in out
    assert "Tone per topic" in out
    assert "MISSED" not in out
    assert out.count("DETECTED") == 3
    store = open_store(str(tmp_path / "demo" / "demo.db"))
    try:  # every alert says what the store holds for its scope and window
        alerts = store.alerts()
        assert alerts and inconsistent_alerts(store, alerts) == []
    finally:
        store.close()
