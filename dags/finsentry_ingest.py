"""finsentry_ingest: pull the configured RSS/Atom feeds and HTTP JSON endpoints every hour and run
their items through the pipeline (validate, tag, de-duplicate, score, aggregate, detect).

Each run keeps the items published in its data interval (plus a look-back for items that appear
late in a feed); items are upserted by id, so retries and backfills never count anything twice.

Variables: ``finsentry_feeds`` and ``finsentry_json_urls`` (JSON list, or comma/space separated),
``finsentry_ingest_lookback_h`` (default 24), plus the common ones (docs/operations.md). A manual
run's form takes other feeds and a dry run (fetch, store nothing). The pull has 45 minutes (one
hung feed must not block the next hour: max_active_runs=1) and runs in the ``finsentry_models``
pool, which caps concurrent model loads.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from finsentry.dagwiring import MODEL_POOL, variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_ingest",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=W.start_date,
    catchup=False,
    max_active_runs=1,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
    params={
        "feeds": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Feeds",
            description="RSS/Atom URLs for this run (empty: the finsentry_feeds Variable).",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Store nothing."),
    },
)
def finsentry_ingest() -> None:
    @task.external_python(
        python=W.python,
        expect_airflow=False,
        pool=MODEL_POOL,
        execution_timeout=timedelta(minutes=45),
        retries=2,
    )
    def pull_feeds(
        db: str, config: str, feeds: str, json_urls: str, start: str, end: str, lookback_h: str,
        dry_run: str,
    ) -> dict:  # fmt: skip
        from datetime import datetime, timedelta

        from finsentry import jobs

        return jobs.ingest_feeds(
            jobs.job_settings(db, config),
            jobs.split_list(feeds),
            jobs.split_list(json_urls),
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
            lookback=timedelta(hours=float(lookback_h or 24)),
            dry_run=dry_run == "True",
        )

    pull_feeds(
        db=W.db,
        config=W.config,
        feeds="{{ params.feeds | tojson if params.feeds else var.value.get('finsentry_feeds', '') }}",
        json_urls=variable("finsentry_json_urls"),
        start="{{ data_interval_start.isoformat() }}",
        end="{{ data_interval_end.isoformat() }}",
        lookback_h=variable("finsentry_ingest_lookback_h", "24"),
        dry_run="{{ params.dry_run }}",
    )


finsentry_ingest()
