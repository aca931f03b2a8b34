"""Provisioning against a stand-in Grafana HTTP API: creates everything, then changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finsentry.grafana.dashboards import all_dashboards
from finsentry.grafana.model import DATASOURCE_UID
from finsentry.grafana.provision import (
    ALERT_TAG_PREFIX,
    ProvisionError,
    connect,
    datasource_payload,
    provision,
)
from finsentry.schema import Alert, Evidence, ScopeKind

DSN = "postgresql://finsentry:s3cret@db.internal:5433/news?sslmode=require"


def _alert(i: int, rule: str = "negative_surge") -> Alert:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=5 * i)
    evidence = (
        Evidence(f"n{i}", f"Probe widens at ACME {i}", start, -0.8, "negative", None, True),
    )
    return Alert(
        rule,
        ScopeKind.TICKER,
        "ACME",
        "negative_share",
        start,
        start + timedelta(minutes=5),
        start + timedelta(minutes=6),
        "high",
        0.7 + i / 100,
        0.1,
        evidence,
    )


def test_datasource_payload_from_dsn() -> None:
    payload = datasource_payload(DSN)
    assert payload["uid"] == DATASOURCE_UID
    assert payload["url"] == "db.internal:5433"
    assert payload["user"] == "finsentry"
    assert payload["jsonData"]["database"] == "news"
    assert payload["jsonData"]["sslmode"] == "require"
    assert payload["secureJsonData"] == {"password": "s3cret"}
    with pytest.raises(ProvisionError, match="postgresql://"):
        datasource_payload("finsentry.db")


def test_provision_creates_then_changes_nothing(fake_grafana) -> None:
    api = connect(fake_grafana.url, fake_grafana.token)
    dashboards = all_dashboards()
    alerts = [_alert(i) for i in range(3)]
    first = provision(api, datasource_dsn=DSN, dashboards=dashboards, alerts=alerts)
    state = fake_grafana.state
    assert first.datasource == "created" and first.folder == "created"
    assert set(first.dashboards.values()) == {"created"}
    assert first.annotations["created"] == 3
    assert set(state.dashboards) == {d.uid for d in dashboards}
    assert all(d["folderUid"] == "finsentry" for d in state.dashboards.values())
    assert state.datasources[DATASOURCE_UID]["secureJsonData"] == {"password": "s3cret"}
    tagged = {
        t.removeprefix(ALERT_TAG_PREFIX)
        for note in state.annotations.values()
        for t in note["tags"]
        if t.startswith(ALERT_TAG_PREFIX)
    }
    assert tagged == {a.id for a in alerts}
    note = next(iter(state.annotations.values()))
    assert "Probe widens" in note["text"] and note["timeEnd"] - note["time"] == 300_000

    writes_before = len(state.writes)
    second = provision(api, datasource_dsn=DSN, dashboards=dashboards, alerts=alerts)
    assert not second.changed, second.summary()
    assert len(state.writes) == writes_before
    assert second.annotations["unchanged"] == 3

    # a new alert and a changed dashboard: only those are written
    more = [*alerts, _alert(7, "volume_spike")]
    third = provision(api, datasource_dsn=DSN, dashboards=all_dashboards(window_s=60), alerts=more)
    assert third.annotations == {"created": 1, "updated": 0, "unchanged": 3}
    assert set(third.dashboards.values()) == {"updated", "unchanged"}
    assert third.dashboards["finsentry-health"] == "unchanged"
    assert third.datasource == "unchanged" and third.folder == "unchanged"
    assert len(state.annotations) == 4
    assert all(d["version"] >= 1 for d in state.dashboards.values())


def test_provision_updates_a_changed_datasource(fake_grafana) -> None:
    api = connect(fake_grafana.url, fake_grafana.token)
    provision(api, datasource_dsn=DSN, dashboards=[])
    result = provision(
        api, datasource_dsn=DSN.replace("db.internal", "db2.internal"), dashboards=[]
    )
    assert result.datasource == "updated"
    assert fake_grafana.state.datasources[DATASOURCE_UID]["url"] == "db2.internal:5433"


def test_bad_token_is_refused_with_a_hint(fake_grafana) -> None:
    api = connect(fake_grafana.url, "wrong-token")
    with pytest.raises(ProvisionError, match="Admin role"):
        provision(api, datasource_dsn=DSN, dashboards=all_dashboards())
    assert fake_grafana.state.writes == []


def test_unreachable_grafana_says_what_to_check() -> None:
    with pytest.raises(ProvisionError, match="FINSENTRY_GRAFANA_URL"):
        connect("http://admin:pw@127.0.0.1:9", timeout=2)


def test_cli_provision_twice_changes_nothing(fake_grafana, tmp_path) -> None:
    from click.testing import CliRunner

    from finsentry.cli.grafana import grafana
    from finsentry.store import open_store

    db = str(tmp_path / "alerts.db")
    store = open_store(db)
    try:
        store.insert_alerts([_alert(0), _alert(1)])
    finally:
        store.close()
    args = ["provision", "--url", fake_grafana.url, "--db", db, "--datasource-dsn", DSN,
            "--alerts-days", "100000"]  # fmt: skip
    env = {"FINSENTRY_GRAFANA_TOKEN": fake_grafana.token}
    first = CliRunner().invoke(grafana, args, env=env)
    assert first.exit_code == 0, first.output
    assert "data source created" in first.output and "2 created" in first.output
    assert "alert rules created" in first.output and "contact point skipped" in first.output
    assert fake_grafana.token not in first.output
    second = CliRunner().invoke(grafana, args, env=env)
    assert second.exit_code == 0 and "nothing to change" in second.output
    assert len(fake_grafana.state.annotations) == 2
    missing = CliRunner().invoke(
        grafana, ["provision", "--db", db], env={"FINSENTRY_GRAFANA_URL": ""}
    )
    assert missing.exit_code != 0 and "FINSENTRY_GRAFANA_URL" in missing.output


def test_alert_rules_and_contact_point_are_provisioned_once(fake_grafana) -> None:
    from finsentry.grafana.alerting import CONTACT_POINT, RULE_GROUP, health_rules

    api = connect(fake_grafana.url, fake_grafana.token)
    emails = ["ops@example.com", "desk@example.com"]
    first = provision(api, datasource_dsn=DSN, dashboards=all_dashboards(), alert_emails=emails)
    assert (first.contact_point, first.alert_rules) == ("created", "created")
    state = fake_grafana.state
    (contact,) = state.contact_points.values()
    assert contact["name"] == CONTACT_POINT and contact["type"] == "email"
    assert contact["settings"]["addresses"] == "ops@example.com;desk@example.com"
    group = state.rule_groups[("finsentry", RULE_GROUP)]
    assert [r["uid"] for r in group["rules"]] == [r.uid for r in health_rules()]
    health_ids = next(d for d in all_dashboards() if d.uid == "finsentry-health").panel_ids()
    for rule in group["rules"]:
        assert rule["notification_settings"] == {"receiver": CONTACT_POINT}
        assert rule["data"][0]["datasourceUid"] == DATASOURCE_UID
        assert int(rule["annotations"]["__panelId__"]) in health_ids.values()

    writes = len(state.writes)
    again = provision(api, datasource_dsn=DSN, dashboards=all_dashboards(), alert_emails=emails)
    assert not again.changed and len(state.writes) == writes, again.summary()
    assert (again.contact_point, again.alert_rules) == ("unchanged", "unchanged")

    # new recipients: only the contact point is rewritten
    changed = provision(
        api, datasource_dsn=DSN, dashboards=all_dashboards(), alert_emails=["ops@example.com"]
    )
    assert (changed.contact_point, changed.alert_rules) == ("updated", "unchanged")
    assert state.writes[writes:] == [("PUT", "/api/v1/provisioning/contact-points/finsentry-email")]


def test_alert_rules_without_recipients_use_the_notification_policies(fake_grafana) -> None:
    api = connect(fake_grafana.url, fake_grafana.token)
    result = provision(api, datasource_dsn=DSN, dashboards=[])
    assert (result.contact_point, result.alert_rules) == ("skipped", "created")
    assert fake_grafana.state.contact_points == {}
    (group,) = fake_grafana.state.rule_groups.values()
    assert all("notification_settings" not in r for r in group["rules"])
    skipped = provision(api, datasource_dsn=DSN, dashboards=[], alert_rules=False)
    assert skipped.alert_rules == "skipped" and not skipped.changed
