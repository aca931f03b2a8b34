"""finsentry_daily_report: after each UTC day, build its HTML report (headline numbers, tone per
topic and top tickers with charts, biggest movers, alerts with evidence) and e-mail it.

The report for a run's logical date (its data interval's day) is written to
``finsentry_report_dir`` as ``finsentry-report-<date>.html`` with the chart PNGs beside it;
re-running a date rewrites the same files. Recipients: ``finsentry_report_to`` (comma separated),
else FINSENTRY_MAIL_TO; with neither, the report is only written. SMTP: FINSENTRY_SMTP_*.

Catch-up is on from FINSENTRY_AIRFLOW_START_DATE: a day missed while Airflow was down is reported
when it comes back (two days at a time). A manual run's form takes a report date (default: the
run's day) and a dry run (write the report, send no e-mail).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from finsentry.dagwiring import variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_daily_report",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=W.start_date,
    catchup=True,
    max_active_runs=2,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
    params={
        "report_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Report date",
            description="UTC day to report (empty: the run's data interval).",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Send no e-mail."),
    },
)
def finsentry_daily_report() -> None:
    # SMTP and the store are retried (transient); 20 minutes bound a hung SMTP server
    @task.external_python(
        python=W.python, expect_airflow=False, execution_timeout=timedelta(minutes=20), retries=3
    )
    def build_and_send(db: str, config: str, day: str, out_dir: str, to: str) -> dict:
        from datetime import date
        from pathlib import Path

        from finsentry import jobs

        settings = jobs.job_settings(db, config)
        recipients = [] if to == "-" else jobs.split_list(to) or list(settings.mail_to)
        target = Path(out_dir) if out_dir else Path.home() / "finsentry-reports"
        return jobs.daily_report(settings, date.fromisoformat(day), target, recipients)

    build_and_send(
        db=W.db,
        config=W.config,
        day="{{ params.report_date or data_interval_start.strftime('%Y-%m-%d') }}",
        out_dir=variable("finsentry_report_dir"),
        to="{{ '-' if params.dry_run else var.value.get('finsentry_report_to', '') }}",
    )


finsentry_daily_report()
