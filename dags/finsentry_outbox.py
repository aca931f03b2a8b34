"""finsentry_outbox: every five minutes, send the due alert notifications, as ``finsentry deliver``
does: for deployments that ingest in Airflow batches, where no pipeline runs between them to retry
a failed e-mail or webhook.

Failed sends wait with exponential backoff per channel and are marked failed after
``FINSENTRY_OUTBOX_MAX_ATTEMPTS``; the task itself does not retry (the outbox does), and one run at a
time drains. The store is the Connection ``finsentry_store`` (else the Variable ``finsentry_db``),
the mail server the Connection ``finsentry_smtp``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from finsentry.app.dagwiring import wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_outbox",
    schedule=CronDataIntervalTimetable("*/5 * * * *", timezone="UTC"),
    start_date=W.start_date,
    catchup=False,
    max_active_runs=1,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
)
def finsentry_outbox() -> None:
    @task.external_python(**W.external(execution_timeout=timedelta(minutes=5), retries=0))
    def drain_outbox(config: str) -> dict:
        from finsentry.app import jobs

        return jobs.drain_outbox(jobs.job_settings(config=config), max_seconds=240.0)

    drain_outbox(config=W.config)


finsentry_outbox()
