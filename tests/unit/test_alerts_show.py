"""``finsentry alerts --status/--scope/--format`` and ``finsentry alerts show ID``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.alerts.channels import webhook_channel
from finsentry.alerts.engine import notification_payload
from finsentry.cli import main
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from finsentry.store.base import Notification

T0 = datetime(2026, 3, 3, 14, 30, tzinfo=UTC)
HOOK = "https://hooks.example.com/in/s3cret"


def _alerts() -> list[Alert]:
    ev = (
        Evidence("n1", "TSLA plunges after fraud probe", T0, -0.82, "negative", "https://x/1"),
        Evidence("n2", '\x1b[2J=HYPERLINK("evil") recall', T0, -0.4, "negative", "javascript:x"),
    )
    end = T0 + timedelta(minutes=5)
    return [
        Alert("negative_surge", ScopeKind.TICKER, "TSLA", "negative_share", T0, end, end,
              "critical", 0.7333, 0.3, ev),
        Alert("volume_spike", ScopeKind.TICKER, "TSLA", "count", T0, end, end, "warning",
              11.0, 0.333333, ev),
        Alert("volume_spike", ScopeKind.TOPIC, "=cmd|' /C calc'!A0", "count",
              T0 + timedelta(hours=1), end + timedelta(hours=1), end, "warning", 30.0, 12.0, ()),
    ]  # fmt: skip


def fill(path: str) -> str:
    """Three alerts, one resolved; the first two share a window and its notifications."""
    store = open_store(path)
    alerts = _alerts()
    store.insert_alerts(alerts)
    store.resolve_alert(alerts[1].id, T0 + timedelta(minutes=30))
    group = alerts[:2]  # one notification per channel for the window, keyed by the first alert
    payload = notification_payload(group, {}, None)
    mail = Notification(group[0].id, "email", payload)
    hook = Notification(group[0].id, webhook_channel(HOOK), payload)
    store.enqueue_notifications([mail, hook])
    store.mark_notification(mail.key, "delivered", 1, None, None)
    store.mark_notification(
        hook.key, "failed", 12, None, "webhook https://hooks.example.com/...: HTTP 404"
    )
    store.close()
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return fill(str(tmp_path / "a.db"))


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["alerts", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_and_scope_filters_match_the_store(db: str) -> None:
    store = open_store(db)
    stored = store.alerts()
    store.close()
    firing = [json.loads(x) for x in run("--db", db, "--json", "--status", "firing").splitlines()]
    assert [a["id"] for a in firing] == [a.id for a in stored if a.status == "firing"]
    resolved = run("--db", db, "--status", "resolved")
    assert "TSLA: news volume spike" in resolved and "negative news surge" not in resolved
    tsla = [
        json.loads(x)
        for x in run("--db", db, "--format", "json", "--scope", "ticker:tsla").splitlines()
    ]
    assert {a["scope_value"] for a in tsla} == {"TSLA"} and len(tsla) == 2
    assert run("--db", db, "--scope", "all") == "no alerts\n"
    bad = CliRunner().invoke(main, ["alerts", "--db", db, "--status", "nope"])
    assert bad.exit_code == 2 and "firing" in bad.output


def test_csv_has_the_store_numbers_and_no_formulas(db: str) -> None:
    store = open_store(db)
    stored = {a.id: a for a in store.alerts()}
    store.close()
    rows = list(csv.DictReader(io.StringIO(run("--db", db, "--format", "csv"))))
    assert [r["id"] for r in rows] == list(stored)
    for row in rows:
        alert = stored[row["id"]]
        assert float(row["observed"]) == alert.observed and float(row["expected"]) == alert.expected
        assert row["status"] == alert.status and int(row["evidence"]) == len(alert.evidence)
        assert datetime.fromisoformat(row["window_start"]) == alert.window_start
    alerts = _alerts()
    by_id = {r["id"]: r for r in rows}
    assert by_id[alerts[0].id]["summary"] == "73 % negative vs 30 % usual"
    assert by_id[alerts[1].id]["summary"] == "11 items vs 0.3 usual"
    topic = by_id[alerts[2].id]
    assert topic["scope_value"].startswith("'=") and topic["title"].startswith("topic =")
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())


def test_show_prints_evidence_and_delivery_history(db: str) -> None:
    alerts = _alerts()
    out = run("--db", db, "show", alerts[0].id[:8])  # a unique prefix is enough
    assert out.startswith("TSLA: negative news surge\n")
    assert "Tue 3 Mar, 14:30-14:35 UTC" in out and "73 % negative vs 30 % usual" in out
    assert "negative -0.82 towards TSLA" in out and "TSLA plunges after fraud probe" in out
    assert "https://x/1" in out and "javascript:" not in out and "\x1b" not in out
    assert "email  delivered  attempts 1" in out
    assert f"{webhook_channel(HOOK)}  failed  attempts 12" in out and "HTTP 404" in out
    assert "s3cret" not in out  # channels are named by a hash of their URL
    grouped = run("show", alerts[1].id, "--db", db)  # not the group's first alert: still found
    assert "resolved" in grouped and "email  delivered" in grouped
    lonely = run("--db", db, "show", alerts[2].id)
    assert "deliveries (0)" in lonely


def test_show_unknown_or_ambiguous_ids(db: str) -> None:
    missing = CliRunner().invoke(main, ["alerts", "--db", db, "show", "ffffffffff"])
    assert missing.exit_code == 1 and "finsentry alerts" in missing.output
    ambiguous = CliRunner().invoke(main, ["alerts", "--db", db, "show", ""])
    assert ambiguous.exit_code != 0


def test_show_says_a_silenced_alert_was_not_sent(tmp_path: Path) -> None:
    from dataclasses import replace

    from finsentry.schema import AlertStatus

    path = str(tmp_path / "s.db")
    store = open_store(path)
    silenced = replace(_alerts()[2], status=AlertStatus.SILENCED)
    store.insert_alerts([silenced])
    store.close()
    out = run("--db", path, "show", silenced.id)
    assert "deliveries (0)" in out and "silenced when it fired" in out
    assert "no channel was configured" not in out
