"""The pipeline-health dashboard: throughput, end-to-end lag, dead letters, late items, the alert
outbox and the model (:mod:`.health_model`: version, scoring throughput, score distribution).

Health rows are stamped with wall-clock time (``batches.flushed_at``, ``dead_letters.received_at``,
``notifications.created_at``). Thresholds come from :data:`finsentry.grafana.alerting.LIMITS`,
the same numbers the Grafana alert rules fire on.
"""

from __future__ import annotations

from finsentry.grafana.alerting import LIMITS
from finsentry.grafana.health_model import model_panels
from finsentry.grafana.model import Dashboard, Panel, Query, QueryVariable, Row, num, text, time_col
from finsentry.grafana.panels import (
    DENSE_BARS,
    HEALTH_UID,
    OVERVIEW_UID,
    RECORDS_PER_S,
    SHARE_RANGE,
    THRESHOLD_LINES,
    TICKER_UID,
    alerts_annotation,
    any_of,
    dash_link,
    stat,
    table,
    thresholds,
    timeseries,
)

# Panels read the selected sources' batches and dead letters in the range through these.
BATCHES = f"FROM batches\nWHERE $__timeFilter(flushed_at) AND {any_of('source', 'source')}"
DEAD = f"FROM dead_letters\nWHERE $__timeFilter(received_at) AND {any_of('source', 'source')}"
MEAN_LAG_S = "SUM(lag_ms_mean * processed) / NULLIF(SUM(processed), 0) / 1000.0"
BY_INTERVAL = "\nGROUP BY 1\nORDER BY 1"
ALERTING = {"color": {"mode": "thresholds"}}


def _source_variable() -> QueryVariable:
    return QueryVariable(
        "source",
        "Pipeline source",
        Query(
            "SELECT source\nFROM batches\nWHERE $__timeFilter(flushed_at)\n"
            "GROUP BY source\nORDER BY SUM(consumed) DESC, source",
            "table",
            (text("source"),),
        ),
        description="Sources the pipeline read from in the time range (file, kafka, feeds ...),"
        " busiest first.",
    )


def _stats() -> list[Panel]:
    """The top row: processed, dead letters, mean lag and late share, with alert colours."""
    return [
        stat(
            "Processed",
            f"SELECT COALESCE(SUM(processed), 0) AS processed\n{BATCHES}",
            "processed",
            "Records scored and stored in the time range.",
            unit="short",
        ),
        stat(
            "Dead letters",
            f"SELECT COUNT(*) AS dead_letters\n{DEAD}",
            "dead_letters",
            "Records that failed validation in the time range (orange from 1, red from 100).",
            unit="short",
            thresholds=thresholds(1, 100),
            **ALERTING,
        ),
        stat(
            "Mean end-to-end lag",
            f"SELECT {MEAN_LAG_S} AS lag_s\n{BATCHES}",
            "lag_s",
            "Mean time from an item's publication to its durable write (the consumer lag in"
            f" time; alert above {LIMITS.lag_s:g} s).",
            unit="s",
            thresholds=thresholds(LIMITS.lag_warn_s, LIMITS.lag_s),
            **ALERTING,
        ),
        stat(
            "Late share",
            f"SELECT SUM(late)::float8 / NULLIF(SUM(processed), 0) AS late_share\n{BATCHES}",
            "late_share",
            "Share of items that arrived behind the watermark.",
            thresholds=thresholds(LIMITS.late_warn_share, LIMITS.late_share),
            **ALERTING,
            **{**SHARE_RANGE, "decimals": 2},
        ),
    ]


def _throughput() -> Panel:
    return timeseries(
        "Throughput",
        "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
        "  SUM(consumed) / ($__interval_ms / 1000.0) AS consumed_per_s,\n"
        "  SUM(processed) / ($__interval_ms / 1000.0) AS processed_per_s,\n"
        "  SUM(dead_lettered) / ($__interval_ms / 1000.0) AS dead_lettered_per_s\n"
        f"{BATCHES}{BY_INTERVAL}",
        (time_col(), num("consumed_per_s"), num("processed_per_s"), num("dead_lettered_per_s")),
        "Records per second through the pipeline, by flush time.",
        unit=RECORDS_PER_S,
        min_interval="1m",
    )


def _lag() -> Panel:
    return timeseries(
        "End-to-end lag",
        "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
        f"  {MEAN_LAG_S} AS mean_lag_s,\n"
        f"  MAX(lag_ms_max) / 1000.0 AS max_lag_s\n{BATCHES}{BY_INTERVAL}",
        (time_col(), num("mean_lag_s"), num("max_lag_s")),
        "Publication to durable write, mean and worst per interval; the lines"
        " mark the warning and the alert level.",
        unit="s",
        min_interval="1m",
        custom=THRESHOLD_LINES,
        thresholds=thresholds(LIMITS.lag_warn_s, LIMITS.lag_s),
    )


def _dead_letters_by_reason() -> Panel:
    return timeseries(
        "Dead letters by reason",
        "SELECT $__timeGroupAlias(received_at, $__interval),\n"
        f"  reason_code AS metric, COUNT(*) AS dead_letters\n{DEAD}\n"
        "GROUP BY 1, 2\nORDER BY 1, 2",
        (time_col(), text("metric"), num("dead_letters")),
        "Rejected records per interval, by stable reason code.",
        unit="short",
        min_interval="1m",
        custom=DENSE_BARS,
    )


def _dead_letter_and_late_share() -> Panel:
    return timeseries(
        "Dead-letter and late share",
        "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
        "  SUM(dead_lettered)::float8 / NULLIF(SUM(consumed), 0) AS dead_letter_share,\n"
        "  SUM(late)::float8 / NULLIF(SUM(processed), 0) AS late_share\n"
        f"{BATCHES}{BY_INTERVAL}",
        (time_col(), num("dead_letter_share"), num("late_share")),
        "Share of records read that became dead letters (alert above"
        f" {LIMITS.dead_letter_share:.0%}) and of items behind the watermark.",
        min_interval="1m",
        custom=THRESHOLD_LINES,
        thresholds=thresholds(LIMITS.dead_letter_warn_share, LIMITS.dead_letter_share),
        **SHARE_RANGE,
    )


def _late_and_duplicates() -> Panel:
    return timeseries(
        "Late and duplicate items",
        "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
        f"  SUM(late) AS late, SUM(duplicates) AS duplicates\n{BATCHES}{BY_INTERVAL}",
        (time_col(), num("late"), num("duplicates")),
        "Items behind the watermark (stored, counted, folded in by"
        " `finsentry db reaggregate`) and near-duplicates, per interval.",
        unit="short",
        min_interval="1m",
    )


def _scoring_time() -> Panel:
    return timeseries(
        "Scoring time per item",
        "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
        "  SUM(scoring_ms) / NULLIF(SUM(processed), 0) AS scoring_ms_per_item\n"
        f"{BATCHES}{BY_INTERVAL}",
        (time_col(), num("scoring_ms_per_item")),
        "Model time per scored item (the scoring latency).",
        unit="ms",
        min_interval="1m",
        custom=THRESHOLD_LINES,
        thresholds=thresholds(LIMITS.scoring_warn_ms, LIMITS.scoring_ms),
    )


def _sources() -> Panel:
    return table(
        "Sources",
        "SELECT source, COUNT(*) AS batches, SUM(consumed) AS consumed,\n"
        "  SUM(processed) AS processed, SUM(dead_lettered) AS dead_lettered,\n"
        f"  MAX(flushed_at) AS last_flush\n{BATCHES}\nGROUP BY source\nORDER BY source",
        (
            text("source"),
            num("batches"),
            num("consumed"),
            num("processed"),
            num("dead_lettered"),
            time_col("last_flush"),
        ),
        "Per source: batches flushed and records read = processed + dead letters.",
    )


def _outbox() -> Panel:
    return table(
        "Outbox",
        "SELECT channel, status, COUNT(*) AS notifications, MAX(attempts) AS max_attempts,\n"
        "  MAX(created_at) AS last_created\n"
        "FROM notifications\nWHERE $__timeFilter(created_at)\n"
        "GROUP BY channel, status\nORDER BY channel, status",
        (
            text("channel"),
            text("status"),
            num("notifications"),
            num("max_attempts"),
            time_col("last_created"),
        ),
        "Alert notifications by channel and delivery status (failed ones alert).",
    )


def _recent_dead_letters() -> Panel:
    return table(
        "Recent dead letters",
        "SELECT received_at AS time, reason_code, reason, source, input, position\n"
        f"{DEAD}\nORDER BY received_at DESC, key\nLIMIT 200",
        (
            time_col(),
            text("reason_code"),
            text("reason"),
            text("source"),
            text("input"),
            num("position"),
        ),
        "The newest rejected records and why (raw bytes stay in the store).",
        width=24,
        height=10,
    )


def _pipeline_panels() -> list[Panel]:
    """Throughput, lag, dead letters, late items and scoring time, then the tables."""
    return [
        _throughput(),
        _lag(),
        _dead_letters_by_reason(),
        _dead_letter_and_late_share(),
        _late_and_duplicates(),
        _scoring_time(),
        _sources(),
        _outbox(),
        _recent_dead_letters(),
    ]


def health() -> Dashboard:
    """Pipeline health: throughput, end-to-end lag, scoring time, dead letters, late items."""
    items: list[Panel | Row] = [
        *_stats(),
        *_pipeline_panels(),
        Row("Model"),
        *model_panels(BATCHES),
    ]
    return Dashboard(
        HEALTH_UID,
        "finsentry: pipeline health",
        "Throughput, end-to-end lag, dead letters, late items, alert delivery and the model.",
        tuple(items),
        variables=(_source_variable(),),
        annotations=(alerts_annotation(fired=True),),
        refresh="30s",
        time_from="now-6h",
        links=(dash_link(OVERVIEW_UID, "Overview"), dash_link(TICKER_UID, "Ticker")),
    )
