"""Grafana alert rules for the pipeline's own health, and the contact point they notify, as code.

Four rules, each one SQL query over the store (PostgreSQL data source ``finsentry-postgres``)
reduced to one number and compared with a threshold by Grafana's server-side expressions:

- ``finsentry-no-data``: minutes since the last flushed micro-batch (the pipeline stopped);
- ``finsentry-consumer-lag``: mean end-to-end lag (publication to durable write) in seconds;
- ``finsentry-dead-letter-rate``: share of the records read that became dead letters;
- ``finsentry-outbox-failures``: alert notifications that failed for good or keep failing.

The limits are :data:`LIMITS`; the health dashboard draws the same numbers as thresholds. The
rules go to Grafana in two ways: :func:`provisioning_yaml` writes the file that Grafana reads at
start-up (``infra/grafana/provisioning/alerting/finsentry.yaml``), and
:mod:`finsentry.grafana.alert_api` writes them through the alerting provisioning HTTP API
(grafana-client's ``alertingprovisioning``). Each rule routes straight to the ``finsentry`` contact point
(``notification_settings``), so the organisation's notification policy tree is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from finsentry.grafana.model import DATASOURCE_UID
from finsentry.schema import REPLAY_SOURCE

RULE_GROUP = "finsentry-health"
RULE_GROUP_INTERVAL_S = 60
CONTACT_POINT = "finsentry"
CONTACT_POINT_UID = "finsentry-email"
EXPRESSION_UID = "__expr__"
HEALTH_DASHBOARD_UID = "finsentry-health"
# Grafana expands $NAME and ${NAME} from its environment in provisioning files; $$ is a literal $.
ALERT_EMAILS_ENV = "FINSENTRY_ALERT_EMAILS"


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """Where the pipeline's health turns bad: alert thresholds and dashboard thresholds."""

    no_data_minutes: float = 15.0
    lag_warn_s: float = 60.0
    lag_s: float = 300.0
    dead_letter_warn_share: float = 0.01
    dead_letter_share: float = 0.05
    late_warn_share: float = 0.02
    late_share: float = 0.10
    scoring_warn_ms: float = 25.0
    scoring_ms: float = 100.0
    outbox_attempts: int = 3


LIMITS = HealthLimits()


@dataclass(frozen=True, slots=True)
class HealthRule:
    """One alert rule: a query giving one number, and the threshold above which it fires."""

    uid: str
    title: str
    sql: str
    column: str
    threshold: float
    lookback_s: int
    pending: str
    summary: str
    description: str
    panel_title: str
    severity: str = "critical"
    no_data_state: str = "OK"

    def fires(self, value: float) -> bool:
        """What Grafana's threshold expression decides for a reduced value."""
        return value > self.threshold


def _no_data(limits: HealthLimits) -> HealthRule:
    return HealthRule(
        uid="finsentry-no-data",
        title="finsentry: no data",
        sql=(
            "SELECT COALESCE(extract(epoch from now() - MAX(flushed_at)) / 60.0, 1e9)"
            " AS minutes_since_last_batch\nFROM batches"
        ),
        column="minutes_since_last_batch",
        threshold=limits.no_data_minutes,
        lookback_s=600,
        pending="0s",
        summary='No micro-batch flushed for {{ $values.B.Value | printf "%.0f" }} minutes',
        description=(
            f"The pipeline wrote nothing for more than {limits.no_data_minutes:g} minutes:"
            " consumers or the ingest DAG stopped, or the store is unreachable."
        ),
        panel_title="Throughput",
    )


def _consumer_lag(limits: HealthLimits) -> HealthRule:
    return HealthRule(
        uid="finsentry-consumer-lag",
        title="finsentry: consumer lag",
        sql=(
            "SELECT COALESCE(SUM(lag_ms_mean * processed) / NULLIF(SUM(processed), 0)"
            " / 1000.0, 0) AS lag_s\nFROM batches\nWHERE $__timeFilter(flushed_at)"
        ),
        column="lag_s",
        threshold=limits.lag_s,
        lookback_s=600,
        pending="5m",
        summary='End-to-end lag {{ $values.B.Value | printf "%.0f" }} s',
        description=(
            "Mean time from publication to durable write over the last 10 minutes is above"
            f" {limits.lag_s:g} s: consumers fall behind the topic (add consumers or GPUs)."
        ),
        panel_title="End-to-end lag",
        severity="warning",
    )


def _dead_letter_rate(limits: HealthLimits) -> HealthRule:
    return HealthRule(
        uid="finsentry-dead-letter-rate",
        title="finsentry: dead-letter rate",
        sql=(
            "SELECT COALESCE(SUM(dead_lettered)::float8 / NULLIF(SUM(consumed), 0), 0)"
            " AS dead_letter_share\nFROM batches\nWHERE $__timeFilter(flushed_at)"
            f" AND source <> '{REPLAY_SOURCE}'"  # re-reading old dead letters is not new input
        ),
        column="dead_letter_share",
        threshold=limits.dead_letter_share,
        lookback_s=900,
        pending="5m",
        summary="{{ $values.B.Value | humanizePercentage }} of records dead-lettered",
        description=(
            "More than"
            f" {limits.dead_letter_share:.0%} of the records read in the last 15 minutes"
            " failed validation; see the dead letters by reason on the health dashboard."
        ),
        panel_title="Dead letters by reason",
        severity="warning",
    )


def _outbox_failures(limits: HealthLimits) -> HealthRule:
    return HealthRule(
        uid="finsentry-outbox-failures",
        title="finsentry: alert delivery failing",
        sql=(
            "SELECT COUNT(*) AS failing_notifications\nFROM notifications\n"
            "WHERE $__timeFilter(created_at)\n"
            f"  AND (status = 'failed' OR (status = 'pending'"
            f" AND attempts >= {limits.outbox_attempts}))"
        ),
        column="failing_notifications",
        threshold=0,
        lookback_s=86400,
        pending="0s",
        summary="{{ $values.B.Value }} alert notifications failing",
        description=(
            "Alert e-mails or webhooks of the last 24 hours failed for good, or failed"
            f" {limits.outbox_attempts} times and are still retrying: check SMTP and the"
            " webhook receivers (notifications.last_error)."
        ),
        panel_title="Outbox",
    )


def health_rules(limits: HealthLimits = LIMITS) -> tuple[HealthRule, ...]:
    """The pipeline health rules; every query returns one row with one number."""
    return tuple(
        rule(limits) for rule in (_no_data, _consumer_lag, _dead_letter_rate, _outbox_failures)
    )


def _query_model(rule: HealthRule) -> dict[str, Any]:
    return {
        "refId": "A",
        "datasource": {"type": "grafana-postgresql-datasource", "uid": DATASOURCE_UID},
        "editorMode": "code",
        "format": "table",
        "rawQuery": True,
        "rawSql": rule.sql,
        "intervalMs": 1000,
        "maxDataPoints": 43200,
    }


def _expression(ref_id: str, **model: Any) -> dict[str, Any]:
    """A server-side expression step of a rule (reduce, threshold)."""
    return {
        "refId": ref_id,
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPRESSION_UID,
        "model": {
            "refId": ref_id,
            "datasource": {"type": EXPRESSION_UID, "uid": EXPRESSION_UID},
            **model,
        },
    }


def _rule_data(rule: HealthRule) -> list[dict[str, Any]]:
    """A: the SQL query; B: its last value; C: whether that value is above the threshold."""
    return [
        {
            "refId": "A",
            "relativeTimeRange": {"from": rule.lookback_s, "to": 0},
            "datasourceUid": DATASOURCE_UID,
            "model": _query_model(rule),
        },
        _expression(
            "B", type="reduce", expression="A", reducer="last", settings={"mode": "dropNN"}
        ),
        _expression(
            "C",
            type="threshold",
            expression="B",
            conditions=[{"evaluator": {"type": "gt", "params": [rule.threshold]}}],
        ),
    ]


def rule_payload(
    rule: HealthRule,
    folder_uid: str,
    panel_ids: dict[str, int] | None = None,
    receiver: str | None = CONTACT_POINT,
) -> dict[str, Any]:
    """The rule in Grafana's provisioning model (HTTP API field names)."""
    annotations = {"summary": rule.summary, "description": rule.description}
    panel_id = (panel_ids or {}).get(rule.panel_title)
    if panel_id is not None:  # the rule's state changes show on that panel
        annotations["__dashboardUid__"] = HEALTH_DASHBOARD_UID
        annotations["__panelId__"] = str(panel_id)
    payload: dict[str, Any] = {
        "uid": rule.uid,
        "title": rule.title,
        "folderUID": folder_uid,
        "ruleGroup": RULE_GROUP,
        "condition": "C",
        "data": _rule_data(rule),
        "noDataState": rule.no_data_state,
        "execErrState": "Error",
        "for": rule.pending,
        "annotations": annotations,
        "labels": {"service": "finsentry", "severity": rule.severity},
        "isPaused": False,
    }
    if receiver:  # simplified routing: straight to the contact point, policies untouched
        payload["notification_settings"] = {"receiver": receiver}
    return payload


def rule_group_payload(
    folder_uid: str,
    rules: Sequence[HealthRule],
    panel_ids: dict[str, int] | None = None,
    receiver: str | None = CONTACT_POINT,
) -> dict[str, Any]:
    """The rule group as ``PUT /api/v1/provisioning/folder/<uid>/rule-groups/<group>`` takes it."""
    return {
        "title": RULE_GROUP,
        "folderUid": folder_uid,
        "interval": RULE_GROUP_INTERVAL_S,
        "rules": [rule_payload(r, folder_uid, panel_ids, receiver) for r in rules],
    }


def contact_point_payload(addresses: Sequence[str] | str) -> dict[str, Any]:
    """The e-mail contact point (``addresses``: a list, or a ``${VAR}`` for the YAML file)."""
    joined = addresses if isinstance(addresses, str) else ";".join(addresses)
    return {
        "uid": CONTACT_POINT_UID,
        "name": CONTACT_POINT,
        "type": "email",
        "settings": {"addresses": joined, "singleEmail": False},
        "disableResolveMessage": False,
    }


def _escape_dollars(value: Any) -> Any:
    """Grafana expands ``$NAME`` in provisioning files; SQL macros need ``$$`` to stay literal."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    return value


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the SQL) as literal blocks, readable in the file."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_block)


def provisioning_yaml(
    folder_title: str = "finsentry", panel_ids: dict[str, int] | None = None
) -> str:
    """The file for Grafana's ``provisioning/alerting/`` directory: rules and contact point."""
    rules = []
    for rule in health_rules():
        payload = rule_payload(rule, folder_title, panel_ids)
        for key in ("folderUID", "ruleGroup"):
            payload.pop(key)
        rules.append(_escape_dollars(payload))
    contact = contact_point_payload(f"${{{ALERT_EMAILS_ENV}}}")
    document = {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": CONTACT_POINT,
                "receivers": [{k: v for k, v in contact.items() if k != "name"}],
            }
        ],
        "groups": [
            {
                "orgId": 1,
                "name": RULE_GROUP,
                "folder": folder_title,
                "interval": f"{RULE_GROUP_INTERVAL_S}s",
                "rules": rules,
            }
        ],
    }
    header = (
        "# Grafana file provisioning: finsentry's pipeline-health alert rules and their contact\n"
        "# point. Generated by `finsentry grafana generate` from src/finsentry/grafana/alerting.py;\n"
        "# edit the code, not this file. Copy it to /etc/grafana/provisioning/alerting/ and set\n"
        f"# {ALERT_EMAILS_ENV} (addresses separated by ';') in Grafana's environment.\n"
        "# SQL macros are written $$__name: Grafana reads $$ as a literal $.\n"
    )
    body: str = yaml.dump(
        document, Dumper=_BlockDumper, sort_keys=False, width=100, allow_unicode=True
    )
    return header + body
