"""The Model row of the pipeline-health dashboard: which model versions scored the items, how fast
the model scores, and the score distribution this week against last."""

from __future__ import annotations

from finsentry.grafana.model import Panel, Query, num, text, time_col
from finsentry.grafana.panels import table, timeseries

SCORE_BUCKETS = 10
BARCHART_OPTIONS = {
    "xField": "score",
    "orientation": "vertical",
    "groupWidth": 0.8,
    "barWidth": 0.9,
    "showValue": "never",
    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
    "tooltip": {"mode": "multi"},
}


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


def _model_versions() -> Panel:
    return table(
        "Model versions",
        "SELECT model, COUNT(*) AS items, MIN(ingested_at) AS first_scored,\n"
        "  MAX(ingested_at) AS last_scored\n"
        "FROM items\nWHERE $__timeFilter(ingested_at)\n"
        "GROUP BY model\nORDER BY MAX(ingested_at) DESC, model",
        (text("model"), num("items"), time_col("first_scored"), time_col("last_scored")),
        "The model name and version that scored the items stored in the range.",
        width=8,
    )


def _scoring_throughput(batches: str) -> Panel:
    return timeseries(
        "Scoring throughput",
        "SELECT $__timeGroupAlias(flushed_at, $__interval),\n"
        "  SUM(processed) / NULLIF(SUM(scoring_ms) / 1000.0, 0) AS items_per_model_s\n"
        f"{batches}\nGROUP BY 1\nORDER BY 1",
        (time_col(), num("items_per_model_s")),
        "Items scored per second of model time (batches of the interval).",
        width=8,
        unit="suffix: items/s",
        min_interval="1m",
    )


def _score_shift() -> Panel:
    return Panel(
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
        options=BARCHART_OPTIONS,
    )


def model_panels(batches: str) -> list[Panel]:
    """The Model row's panels; ``batches`` is the FROM/WHERE over the selected sources' batches."""
    return [_model_versions(), _scoring_throughput(batches), _score_shift()]
