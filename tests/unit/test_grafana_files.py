"""File-based provisioning under infra/grafana agrees with the dashboards and the API provisioning."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

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
        uids = set(re.findall(r'"uid": "([^"]+)"', text)) - {dashboard.uid, "-- Grafana --"}
        assert uids == {DATASOURCE_UID}


def test_dashboard_provider_uses_the_same_folder() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "finsentry.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == FOLDER_UID
    assert provider["options"]["path"].startswith("/")
