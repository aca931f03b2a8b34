"""Pipeline-health alert rules and their contact point, written through Grafana's alerting
provisioning HTTP API (grafana-client's ``alertingprovisioning``): read first, write only what
differs, so re-running changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from finsentry.grafana.alerting import (
    CONTACT_POINT,
    CONTACT_POINT_UID,
    RULE_GROUP,
    contact_point_payload,
    health_rules,
    rule_group_payload,
)
from finsentry.grafana.api import Grafana, get_or_none

_RULE_KEYS = (
    "uid", "title", "condition", "data", "noDataState", "execErrState", "for", "annotations",
    "labels", "isPaused", "notification_settings",
)  # fmt: skip


def _rule_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return any(current.get(key) != wanted.get(key) for key in _RULE_KEYS)


def _group_differs(current: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    if current is None or current.get("interval") != wanted["interval"]:
        return True
    have = {r.get("uid"): r for r in current.get("rules") or []}
    if set(have) != {r["uid"] for r in wanted["rules"]}:
        return True
    return any(_rule_differs(have[r["uid"]], r) for r in wanted["rules"])


def ensure_contact_point(api: Grafana, addresses: Sequence[str]) -> str:
    """Create or update the ``finsentry`` e-mail contact point; 'created'/'updated'/'unchanged'."""
    wanted = contact_point_payload(addresses)
    found = [c for c in api.alertingprovisioning.get_contactpoints(name=CONTACT_POINT) or []]
    current = next((c for c in found if c.get("uid") == CONTACT_POINT_UID), None)
    if current is None:
        api.alertingprovisioning.create_contactpoint(wanted)
        return "created"
    same = (
        current.get("name") == wanted["name"]
        and current.get("type") == wanted["type"]
        and (current.get("settings") or {}) == wanted["settings"]
        and bool(current.get("disableResolveMessage")) == wanted["disableResolveMessage"]
    )
    if same:
        return "unchanged"
    api.alertingprovisioning.update_contactpoint(CONTACT_POINT_UID, wanted)
    return "updated"


def ensure_rule_group(
    api: Grafana,
    folder_uid: str,
    panel_ids: dict[str, int] | None = None,
    receiver: str | None = CONTACT_POINT,
) -> str:
    """Create or update the health rule group (one PUT of the whole group when it differs)."""
    wanted = rule_group_payload(folder_uid, health_rules(), panel_ids, receiver)
    current = get_or_none(api.alertingprovisioning.get_rule_group, folder_uid, RULE_GROUP)
    if not _group_differs(current, wanted):
        return "unchanged"
    api.alertingprovisioning.update_rule_group(folder_uid, RULE_GROUP, wanted)
    return "created" if current is None else "updated"
