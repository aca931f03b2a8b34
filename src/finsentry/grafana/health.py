"""The pipeline-health dashboard: throughput, end-to-end lag, dead letters, late items, the alert
outbox and the model (version, scoring throughput, score distribution this week against last).

Health rows are stamped with wall-clock time (``batches.flushed_at``, ``dead_letters.received_at``,
``notifications.created_at``). Thresholds come from :data:`finsentry.grafana.alerting.LIMITS`,
the same numbers the Grafana alert rules fire on.
"""

from __future__ import annotations

from finsentry.grafana.alerting import LIMITS
from finsentry.grafana.model import Dashboard, Panel, Query, QueryVariable, Row, num, text, time_col
from finsentry.grafana.panels import (
    HEALTH_UID,
    OVERVIEW_UID,
    RECORDS_PER_S,
    SHARE_RANGE,
    TABLE_OPTIONS,
    THRESHOLD_LINES,
    TICKER_UID,
    TIMESERIES_OPTIONS,
    alerts_annotation,
    any_of,
    dash_link,
    stat,
    thresholds,
)

SCORE_BUCKETS = 10


def _score_distribution() -> Query:
    """Share of items per score bucket in the 7 days up to the range end, and the 7 before."""
    width = 2 / SCORE_BUCKETS
    return Query(
        "WITH scored AS (\n"
        "  SELECT published_at >= $__timeTo()::timestamptz - interval '7 days' AS this_week,\n"
        f"    LEAST(width_bucket(score, -1, 1, {SCORE_BUCKETS}), {SCORE_BUCKETS}) AS bucket\n"
        "  FROM items\n"
        "  WHERE published_at >= $__timeTo()::timestamptz - interval '14 days'\n"
        "    AND published_at < $__timeTo()::timestamptz\n"
        "), shares AS (\n"
        "  SELECT bucket,\n"
        "    COUNT(*) FILTER (WHERE this_week)::float8\n"
        "      / NULLIF(SUM(COUNT(*) FILTER (WHERE this_week)) OVER (), 0) AS this_week,\n"
        "    COUNT(*) FILTER (WHERE NOT this_week)::float8\n"
        "      / NULLIF(SUM(COUNT(*) FILTER (WHERE NOT this_week)) OVER (), 0) AS last_week\n"
        "  FROM scored GROUP BY bucket\n"
        ")\n"
        f"SELECT to_char(-1 + (g - 1) * {width}, 'FM0.0') || ' .. '\n"
        f"    || to_char(-1 + g * {width}, 'FM0.0') AS score,\n"
        "  COALESCE(s.this_week, 0) AS this_week, COALESCE(s.last_week, 0) AS last_week\n"
        f"FROM generate_series(1, {SCORE_BUCKETS}) AS g LEFT JOIN shares s ON s.bucket = g\n"
        "ORDER BY g",
        "table",
        (text("score"), num("this_week"), num("last_week")),
    )


def health() -> Dashboard:
    """Pipeline health: throughput, end-to-end lag, scoring time, dead letters, late items."""
    sources = any_of("source", "source")
    batches = f"FROM batches\nWHERE $__timeFilter(flushed_at) AND {sources}"
    dead = f"FROM dead_letters\nWHERE $__timeFilter(received_at) AND {sources}"
    source = QueryVariable(
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
    items: list[Panel | Row] = [
        stat(
            "Processed",
            f"SELECT COALESCE(SUM(processed), 0) AS processed\n{batches}",
            "processed",
            "Records scored and stored in the time range.",
            unit="short",
        ),
        stat(
            "Dead letters",
            f"SELECT COUNT(*) AS dead_letters\n{dead}",
            "dead_letters",
            "Records that failed validation in the time range (orange from 1, red from 100).",
            unit="short",
            thresholds=thresholds(1, 100),
            color={"mode": "thresholds"},
        ),
        stat(
            "Mean end-to-end lag",
            "SELECT SUM(lag_ms_mean * processed) / NULLIF(SUM(processed), 0) / 1000.0"
            f" AS lag_s\n{batches}",
            "lag_s",
            "Mean time from an item's publication to its durable write (the consumer lag in"
            f" time; alert above {LIMITS.lag_s:g} s).",
            unit="s",
            thresholds=thresholds(LIMITS.lag_warn_s, LIMITS.lag_s),
            color={"mode": "thresholds"},
        ),
        stat(
            "Late share",
            f"SELECT SUM(late)::float8 / NULLIF(SUM(processed), 0) AS late_share\n{batches}",
            "late_share",
            "Share of items that arrived behind the watermark.",
            thresholds=thresholds(LIMITS.late_warn_share, LIMITS.late_share),
            color={"mode": "thresholds"},
            **{**SHARE_RANGE, "decimals": 2},
        ),
        Panel(
            "timeseries",
            "Throughput",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(consumed) / ($__interval_ms / 1000.0) AS consumed_per_s,\n"
                "  SUM(processed) / ($__interval_ms / 1000.0) AS processed_per_s,\n"
                "  SUM(dead_lettered) / ($__interval_ms / 1000.0) AS dead_lettered_per_s\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (
                    time_col(),
                    num("consumed_per_s"),
                    num("processed_per_s"),
                    num("dead_lettered_per_s"),
                ),
            ),
            description="Records per second through the pipeline, by flush time.",
            unit=RECORDS_PER_S,
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "timeseries",
            "End-to-end lag",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(lag_ms_mean * processed) / NULLIF(SUM(processed), 0) / 1000.0"
                " AS mean_lag_s,\n"
                "  MAX(lag_ms_max) / 1000.0 AS max_lag_s\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("mean_lag_s"), num("max_lag_s")),
            ),
            description="Publication to durable write, mean and worst per interval; the lines"
            " mark the warning and the alert level.",
            unit="s",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
            custom=THRESHOLD_LINES,
            thresholds=thresholds(LIMITS.lag_warn_s, LIMITS.lag_s),
        ),
        Panel(
            "timeseries",
            "Dead letters by reason",
            Query(
                "SELECT $__timeGroupAlias(received_at, $__interval),\n"
                f"  reason_code AS metric, COUNT(*) AS dead_letters\n{dead}\n"
                "GROUP BY 1, 2\nORDER BY 1, 2",
                "time_series",
                (time_col(), text("metric"), num("dead_letters")),
            ),
            description="Rejected records per interval, by stable reason code.",
            unit="short",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
        ),
        Panel(
            "timeseries",
            "Dead-letter and late share",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(dead_lettered)::float8 / NULLIF(SUM(consumed), 0) AS dead_letter_share,\n"
                "  SUM(late)::float8 / NULLIF(SUM(processed), 0) AS late_share\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("dead_letter_share"), num("late_share")),
            ),
            description=(
                "Share of records read that became dead letters (alert above"
                f" {LIMITS.dead_letter_share:.0%}) and of items behind the watermark."
            ),
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
            custom=THRESHOLD_LINES,
            thresholds=thresholds(LIMITS.dead_letter_warn_share, LIMITS.dead_letter_share),
            **SHARE_RANGE,
        ),
        Panel(
            "timeseries",
            "Late and duplicate items",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(late) AS late, SUM(duplicates) AS duplicates\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("late"), num("duplicates")),
            ),
            description=(
                "Items behind the watermark (stored, counted, folded in by"
                " `finsentry db reaggregate`) and near-duplicates, per interval."
            ),
            unit="short",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "timeseries",
            "Scoring time per item",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(scoring_ms) / NULLIF(SUM(processed), 0) AS scoring_ms_per_item\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("scoring_ms_per_item")),
            ),
            description="Model time per scored item (the scoring latency).",
            unit="ms",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
            custom=THRESHOLD_LINES,
            thresholds=thresholds(LIMITS.scoring_warn_ms, LIMITS.scoring_ms),
        ),
        Panel(
            "table",
            "Sources",
            Query(
                "SELECT source, COUNT(*) AS batches, SUM(consumed) AS consumed,\n"
                "  SUM(processed) AS processed, SUM(dead_lettered) AS dead_lettered,\n"
                "  MAX(flushed_at) AS last_flush\n"
                f"{batches}\nGROUP BY source\nORDER BY source",
                "table",
                (
                    text("source"),
                    num("batches"),
                    num("consumed"),
                    num("processed"),
                    num("dead_lettered"),
                    time_col("last_flush"),
                ),
            ),
            description="Per source: batches flushed and records read = processed + dead letters.",
            options=TABLE_OPTIONS,
        ),
        Panel(
            "table",
            "Outbox",
            Query(
                "SELECT channel, status, COUNT(*) AS notifications, MAX(attempts) AS max_attempts,\n"
                "  MAX(created_at) AS last_created\n"
                "FROM notifications\nWHERE $__timeFilter(created_at)\n"
                "GROUP BY channel, status\nORDER BY channel, status",
                "table",
                (
                    text("channel"),
                    text("status"),
                    num("notifications"),
                    num("max_attempts"),
                    time_col("last_created"),
                ),
            ),
            description="Alert notifications by channel and delivery status (failed ones alert).",
            options=TABLE_OPTIONS,
        ),
        Panel(
            "table",
            "Recent dead letters",
            Query(
                "SELECT received_at AS time, reason_code, reason, source, input, position\n"
                f"{dead}\nORDER BY received_at DESC, key\nLIMIT 200",
                "table",
                (
                    time_col(),
                    text("reason_code"),
                    text("reason"),
                    text("source"),
                    text("input"),
                    num("position"),
                ),
            ),
            description="The newest rejected records and why (raw bytes stay in the store).",
            width=24,
            height=10,
            options=TABLE_OPTIONS,
        ),
        Row("Model"),
        Panel(
            "table",
            "Model versions",
            Query(
                "SELECT model, COUNT(*) AS items, MIN(ingested_at) AS first_scored,\n"
                "  MAX(ingested_at) AS last_scored\n"
                "FROM items\nWHERE $__timeFilter(ingested_at)\n"
                "GROUP BY model\nORDER BY MAX(ingested_at) DESC, model",
                "table",
                (text("model"), num("items"), time_col("first_scored"), time_col("last_scored")),
            ),
            description="The model name and version that scored the items stored in the range.",
            width=8,
            options=TABLE_OPTIONS,
        ),
        Panel(
            "timeseries",
            "Scoring throughput",
            Query(
                "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
                "  SUM(processed) / NULLIF(SUM(scoring_ms) / 1000.0, 0) AS items_per_model_s\n"
                f"{batches}\nGROUP BY 1\nORDER BY 1",
                "time_series",
                (time_col(), num("items_per_model_s")),
            ),
            description="Items scored per second of model time (batches of the interval).",
            width=8,
            unit="suffix: items/s",
            min_interval="1m",
            options=TIMESERIES_OPTIONS,
        ),
        Panel(
            "barchart",
            "Score distribution: this week vs last",
            _score_distribution(),
            description=(
                "Share of items per headline-score bucket (-1 negative .. 1 positive) in the 7"
                " days up to the end of the range, against the 7 days before: a shift can mean"
                " the news changed, or the model did."
            ),
            width=8,
            unit="percentunit",
            options={
                "xField": "score",
                "orientation": "vertical",
                "groupWidth": 0.8,
                "barWidth": 0.9,
                "showValue": "never",
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi"},
            },
        ),
    ]
    return Dashboard(
        HEALTH_UID,
        "finsentry: pipeline health",
        "Throughput, end-to-end lag, dead letters, late items, alert delivery and the model.",
        tuple(items),
        variables=(source,),
        annotations=(alerts_annotation(fired=True),),
        refresh="30s",
        time_from="now-6h",
        links=(dash_link(OVERVIEW_UID, "Overview"), dash_link(TICKER_UID, "Ticker")),
    )
