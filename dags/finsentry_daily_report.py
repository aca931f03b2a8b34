"""finsentry_daily_report: after each UTC day, build its HTML report (headline numbers, tone per
topic and top tickers with charts, biggest movers, alerts with evidence) and e-mail it.

The report for a run's logical date (its data interval's day) is written to
``finsentry_report_dir`` as ``finsentry-report-<date>.html`` with the chart PNGs beside it;
re-running a date rewrites the same files. Recipients: ``finsentry_report_to`` (comma separated),
else FINSENTRY_MAIL_TO; with neither, the report is only written. SMTP: FINSENTRY_SMTP_*.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

# -- wiring shared by finsentry's DAGs (kept in each file: DAG files are parsed one by one) --------
# Nothing here reads a file, a Variable or the network at parse time: values are Jinja templates
# rendered when a task runs. Airflow Variables (or AIRFLOW_VAR_<NAME> environment variables):
# finsentry_python (absolute path of the Python in finsentry's virtualenv; default: .venv next to
# this dags/ folder), finsentry_db (store URL; default FINSENTRY_DB), finsentry_config (TOML file).
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def variable(name: str, default: str = "") -> str:
    """A Jinja template that reads an Airflow Variable when the task runs."""
    return "{{ var.value.get('%s', '%s') }}" % (name, default)  # noqa: UP031 - Jinja braces


FINSENTRY_PYTHON = variable("finsentry_python", os.path.join(_REPO, ".venv", "bin", "python"))
DB = variable("finsentry_db")
CONFIG = variable("finsentry_config")
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
DEFAULT_ARGS = {"owner": "finsentry", "retries": 2, "retry_delay": timedelta(minutes=5)}
TAGS = ["finsentry"]
# ------------------------------------------------------------------------------------------------


@dag(
    dag_id="finsentry_daily_report",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=TAGS,
    doc_md=__doc__,
)
def finsentry_daily_report() -> None:
    @task.external_python(python=FINSENTRY_PYTHON, expect_airflow=False)
    def build_and_send(db: str, config: str, day: str, out_dir: str, to: str) -> dict:
        from datetime import date
        from pathlib import Path

        from finsentry import jobs

        settings = jobs.job_settings(db, config)
        recipients = jobs.split_list(to) or list(settings.mail_to)
        target = Path(out_dir) if out_dir else Path.home() / "finsentry-reports"
        return jobs.daily_report(settings, date.fromisoformat(day), target, recipients)

    build_and_send(
        db=DB,
        config=CONFIG,
        day="{{ data_interval_start.strftime('%Y-%m-%d') }}",
        out_dir=variable("finsentry_report_dir"),
        to=variable("finsentry_report_to"),
    )


finsentry_daily_report()
