"""finsentry_daily_report: after each UTC day, build its HTML report (headline numbers, tone per
topic and top tickers with charts, biggest movers, alerts with evidence) and e-mail it.

The report for a run's logical date (its data interval's day) is written to
``finsentry_report_dir`` as ``finsentry-report-<date>.html`` with the chart PNGs beside it;
re-running a date rewrites the same files. Recipients: ``finsentry_report_to`` (comma separated),
else FINSENTRY_MAIL_TO; with neither, the report is only written. SMTP: FINSENTRY_SMTP_*.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from finsentry.dagwiring import variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_daily_report",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=W.start_date,
    catchup=False,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
)
def finsentry_daily_report() -> None:
    @task.external_python(python=W.python, expect_airflow=False)
    def build_and_send(db: str, config: str, day: str, out_dir: str, to: str) -> dict:
        from datetime import date
        from pathlib import Path

        from finsentry import jobs

        settings = jobs.job_settings(db, config)
        recipients = jobs.split_list(to) or list(settings.mail_to)
        target = Path(out_dir) if out_dir else Path.home() / "finsentry-reports"
        return jobs.daily_report(settings, date.fromisoformat(day), target, recipients)

    build_and_send(
        db=W.db,
        config=W.config,
        day="{{ data_interval_start.strftime('%Y-%m-%d') }}",
        out_dir=variable("finsentry_report_dir"),
        to=variable("finsentry_report_to"),
    )


finsentry_daily_report()
