"""finsentry_retention: every day, delete raw items older than ``finsentry_retention_days``
(default 90) from the store, as ``finsentry db retention`` does; window statistics and alerts stay.

The cut-off is measured from the run's data interval end, so re-running a date deletes nothing new.
The store is the Connection ``finsentry_store`` (else the Variable ``finsentry_db``).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from finsentry.app.dagwiring import variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_retention",
    schedule=CronDataIntervalTimetable("30 2 * * *", timezone="UTC"),
    start_date=W.start_date,
    catchup=False,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
)
def finsentry_retention() -> None:
    @task.external_python(**W.external(execution_timeout=timedelta(hours=1), retries=2))
    def apply_retention(config: str, keep_days: str, now: str) -> dict:
        from datetime import datetime

        from finsentry.app import jobs

        settings = jobs.job_settings(config=config)
        return jobs.apply_retention(settings, float(keep_days), datetime.fromisoformat(now))

    apply_retention(
        config=W.config,
        keep_days=variable("finsentry_retention_days", "90"),
        now="{{ data_interval_end.isoformat() }}",
    )


finsentry_retention()
