"""Provision a Grafana server through its HTTP API (grafana-client): the PostgreSQL data source, a
folder, the dashboards (overwritten by uid) and the alerts as annotations.

Every step reads first and writes only what differs, so re-running changes nothing:

- data source ``finsentry-postgres``: ``GET /api/datasources/uid/<uid>``, then ``POST /api/datasources``
  or ``PUT /api/datasources/uid/<uid>`` when a setting differs. Grafana never returns the password,
  so a changed password alone is sent only with ``force``.
- folder: ``GET /api/folders/<uid>``, then ``POST /api/folders`` or ``PUT /api/folders/<uid>``.
- dashboards: ``GET /api/search`` (tag ``finsentry``) and ``GET /api/dashboards/uid/<uid>``; then
  ``POST /api/dashboards/db`` with ``overwrite`` when the model or the folder differs.
- alert rules for the pipeline's health and their e-mail contact point (:mod:`.alerting`):
  ``GET``/``PUT /api/v1/provisioning/folder/<uid>/rule-groups/finsentry-health`` and
  ``GET``/``POST``/``PUT /api/v1/provisioning/contact-points``.
- alerts: organisation-wide annotations tagged ``finsentry``, ``alert``, the rule, the severity and
  ``finsentry-alert:<alert id>``; existing ones are found with ``GET /api/annotations?tags=...`` and
  only missing (``POST /api/annotations``) or changed (``PUT /api/annotations/<id>``) ones are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from finsentry.grafana.alert_api import ensure_contact_point, ensure_rule_group
from finsentry.grafana.alerting import CONTACT_POINT
from finsentry.grafana.api import Grafana, get_or_none, status_of
from finsentry.grafana.model import (
    DATASOURCE_NAME,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    Dashboard,
)
from finsentry.schema import Alert, as_utc

FOLDER_UID = "finsentry"
FOLDER_TITLE = "finsentry"
ALERT_TAG_PREFIX = "finsentry-alert:"
PROVISION_MESSAGE = "finsentry grafana provision"


class ProvisionError(RuntimeError):
    """Grafana refused or could not be reached; the message says what to check."""


@dataclass
class ProvisionResult:
    """What provisioning did: 'created', 'updated' or 'unchanged' per object."""

    datasource: str = "unchanged"
    folder: str = "unchanged"
    dashboards: dict[str, str] = field(default_factory=dict)
    contact_point: str = "skipped"
    alert_rules: str = "unchanged"
    annotations: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )

    @property
    def changed(self) -> bool:
        return (
            self.datasource != "unchanged"
            or self.folder != "unchanged"
            or any(action != "unchanged" for action in self.dashboards.values())
            or self.contact_point not in {"unchanged", "skipped"}
            or self.alert_rules not in {"unchanged", "skipped"}
            or self.annotations["created"] > 0
            or self.annotations["updated"] > 0
        )

    def summary(self) -> str:
        dashboards = ", ".join(f"{uid} {action}" for uid, action in self.dashboards.items())
        notes = self.annotations
        return (
            f"data source {self.datasource}; folder {self.folder}; dashboards: {dashboards}; "
            f"contact point {self.contact_point}; alert rules {self.alert_rules}; "
            f"alert annotations: {notes['created']} created, {notes['updated']} updated, "
            f"{notes['unchanged']} unchanged"
        )


def datasource_payload(dsn: str, name: str = DATASOURCE_NAME) -> dict[str, Any]:
    """The Grafana PostgreSQL data source for a ``postgresql://user:pass@host:port/db`` DSN."""
    parsed = urlparse(dsn)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ProvisionError(
            "Grafana reads the PostgreSQL store: set FINSENTRY_DB (or --datasource-dsn) to a"
            f" postgresql://user:password@host:5432/dbname DSN, not {parsed.scheme or 'a path'}"
        )
    database = parsed.path.lstrip("/")
    if not database or not parsed.hostname:
        raise ProvisionError("the PostgreSQL DSN needs a host and a database name")
    query = parse_qs(parsed.query)
    payload: dict[str, Any] = {
        "uid": DATASOURCE_UID,
        "name": name,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": f"{parsed.hostname}:{parsed.port or 5432}",
        "user": unquote(parsed.username or ""),
        "isDefault": False,
        "jsonData": {
            "database": database,
            "sslmode": query.get("sslmode", ["disable"])[0],
            "postgresVersion": 1500,
            "timescaledb": False,
            "maxOpenConns": 10,
            "timeInterval": "1m",
        },
    }
    if parsed.password:
        payload["secureJsonData"] = {"password": unquote(parsed.password)}
    return payload


def _datasource_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key in ("name", "type", "access", "url", "user", "isDefault"):
        if current.get(key) != wanted[key]:
            return True
    current_json = current.get("jsonData") or {}
    if any(current_json.get(k) != v for k, v in wanted["jsonData"].items()):
        return True
    has_password = bool((current.get("secureJsonFields") or {}).get("password"))
    return has_password != ("secureJsonData" in wanted)


def ensure_datasource(api: Grafana, dsn: str, force: bool = False) -> str:
    wanted = datasource_payload(dsn)
    current = get_or_none(api.datasource.get_datasource_by_uid, DATASOURCE_UID)
    if current is None:
        api.datasource.create_datasource(wanted)
        return "created"
    if force or _datasource_differs(current, wanted):
        api.datasource.update_datasource_by_uid(DATASOURCE_UID, wanted)
        return "updated"
    return "unchanged"


def ensure_folder(api: Grafana, uid: str = FOLDER_UID, title: str = FOLDER_TITLE) -> str:
    current = get_or_none(api.folder.get_folder, uid)
    if current is None:
        api.folder.create_folder(title, uid=uid)
        return "created"
    if current.get("title") != title:
        api.folder.update_folder(uid, title=title, version=current.get("version"), overwrite=True)
        return "updated"
    return "unchanged"


def _comparable(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in {"id", "version"}}


def ensure_dashboards(
    api: Grafana, dashboards: Sequence[Dashboard], folder_uid: str = FOLDER_UID
) -> dict[str, str]:
    found = api.search.search_dashboards(tag="finsentry", type_="dash-db") or []
    existing = {hit.get("uid") for hit in found}
    actions: dict[str, str] = {}
    for dashboard in dashboards:
        model = dashboard.to_json()
        action = "created"
        if dashboard.uid in existing:
            current = get_or_none(api.dashboard.get_dashboard, dashboard.uid)
            if current is not None:
                same_model = _comparable(current.get("dashboard", {})) == _comparable(model)
                same_folder = (current.get("meta") or {}).get("folderUid") == folder_uid
                if same_model and same_folder:
                    actions[dashboard.uid] = "unchanged"
                    continue
                action = "updated"
        api.dashboard.update_dashboard(
            {
                "dashboard": {**model, "id": None},
                "folderUid": folder_uid,
                "overwrite": True,
                "message": PROVISION_MESSAGE,
            }
        )
        actions[dashboard.uid] = action
    return actions


def alert_annotation(alert: Alert) -> dict[str, Any]:
    """The annotation for one alert: its window, a one-line text and tags that identify it."""
    text = (
        f"{alert.severity} {alert.rule} on {alert.scope_kind} {alert.scope_value}: "
        f"{alert.metric} observed {alert.observed:.3g}, expected {alert.expected:.3g}"
    )
    if alert.evidence:
        text += " | " + "; ".join(e.headline for e in alert.evidence[:3])
    return {
        "time": int(as_utc(alert.window_start).timestamp() * 1000),
        "timeEnd": int(as_utc(alert.window_end).timestamp() * 1000),
        "tags": [
            "finsentry",
            "alert",
            alert.rule,
            alert.severity,
            f"{alert.scope_kind}:{alert.scope_value}",
            f"{ALERT_TAG_PREFIX}{alert.id}",
        ],
        "text": text,
    }


def ensure_alert_annotations(api: Grafana, alerts: Sequence[Alert]) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if not alerts:
        return counts
    wanted = {alert.id: alert_annotation(alert) for alert in alerts}
    start = min(a["time"] for a in wanted.values())
    end = max(a["timeEnd"] for a in wanted.values())
    found = api.annotations.find_annotations(
        time_from=start,
        time_to=end,
        ann_type="annotation",
        tags=["finsentry", "alert"],
        limit=max(1000, 4 * len(wanted)),
    )
    existing: dict[str, dict[str, Any]] = {}
    for note in found or []:
        for tag in note.get("tags") or []:
            if tag.startswith(ALERT_TAG_PREFIX):
                existing[tag.removeprefix(ALERT_TAG_PREFIX)] = note
    for alert_id, note in wanted.items():
        current = existing.get(alert_id)
        if current is None:
            api.annotations.add_annotation(
                time_from=note["time"],
                time_to=note["timeEnd"],
                tags=note["tags"],
                text=note["text"],
            )
            counts["created"] += 1
        elif (
            current.get("text") != note["text"]
            or sorted(current.get("tags") or []) != sorted(note["tags"])
            or current.get("time") != note["time"]
            or current.get("timeEnd") != note["timeEnd"]
        ):
            api.annotations.update_annotation(
                current["id"],
                time_from=note["time"],
                time_to=note["timeEnd"],
                tags=note["tags"],
                text=note["text"],
            )
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


def redact_url(url: str) -> str:
    """The URL without user and password, for messages."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    netloc = f"{host}:{parsed.port}" if parsed.port else host
    return parsed._replace(netloc=netloc).geturl()


def connect(url: str, token: str | None = None, timeout: float = 10.0) -> Grafana:
    """A client for ``url`` (a service-account token, or user:password in the URL)."""
    api: Grafana = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    try:
        health = api.client.GET("/health")  # documented /api/health: version, database state
    except Exception as exc:
        raise ProvisionError(
            f"cannot reach Grafana at {redact_url(url)}: {type(exc).__name__}: {exc}."
            " Check --url / FINSENTRY_GRAFANA_URL and that Grafana is running."
        ) from exc
    if (health or {}).get("database") not in (None, "ok"):
        raise ProvisionError(f"Grafana at {redact_url(url)} reports its database is not ok")
    return api


def provision(
    api: Grafana,
    *,
    datasource_dsn: str,
    dashboards: Sequence[Dashboard],
    alerts: Sequence[Alert] = (),
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    force: bool = False,
    alert_emails: Sequence[str] = (),
    alert_rules: bool = True,
) -> ProvisionResult:
    """Create or update everything finsentry needs in Grafana; a second run changes nothing.

    ``alert_emails``: recipients of the pipeline-health alerts (the ``finsentry`` contact point);
    with none, the rules go through the organisation's notification policies.
    """
    try:
        result = ProvisionResult()
        result.datasource = ensure_datasource(api, datasource_dsn, force=force)
        result.folder = ensure_folder(api, folder_uid, folder_title)
        result.dashboards = ensure_dashboards(api, dashboards, folder_uid)
        if alert_emails:
            result.contact_point = ensure_contact_point(api, alert_emails)
        if alert_rules:
            health = next((d for d in dashboards if d.uid == "finsentry-health"), None)
            result.alert_rules = ensure_rule_group(
                api,
                folder_uid,
                health.panel_ids() if health else None,
                CONTACT_POINT if alert_emails else None,
            )
        else:
            result.alert_rules = "skipped"
        result.annotations = ensure_alert_annotations(api, alerts)
        return result
    except GrafanaClientError as exc:
        hint = (
            "the token needs the Admin role (or Editor plus data source write permission)"
            if status_of(exc) in {401, 403}
            else "see the message"
        )
        raise ProvisionError(f"Grafana refused a request ({exc.message}): {hint}") from exc
