"""Grafana: dashboards as code (:mod:`.dashboards`), the PostgreSQL data source's SQL macros
(:mod:`.macros`) and provisioning through Grafana's HTTP API (:mod:`.provision`)."""

from __future__ import annotations
