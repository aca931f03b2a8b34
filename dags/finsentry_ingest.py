"""finsentry_ingest: pull the configured RSS/Atom feeds and HTTP JSON endpoints every hour and run
their items through the pipeline (validate, tag, de-duplicate, score, aggregate, detect).

Each run keeps the items published in its data interval (plus a look-back for items that appear
late in a feed); items are upserted by id, so retries and backfills never count anything twice.

Variables: ``finsentry_feeds`` and ``finsentry_json_urls`` (JSON list, or comma/space separated),
``finsentry_ingest_lookback_h`` (default 24), plus the common ones below.
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
    dag_id="finsentry_ingest",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=TAGS,
    doc_md=__doc__,
)
def finsentry_ingest() -> None:
    @task.external_python(python=FINSENTRY_PYTHON, expect_airflow=False)
    def pull_feeds(
        db: str, config: str, feeds: str, json_urls: str, start: str, end: str, lookback_h: str
    ) -> dict:
        from datetime import datetime, timedelta

        from finsentry import jobs

        return jobs.ingest_feeds(
            jobs.job_settings(db, config),
            jobs.split_list(feeds),
            jobs.split_list(json_urls),
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
            lookback=timedelta(hours=float(lookback_h or 24)),
        )

    pull_feeds(
        db=DB,
        config=CONFIG,
        feeds=variable("finsentry_feeds"),
        json_urls=variable("finsentry_json_urls"),
        start="{{ data_interval_start.isoformat() }}",
        end="{{ data_interval_end.isoformat() }}",
        lookback_h=variable("finsentry_ingest_lookback_h", "24"),
    )


finsentry_ingest()
