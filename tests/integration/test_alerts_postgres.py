"""``finsentry alerts show`` and the report's own reads on PostgreSQL (they go through the store's
SQL dialect, with its placeholders and types)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from finsentry.alerts.channels import webhook_channel
from finsentry.app.reports.queries import days_with_data, models_between
from finsentry.inert import redact_dsn
from finsentry.store import open_store
from tests.unit.test_alerts_show import HOOK, T0, _alerts, fill, run

pytestmark = pytest.mark.postgres


def test_show_and_report_reads_on_postgres(postgres_dsn_factory: Callable[[], str]) -> None:
    dsn = fill(postgres_dsn_factory())
    alerts = _alerts()
    out = run("--db", dsn, "show", alerts[1].id)
    assert "TSLA: news volume spike" in out and "resolved" in out
    assert "email  delivered  attempts 1" in out
    assert f"{webhook_channel(HOOK)}  failed  attempts 12" in out
    csv_out = run("--db", dsn, "--format", "csv", "--status", "resolved")
    assert csv_out.count("\n") == 2 and alerts[1].id in csv_out
    store = open_store(dsn)
    try:
        assert models_between(store, T0 - timedelta(days=1), T0 + timedelta(days=1)) == []
        assert days_with_data(store, 3600) == []
    finally:
        store.close()


def test_report_footer_and_data_days_on_postgres(
    postgres_dsn_factory: Callable[[], str], tmp_path: Path
) -> None:
    from finsentry.app.reports import build_report
    from finsentry.config import Settings
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run_files
    from tests.fixtures.scorers import LexiconScorer
    from tests.integration.test_reports import DAY, simulated_days

    settings = Settings(db=postgres_dsn_factory())
    pipe = Pipeline.from_settings(settings, scorer=LexiconScorer())
    try:
        run_files([simulated_days(tmp_path / "news.jsonl")], settings, pipeline=pipe)
    finally:
        pipe.close()
    store = open_store(settings.db)
    try:
        report = build_report(store, DAY, (3600,), charts=False)
        empty = build_report(store, DAY + timedelta(days=5), (3600,), charts=False)
    finally:
        store.close()
    assert report.models == [(LexiconScorer().model_id, report.total.items)]
    assert report.store == redact_dsn(settings.db) and report.store.startswith("postgresql://")
    assert empty.days_with_data == [DAY - timedelta(days=1), DAY]
