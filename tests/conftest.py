"""Shared pytest set-up: fixtures for real services live in tests/fixtures/ as plugins."""

from __future__ import annotations

pytest_plugins: list[str] = [
    "tests.fixtures.scorers",
    "tests.fixtures.kafka",
    "tests.fixtures.models",
    "tests.fixtures.postgres",
    "tests.fixtures.grafana_api",
    "tests.fixtures.chromium",
    "tests.fixtures.registry",
]


def _hypothesis_profiles() -> None:
    """``dev`` (the default) draws new examples on every run, which is how property tests find
    bugs; ``ci`` (HYPOTHESIS_PROFILE=ci, set by .ci/run) draws the same examples on every run, so
    a submission's CI result does not depend on the luck of the draw. A failure found in a ``dev``
    run is kept as an ``@example`` in its test."""
    import os

    from hypothesis import settings

    settings.register_profile("dev")
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_hypothesis_profiles()
