"""The scheduled jobs behind the Airflow DAGs in ``dags/``: feed ingest, the daily report, model
evaluation (:mod:`finsentry.app.model_eval`) and retention.

The DAG files only wire these functions (they run in finsentry's own environment through
``@task.external_python``, see docs/operations.md). Each takes explicit settings and plain values,
returns a small JSON-able summary (the task's XCom), and is idempotent for its logical date:
re-running a date upserts the same items, rewrites the same report, replaces that date's evaluation
entry, and deletes nothing that is not already past the cut-off.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from finsentry.app.model_eval import EvalDataError as EvalDataError
from finsentry.app.model_eval import evaluate_model as evaluate_model
from finsentry.config import Settings, load_settings
from finsentry.schema import RawRecord, as_utc, iso
from finsentry.totals import RunTotals

log = logging.getLogger(__name__)
ANNOUNCED_STATE_KEY = "airflow_days_announced"  # the last day announced as complete
REPORTED_STATE_KEY = "airflow_days_reported"  # the last day the scheduled report covered
REPORT_MAX_DAYS = 31  # days one report run catches up; the next run takes the rest


def job_settings(db: str = "", config: str = "") -> Settings:
    """Settings for a job: the TOML file and environment, with the store URL given by the DAG."""
    return load_settings(config or None, db=db or None)


def split_list(value: str | Sequence[str] | None) -> list[str]:
    """URLs / addresses from a JSON list, or a comma- or whitespace-separated string."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [v.strip() for v in value if v.strip()]
    text = value.strip()
    if text.startswith("["):
        return [str(v).strip() for v in json.loads(text) if str(v).strip()]
    return [part for part in text.replace(",", " ").split() if part]


def _published_at(record: RawRecord) -> datetime | None:
    try:
        value = json.loads(record.data)["published_at"]
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, KeyError, TypeError):
        return None  # let validation dead-letter it with the precise reason


# -- ingest ------------------------------------------------------------------------------------


def ingest_feeds(
    settings: Settings,
    feeds: Sequence[str],
    json_urls: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    lookback: timedelta = timedelta(hours=24),
    timeout_s: float = 30.0,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Pull RSS/Atom feeds and HTTP JSON endpoints, keep the items published in
    ``[start - lookback, end)`` and run them through the pipeline.

    Items are upserted by id, so re-running an interval (a retry or a backfill) adds nothing twice;
    the lookback picks up items that appeared in a feed after their interval's run. Every URL is
    tried; if any failed, the rest is ingested and then an error names the failed ones (the task
    fails and Airflow retries it). ``dry_run``: fetch and select, but store nothing.
    """
    import httpx

    from finsentry.sources.rss import FeedError, feed_spec, fetch_feed, fetch_json

    records: list[RawRecord] = []
    failed: dict[str, str] = {}
    with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
        for fetch, specs in ((fetch_feed, feeds), (fetch_json, json_urls)):
            for spec in specs:  # [TICKER=]URL
                try:
                    url, tickers = feed_spec(spec)
                    got = fetch(url, client, tickers=tickers)
                except (FeedError, httpx.HTTPError, ValueError) as exc:
                    failed[spec] = f"{type(exc).__name__}: {exc}"
                    log.warning("could not fetch %s: %s", spec, failed[spec])
                    continue
                records.extend(got)
    lo, hi = as_utc(start) - lookback, as_utc(end)
    selected = [r for r in records if (t := _published_at(r)) is None or lo <= t < hi]
    summary: dict[str, Any] = {
        "fetched": len(records),
        "selected": len(selected),
        "processed": 0,
        "dead_lettered": 0,
        "new_items": 0,
        "alerts": 0,
        "failed_urls": sorted(failed),
        "dry_run": dry_run,
    }
    if selected and not dry_run:
        totals = _ingest_snapshot(settings, selected)
        summary.update(processed=totals.processed, dead_lettered=totals.dead_lettered,
                       new_items=totals.new_items, alerts=totals.alert_count)
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(feeds) + len(json_urls)} URLs failed (the others were "
            f"ingested): " + "; ".join(f"{u}: {e}" for u, e in sorted(failed.items()))
        )
    return summary


def _ingest_snapshot(settings: Settings, records: list[RawRecord]) -> RunTotals:
    """Pulled feed entries through the runner; a snapshot is bounded, so its inputs are closed."""
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run
    from finsentry.sources.memory import RecordSource

    pipeline = Pipeline.from_settings(settings)
    try:
        return run(RecordSource(records, max(settings.batch_max_items, 1), name="feeds"), pipeline)
    finally:
        pipeline.close()


# -- complete days ----------------------------------------------------------------------------


def store_watermark(settings: Settings) -> datetime | None:
    """The watermark of every worker's saved progress together (``finsentry/workers.py``)."""
    from finsentry.store import open_store
    from finsentry.workers import store_watermark as merged

    store = open_store(settings.db)
    try:
        return merged(store, settings.allowed_lateness_s, settings.worker_lease_s)
    finally:
        store.close()


def last_complete_day(watermark: datetime | None) -> date | None:
    """The latest UTC day whose end the watermark has passed (reached)."""
    if watermark is None:
        return None
    return as_utc(watermark).date() - timedelta(days=1)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def announce_complete_days(settings: Settings) -> dict[str, Any]:
    """The UTC days completed since the last announcement (for the ingest DAG's asset events).

    The first announcement names only the latest complete day: the daily report keeps its own
    progress and catches up from there. A week is complete with its Sunday. The announcement is
    recorded in the store, so a re-run of the same hour announces nothing twice.
    """
    from finsentry.store import open_store

    watermark = store_watermark(settings)
    last = last_complete_day(watermark)
    days: list[date] = []
    if last is not None:
        store = open_store(settings.db)
        try:
            previous = store.get_state(ANNOUNCED_STATE_KEY)
            first = (
                date.fromisoformat(previous["last_day"]) + timedelta(days=1) if previous else last
            )
            days = _days(first, last)[-REPORT_MAX_DAYS:]
            if days:
                store.set_state(ANNOUNCED_STATE_KEY, {"last_day": days[-1].isoformat()})
        finally:
            store.close()
    return {
        "days": [d.isoformat() for d in days],
        "weeks": [d.isoformat() for d in days if d.weekday() == 6],  # Sundays end ISO weeks
        "watermark": iso(watermark) if watermark else None,
    }


# -- daily report ------------------------------------------------------------------------------


def daily_report(
    settings: Settings, day: date, out_dir: Path, recipients: Sequence[str] = ()
) -> dict[str, Any]:
    """Write the report for ``day`` into ``out_dir`` (HTML + PNGs) and e-mail it if asked."""
    from finsentry.app.reports import build_report, send_report, write_report
    from finsentry.store import open_store

    store = open_store(settings.db)
    try:
        report = build_report(store, day, settings.window_sizes_s)
    finally:
        store.close()
    paths = write_report(report, Path(out_dir) / f"finsentry-report-{day.isoformat()}.html")
    if recipients:
        send_report(report, settings, recipients)
    return {
        "day": day.isoformat(),
        "html": str(paths[0]),
        "charts": [str(p) for p in paths[1:]],
        "items": report.total.items,
        "alerts": len(report.alerts),
        "emailed": list(recipients),
    }


def report_complete_days(
    settings: Settings,
    out_dir: Path,
    recipients: Sequence[str],
    first_day: date,
    *,
    advance: bool = True,
    max_days: int = REPORT_MAX_DAYS,
) -> dict[str, Any]:
    """Report every complete UTC day not reported yet, oldest first.

    A day is complete when the store's watermark has passed its end. Progress (the last day
    reported) is kept in the store and advanced after each day, so a failed or missed run leaves
    its days to the next one; without progress the catch-up starts at ``first_day``. At most
    ``max_days`` per run. ``advance=False`` (a dry run) keeps the progress where it is.
    """
    from finsentry.store import open_store

    last = last_complete_day(store_watermark(settings))
    store = open_store(settings.db)
    try:
        done = store.get_state(REPORTED_STATE_KEY)
    finally:
        store.close()
    start = date.fromisoformat(done["last_day"]) + timedelta(days=1) if done else first_day
    pending = _days(start, last) if last is not None and last >= start else []
    reports = []
    for day in pending[:max_days]:
        reports.append(daily_report(settings, day, out_dir, recipients))
        if advance:
            store = open_store(settings.db)
            try:
                store.set_state(
                    REPORTED_STATE_KEY,
                    {"last_day": day.isoformat(), "at": iso(datetime.now(UTC))},
                )
            finally:
                store.close()
    return {
        "days": [r["day"] for r in reports],
        "reports": reports,
        "left": max(len(pending) - max_days, 0),
        "last_complete_day": last.isoformat() if last else None,
    }


# -- retention ---------------------------------------------------------------------------------


def apply_retention(settings: Settings, keep_days: float, now: datetime) -> dict[str, Any]:
    """Delete raw items published more than ``keep_days`` before ``now``, and dead letters
    received before then; windows are kept."""
    from finsentry.store import open_store

    if keep_days <= 0:
        raise ValueError("keep_days must be positive (days of raw items to keep)")
    cutoff = as_utc(now) - timedelta(days=keep_days)
    store = open_store(settings.db)
    try:
        deleted = store.delete_items_before(cutoff)
        dead = store.delete_dead_letters_before(cutoff)
    finally:
        store.close()
    return {"deleted": deleted, "dead_letters_deleted": dead, "cutoff": iso(cutoff)}


# -- outbox --------------------------------------------------------------------------------------


def drain_outbox(settings: Settings, max_seconds: float = 240.0) -> dict[str, Any]:
    """Send the due alert notifications once (as ``finsentry deliver`` does): backoff, attempt
    limit and idempotency keys as in the pipeline's own sender. Failures stay in the outbox."""
    from finsentry.alerts.delivery import drain_outbox as drain

    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive (seconds one drain may send for)")
    return drain(settings, max_seconds).to_json()
