"""finsentry_ingest: pull the configured RSS/Atom feeds and HTTP JSON endpoints every hour and run
their items through the pipeline (validate, tag, de-duplicate, score, aggregate, detect); then
announce the UTC days the store has completed, as Airflow asset events.

Each run keeps the items published in its data interval (plus a look-back for items that appear
late in a feed); items are upserted by id, so retries and backfills never count anything twice.

A day is complete when the store's watermark (every source's, Kafka consumers included) has passed
its end. ``find_complete_days`` runs after every pull, even a failed one, and names the days
completed since the last announcement (kept in the store); ``announce_days`` then updates the asset
``finsentry://store/day-complete`` (extra: the days and the watermark), which schedules
finsentry_daily_report, and ``announce_week`` updates ``finsentry://store/week-complete`` when a
Sunday completed, which schedules finsentry_model_eval. With nothing new they are skipped (no
event).

Variables: ``finsentry_feeds`` and ``finsentry_json_urls`` (JSON list, or comma/space separated),
``finsentry_ingest_lookback_h`` (default 24), plus the common ones (docs/operations.md); the store
is the Connection ``finsentry_store``. A manual run's form takes other feeds and a dry run (fetch,
store nothing). The pull has 45 minutes (one hung feed must not block the next hour:
max_active_runs=1) and runs in the ``finsentry_models`` pool, which caps concurrent model loads.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, task

from finsentry.app.dagwiring import DAY_COMPLETE, MODEL_POOL, WEEK_COMPLETE, variable, wiring

W = wiring(__file__)
DAY = Asset(DAY_COMPLETE)
WEEK = Asset(WEEK_COMPLETE)


@task(outlets=[DAY], retries=0, execution_timeout=timedelta(minutes=5))
def announce_days(found: dict, *, outlet_events=None) -> list:
    from airflow.sdk.exceptions import AirflowSkipException

    if not found["days"]:
        raise AirflowSkipException("no day completed since the last announcement")
    outlet_events[DAY].extra = {"days": found["days"], "watermark": found["watermark"]}
    return found["days"]


@task(outlets=[WEEK], retries=0, execution_timeout=timedelta(minutes=5))
def announce_week(found: dict, *, outlet_events=None) -> list:
    from airflow.sdk.exceptions import AirflowSkipException

    if not found["weeks"]:
        raise AirflowSkipException("no week (Monday to Sunday) completed")
    outlet_events[WEEK].extra = {"weeks": found["weeks"]}
    return found["weeks"]


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
        **W.external(pool=MODEL_POOL, execution_timeout=timedelta(minutes=45), retries=2)
    )
    def pull_feeds(
        config: str, feeds: str, json_urls: str, start: str, end: str, lookback_h: str,
        dry_run: str,
    ) -> dict:  # fmt: skip
        from datetime import datetime, timedelta

        from finsentry.app import jobs

        return jobs.ingest_feeds(
            jobs.job_settings(config=config),
            jobs.split_list(feeds),
            jobs.split_list(json_urls),
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
            lookback=timedelta(hours=float(lookback_h or 24)),
            dry_run=dry_run == "True",
        )

    # the store's days complete whatever the feeds did (Kafka consumers write the store too)
    @task.external_python(
        **W.external(execution_timeout=timedelta(minutes=10), retries=2, trigger_rule="all_done")
    )
    def find_complete_days(config: str) -> dict:
        from finsentry.app import jobs

        return jobs.announce_complete_days(jobs.job_settings(config=config))

    pulled = pull_feeds(
        config=W.config,
        feeds="{{ params.feeds | tojson if params.feeds else var.value.get('finsentry_feeds', '') }}",
        json_urls=variable("finsentry_json_urls"),
        start="{{ data_interval_start.isoformat() }}",
        end="{{ data_interval_end.isoformat() }}",
        lookback_h=variable("finsentry_ingest_lookback_h", "24"),
        dry_run="{{ params.dry_run }}",
    )
    found = find_complete_days(config=W.config)
    pulled >> found
    announce_days(found)
    announce_week(found)


finsentry_ingest()
