"""File-based provisioning under infra/grafana agrees with the dashboards and the API provisioning."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from finsentry.grafana.alerting import ALERT_EMAILS_ENV, CONTACT_POINT_UID, health_rules
from finsentry.grafana.dashboards import all_dashboards
from finsentry.grafana.model import DATASOURCE_NAME, DATASOURCE_TYPE, DATASOURCE_UID
from finsentry.grafana.provision import FOLDER_UID, datasource_payload

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "infra" / "grafana" / "provisioning"


def test_datasource_file_matches_what_the_dashboards_reference() -> None:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "finsentry.yaml").read_text())
    assert doc["apiVersion"] == 1
    (source,) = doc["datasources"]
    assert (source["uid"], source["type"], source["name"]) == (
        DATASOURCE_UID, DATASOURCE_TYPE, DATASOURCE_NAME,
    )  # fmt: skip
    api = datasource_payload("postgresql://u:p@h:5432/db")
    assert set(source["jsonData"]) == set(api["jsonData"])
    assert source["secureJsonData"]["password"] == "${FINSENTRY_PG_PASSWORD}"
    # every ${VAR} the file uses is documented in the README next to it
    readme = (ROOT / "infra" / "grafana" / "README.md").read_text()
    lines = (PROVISIONING / "datasources" / "finsentry.yaml").read_text().splitlines()
    body = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{(\w+)\}", body))
    assert used and all(name in readme for name in used)
    for dashboard in all_dashboards():
        text = (
            ROOT / "dashboards" / f"{dashboard.uid.removeprefix('finsentry-')}.json"
        ).read_text()
        # every query reads the $datasource variable, whose default is the provisioned uid
        uids = set(re.findall(r'"uid": "([^"]+)"', text)) - {dashboard.uid, "-- Grafana --"}
        assert uids == {"${datasource}"}
        assert f'"value": "{DATASOURCE_UID}"' in text


def test_alerting_file_is_what_grafana_reads() -> None:
    """The alert rules' YAML: Grafana's file format, $ escaped, env variables documented."""
    path = PROVISIONING / "alerting" / "finsentry.yaml"
    raw = path.read_text()
    doc = yaml.safe_load(raw)
    assert doc["apiVersion"] == 1
    ((contact,),) = [c["receivers"] for c in doc["contactPoints"]]
    assert contact["type"] == "email" and contact["uid"] == CONTACT_POINT_UID
    assert contact["settings"]["addresses"] == "${" + ALERT_EMAILS_ENV + "}"
    (group,) = doc["groups"]
    assert group["folder"] == FOLDER_UID and group["interval"] == "60s"
    assert [r["uid"] for r in group["rules"]] == [r.uid for r in health_rules()]
    for rule, code in zip(group["rules"], health_rules(), strict=True):
        (query,) = [q for q in rule["data"] if q["refId"] == "A"]
        assert query["datasourceUid"] == DATASOURCE_UID
        # Grafana expands $NAME in provisioning files: $$ is the literal $ the SQL needs
        assert query["model"]["rawSql"].replace("$$", "$") == code.sql
        assert rule["notification_settings"] == {"receiver": "finsentry"}
        assert rule["annotations"]["__dashboardUid__"] == "finsentry-health"
        (threshold,) = [q for q in rule["data"] if q["refId"] == rule["condition"]]
        assert threshold["model"]["conditions"][0]["evaluator"]["params"] == [code.threshold]
    body = "\n".join(line for line in raw.splitlines() if not line.lstrip().startswith("#"))
    singles = re.findall(r"(?<!\$)\$(?!\$)\{?(\w+)", body.replace("$$", ""))
    assert singles == [ALERT_EMAILS_ENV], "every other $ must be escaped as $$"
    assert ALERT_EMAILS_ENV in (ROOT / "infra" / "grafana" / "README.md").read_text()


def test_dashboard_provider_uses_the_same_folder() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "finsentry.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == FOLDER_UID
    assert provider["options"]["path"].startswith("/")
