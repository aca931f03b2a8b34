"""Grafana: dashboards as code (:mod:`.dashboards` writes :mod:`.overview`, :mod:`.ticker` and
:mod:`.health`, built from :mod:`.panels` and :mod:`.windows` over the typed :mod:`.model`), the
pipeline-health alert rules (:mod:`.alerting`), the PostgreSQL data source's SQL macros
(:mod:`.macros`) and provisioning through Grafana's HTTP API (:mod:`.provision`,
:mod:`.alert_api`)."""

from __future__ import annotations
