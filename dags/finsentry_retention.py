"""finsentry_retention: every day, delete raw items older than ``finsentry_retention_days``
(default 90) from the store, as ``finsentry db retention`` does; window statistics and alerts stay.

The cut-off is measured from the run's data interval end, so re-running a date deletes nothing new.
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
    dag_id="finsentry_retention",
    schedule=CronDataIntervalTimetable("30 2 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=TAGS,
    doc_md=__doc__,
)
def finsentry_retention() -> None:
    @task.external_python(python=FINSENTRY_PYTHON, expect_airflow=False)
    def apply_retention(db: str, config: str, keep_days: str, now: str) -> dict:
        from datetime import datetime

        from finsentry import jobs

        settings = jobs.job_settings(db, config)
        return jobs.apply_retention(settings, float(keep_days), datetime.fromisoformat(now))

    apply_retention(
        db=DB,
        config=CONFIG,
        keep_days=variable("finsentry_retention_days", "90"),
        now="{{ data_interval_end.isoformat() }}",
    )


finsentry_retention()
