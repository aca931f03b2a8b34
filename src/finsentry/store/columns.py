"""The tables' column lists and the SQL text both stores share.

Shared SQL uses ``?`` placeholders; the PostgreSQL dialect turns them into ``%s``.
"""

from __future__ import annotations

from collections.abc import Sequence

ITEM_COLUMNS: tuple[str, ...] = (
    "id", "published_at", "ingested_at", "source", "headline", "body", "url", "lang", "tickers",
    "input_tickers", "sentiment", "p_negative", "p_neutral", "p_positive", "score", "topic",
    "topic_prob", "model", "novel", "duplicate_of", "late", "input", "position", "fingerprint",
    "ticker_sentiment",
)  # fmt: skip

TICKER_COLUMNS: tuple[str, ...] = (
    "item_id", "ticker", "published_at", "score", "sentiment", "p_negative", "p_neutral",
    "p_positive", "basis",
)  # fmt: skip

WINDOW_COLUMNS: tuple[str, ...] = (
    "window_size_s", "window_start", "window_end", "scope_kind", "scope_value", "count",
    "negative", "neutral", "positive", "score_sum", "duplicates", "late",
)  # fmt: skip
WINDOW_KEY = ("window_size_s", "window_start", "scope_kind", "scope_value")
WINDOW_SUMS = ("count", "negative", "neutral", "positive", "score_sum", "duplicates", "late")
WINDOW_SELECT = ", ".join(c for c in WINDOW_COLUMNS if c != "window_end")

ALERT_COLUMNS: tuple[str, ...] = (
    "id", "rule", "scope_kind", "scope_value", "metric", "window_start", "window_end", "fired_at",
    "severity", "observed", "expected", "evidence", "status",
)  # fmt: skip
DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "key", "source", "input", "position", "reason_code", "reason", "raw", "received_at",
)  # fmt: skip
NOTIFICATION_COLUMNS: tuple[str, ...] = (
    "key", "alert_id", "channel", "payload", "status", "attempts", "next_attempt_at",
    "last_error", "created_at",
)  # fmt: skip
BATCH_COLUMNS: tuple[str, ...] = (
    "flushed_at", "source", "consumed", "processed", "dead_lettered", "duplicates", "late",
    "lag_ms_mean", "lag_ms_max", "scoring_ms",
)  # fmt: skip

NOTIFICATION_STATES = ("pending", "delivered", "failed")


def insert_sql(table: str, columns: Sequence[str], placeholder: str = "?", tail: str = "") -> str:
    """``INSERT INTO table (cols) VALUES (?, ...) tail`` with the driver's placeholder."""
    marks = ", ".join([placeholder] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {tail}".strip()


def window_upsert_tail() -> str:
    """The additive merge of window deltas: existing counts and sums plus the delta's."""
    sums = ", ".join(f"{c} = window_stats.{c} + excluded.{c}" for c in WINDOW_SUMS)
    return f"ON CONFLICT ({', '.join(WINDOW_KEY)}) DO UPDATE SET {sums}"


def items_select(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in ITEM_COLUMNS)


def chunked(values: Sequence[object], size: int) -> list[Sequence[object]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
