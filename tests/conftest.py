"""Shared pytest set-up: fixtures for real services live in tests/fixtures/ as plugins."""

from __future__ import annotations

pytest_plugins: list[str] = [
    "tests.fixtures.scorers",
    "tests.fixtures.kafka",
    "tests.fixtures.models",
    "tests.fixtures.postgres",
    "tests.fixtures.grafana_api",
    "tests.fixtures.chromium",
]
