"""finsentry_daily_report: when the store has completed a UTC day, build its HTML report (headline
numbers, tone per topic and top tickers with charts, biggest movers, alerts with evidence) and
e-mail it.

Schedule: the asset ``finsentry://store/day-complete`` (updated by finsentry_ingest when the
store's watermark passes the end of a day), or else every day at 06:00 UTC, whichever comes first
(``AssetOrTimeSchedule``). Each run reports every complete day that has not been reported yet,
oldest first, at most 31 (the next run takes the rest): the progress lives in the store and advances
after each day, so a day missed while Airflow was down, while the ingest DAG was paused, or by a
failed run is reported by the next run, and a day is never e-mailed twice by the schedule. The
catch-up starts at FINSENTRY_AIRFLOW_START_DATE. Airflow's own catch-up is off: one run covers
every pending day. ``max_active_runs=1``: two runs never report the same day.

The report for a day is written to ``finsentry_report_dir`` as ``finsentry-report-<date>.html``
with the chart PNGs beside it; re-reporting a date rewrites the same files. Recipients:
``finsentry_report_to`` (comma separated), else FINSENTRY_MAIL_TO; with neither, the report is only
written. SMTP: the Connection ``finsentry_smtp``, else FINSENTRY_SMTP_* of the workers.

A manual run's form takes a report date (that day only, whether or not it was reported; the
progress is untouched: use it to re-send a day) and a dry run (write the reports, send no e-mail,
leave the progress).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from finsentry.app.dagwiring import DAY_COMPLETE, variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_daily_report",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"), assets=[Asset(DAY_COMPLETE)]
    ),
    start_date=W.start_date,
    catchup=False,
    max_active_runs=1,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
    params={
        "report_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Report date",
            description="UTC day to report (empty: every complete day not reported yet).",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Send no e-mail."),
    },
)
def finsentry_daily_report() -> None:
    # SMTP and the store are retried (transient); 20 minutes bound a hung SMTP server
    @task.external_python(**W.external(execution_timeout=timedelta(minutes=20), retries=3))
    def build_and_send(
        config: str, day: str, first_day: str, out_dir: str, to: str, dry_run: str
    ) -> dict:
        from datetime import date
        from pathlib import Path

        from finsentry.app import jobs

        settings = jobs.job_settings(config=config)
        recipients = [] if dry_run == "True" else jobs.split_list(to) or list(settings.mail_to)
        target = Path(out_dir) if out_dir else Path.home() / "finsentry-reports"
        if day:
            report = jobs.daily_report(settings, date.fromisoformat(day), target, recipients)
            return {"days": [report["day"]], "reports": [report], "left": 0}
        return jobs.report_complete_days(
            settings, target, recipients, date.fromisoformat(first_day), advance=dry_run != "True"
        )

    build_and_send(
        config=W.config,
        day="{{ params.report_date or '' }}",
        first_day=W.start_date.date().isoformat(),
        out_dir=variable("finsentry_report_dir"),
        to=variable("finsentry_report_to"),
        dry_run="{{ params.dry_run }}",
    )


finsentry_daily_report()
