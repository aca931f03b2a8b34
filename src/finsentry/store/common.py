"""What the SQLite and PostgreSQL stores share: column lists, row <-> type conversion, SQL text.

Rows are built here with Python values (aware datetimes, lists, bools, dicts); each backend adapts
the few types its driver stores differently (SQLite keeps timestamps as fixed-width ISO text and
lists/JSON as text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from finsentry.aggregate import window_deltas, window_start
from finsentry.schema import (
    Alert,
    AlertStatus,
    DeadLetter,
    Evidence,
    NewsItem,
    ScopeKind,
    ScoredItem,
    SentimentBasis,
    TargetSentiment,
    TextScore,
    WindowKey,
    WindowStat,
    iso,
)
from finsentry.store.base import BatchHealth, Notification


class StoreUnavailableError(RuntimeError):
    """The store could not be reached or written after retries; nothing was committed."""


RETENTION_KEY = "retention.before"  # pipeline_state: raw items before this time were deleted


ITEM_COLUMNS: tuple[str, ...] = (
    "id", "published_at", "ingested_at", "source", "headline", "body", "url", "lang", "tickers",
    "input_tickers", "sentiment", "p_negative", "p_neutral", "p_positive", "score", "topic",
    "topic_prob", "model", "novel", "duplicate_of", "late", "input", "position", "fingerprint",
    "ticker_sentiment",
)  # fmt: skip
ITEM_TIME_COLUMNS = frozenset({"published_at", "ingested_at"})
ITEM_LIST_COLUMNS = frozenset({"tickers", "input_tickers"})

WINDOW_COLUMNS: tuple[str, ...] = (
    "window_size_s", "window_start", "window_end", "scope_kind", "scope_value", "count",
    "negative", "neutral", "positive", "score_sum", "duplicates", "late",
)  # fmt: skip
WINDOW_KEY = ("window_size_s", "window_start", "scope_kind", "scope_value")
WINDOW_SUMS = ("count", "negative", "neutral", "positive", "score_sum", "duplicates", "late")

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


# --- SQL text ----------------------------------------------------------------------------------


def insert_sql(table: str, columns: Sequence[str], placeholder: str, tail: str = "") -> str:
    """``INSERT INTO table (cols) VALUES (?, ...) tail`` with the driver's placeholder."""
    marks = ", ".join([placeholder] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {tail}".strip()


def window_upsert_tail() -> str:
    """The additive merge of window deltas: existing counts and sums plus the delta's."""
    sums = ", ".join(f"{c} = window_stats.{c} + excluded.{c}" for c in WINDOW_SUMS)
    return f"ON CONFLICT ({', '.join(WINDOW_KEY)}) DO UPDATE SET {sums}"


def items_select(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in ITEM_COLUMNS)


# --- rows --------------------------------------------------------------------------------------


def item_values(scored: ScoredItem, ingested_at: datetime) -> dict[str, Any]:
    news, scores = scored.item, scored.scores
    return {
        "id": news.id,
        "published_at": news.published_at,
        "ingested_at": ingested_at,
        "source": news.source,
        "headline": news.headline,
        "body": news.body,
        "url": news.url,
        "lang": news.lang,
        "tickers": list(scored.tickers),
        "input_tickers": list(news.tickers),
        "sentiment": scores.sentiment,
        "p_negative": scores.negative,
        "p_neutral": scores.neutral,
        "p_positive": scores.positive,
        "score": scores.score,
        "topic": scores.topic,
        "topic_prob": scores.topic_prob,
        "model": scored.model,
        "novel": scored.novel,
        "duplicate_of": scored.duplicate_of,
        "late": scored.late,
        "input": news.input,
        "position": news.position,
        "fingerprint": scored.fingerprint,
        "ticker_sentiment": ticker_sentiment_json(scored),
    }


def ticker_sentiment_json(scored: ScoredItem) -> str:
    """The per-ticker sentiment as stored in ``items.ticker_sentiment`` (what the scorer said;
    a ticker missing there takes the headline's sentiment, on reading as on writing)."""
    rows = [
        [t.target, t.negative, t.neutral, t.positive, str(t.basis)] for t in scored.scores.targets
    ]
    return json.dumps(rows, separators=(",", ":"))


def targets_from_json(text: str | None) -> tuple[TargetSentiment, ...]:
    return tuple(
        TargetSentiment(str(r[0]), float(r[1]), float(r[2]), float(r[3]), SentimentBasis(r[4]))
        for r in json.loads(text or "[]")
    )


def scored_from_row(row: Sequence[Any]) -> ScoredItem:
    """A ScoredItem from a row selected with :func:`items_select` (already Python-typed)."""
    v = dict(zip(ITEM_COLUMNS, row, strict=True))
    news = NewsItem(
        id=v["id"],
        published_at=v["published_at"],
        source=v["source"],
        headline=v["headline"],
        body=v["body"],
        url=v["url"],
        tickers=tuple(v["input_tickers"]),
        lang=v["lang"],
        input=v["input"],
        position=int(v["position"]),
    )
    scores = TextScore(
        float(v["p_negative"]),
        float(v["p_neutral"]),
        float(v["p_positive"]),
        v["topic"],
        float(v["topic_prob"]),
        targets_from_json(v["ticker_sentiment"]),
    )
    return ScoredItem(
        item=news,
        scores=scores,
        model=v["model"],
        tickers=tuple(v["tickers"]),
        novel=bool(v["novel"]),
        duplicate_of=v["duplicate_of"],
        late=bool(v["late"]),
        fingerprint=v["fingerprint"],
    )


def ticker_rows(scored: ScoredItem) -> list[tuple[Any, ...]]:
    """``item_tickers`` rows: the sentiment towards each ticker (the headline's where the text
    names no mention of it), in the table's column order."""
    rows = []
    for ticker in dict.fromkeys(scored.tickers):
        t = scored.towards(ticker)
        rows.append(
            (
                scored.id, ticker, scored.published_at, t.score, t.sentiment,
                t.negative, t.neutral, t.positive, str(t.basis),
            )
        )  # fmt: skip
    return rows


def window_values(stat: WindowStat) -> tuple[Any, ...]:
    return (
        stat.size_s, stat.start, stat.end, str(stat.scope_kind), stat.scope_value, stat.count,
        stat.negative, stat.neutral, stat.positive, stat.score_sum, stat.duplicates, stat.late,
    )  # fmt: skip


def window_from_row(row: Sequence[Any]) -> WindowStat:
    """From ``WINDOW_COLUMNS`` minus ``window_end`` (start already a datetime)."""
    size, start, kind, value, count, neg, neu, pos, ssum, dup, late = row
    return WindowStat(
        int(size), start, _SCOPE_KINDS[kind], value, int(count), int(neg), int(neu), int(pos),
        float(ssum), int(dup), int(late),
    )  # fmt: skip


_SCOPE_KINDS = {str(kind): kind for kind in ScopeKind}  # a dict lookup: cheaper than ScopeKind(s)


WINDOW_SELECT = ", ".join(c for c in WINDOW_COLUMNS if c != "window_end")


def alert_values(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "scope_kind": str(alert.scope_kind),
        "scope_value": alert.scope_value,
        "metric": alert.metric,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "fired_at": alert.fired_at,
        "severity": alert.severity,
        "observed": alert.observed,
        "expected": alert.expected,
        "evidence": [e.to_json() for e in alert.evidence],
        "status": str(alert.status),
    }


def alert_from_row(row: Sequence[Any]) -> Alert:
    """From ``ALERT_COLUMNS`` with times as datetimes and evidence as decoded JSON."""
    v = dict(zip(ALERT_COLUMNS, row, strict=True))
    return Alert(
        rule=v["rule"],
        scope_kind=ScopeKind(v["scope_kind"]),
        scope_value=v["scope_value"],
        metric=v["metric"],
        window_start=v["window_start"],
        window_end=v["window_end"],
        fired_at=v["fired_at"],
        severity=v["severity"],
        observed=float(v["observed"]),
        expected=float(v["expected"]),
        evidence=tuple(Evidence.from_json(e) for e in v["evidence"]),
        status=AlertStatus(v["status"]),
    )


def dead_letter_values(dead: DeadLetter) -> tuple[Any, ...]:
    return (
        dead.key, dead.source, dead.input, dead.position, dead.reason_code, dead.reason,
        bytes(dead.raw), dead.received_at,
    )  # fmt: skip


def dead_letter_from_row(row: Sequence[Any]) -> DeadLetter:
    _key, source, input_, position, code, reason, raw, received_at = row
    return DeadLetter(bytes(raw), code, reason, source, input_, int(position), received_at)


def notification_values(n: Notification, created_at: datetime) -> tuple[Any, ...]:
    return (
        n.key, n.alert_id, n.channel, n.payload, n.status, n.attempts, n.next_attempt_at,
        n.last_error, created_at,
    )  # fmt: skip


def notification_from_row(row: Sequence[Any]) -> Notification:
    _key, alert_id, channel, payload, status, attempts, next_at, error, _created = row
    return Notification(alert_id, channel, payload, status, int(attempts), next_at, error)


def batch_values(health: BatchHealth, flushed_at: datetime) -> tuple[Any, ...]:
    return (
        flushed_at, health.source, health.consumed, health.processed, health.dead_lettered,
        health.duplicates, health.late, health.lag_ms_mean, health.lag_ms_max, health.scoring_ms,
    )  # fmt: skip


# --- migrations --------------------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The ordered migration scripts shipped for ``sqlite`` or ``postgres``."""
    folder = resources.files("finsentry.store").joinpath("migrations", dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise RuntimeError(f"duplicate migration numbers in {dialect} migrations")
    return found


def split_retained(
    items: Sequence[ScoredItem], retained_from: datetime | None
) -> tuple[list[ScoredItem], list[DeadLetter]]:
    """Items older than the retention cut-off become dead letters instead of being stored.

    Their raw rows were deleted, so such an item cannot be told apart from a replay of one already
    counted in the windows; storing it again could count it twice.
    """
    if retained_from is None:
        return list(items), []
    keep: list[ScoredItem] = []
    dead: list[DeadLetter] = []
    for item in items:
        if item.published_at >= retained_from:
            keep.append(item)
            continue
        news = item.item
        raw = {"id": news.id, "published_at": iso(news.published_at), "source": news.source,
               "headline": news.headline, "url": news.url}  # fmt: skip
        dead.append(
            DeadLetter(
                json.dumps(raw, sort_keys=True).encode(),
                "before_retention",
                f"published before the retention cut-off {iso(retained_from)}: raw items that "
                "old were deleted, so storing it could count a replayed item twice",
                news.source,
                news.input,
                news.position,
            )
        )
    return keep, dead


def chunked(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def first_by_id(items: Sequence[ScoredItem]) -> list[ScoredItem]:
    """Drop repeated ids inside one batch (the first occurrence wins), keep order."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    return unique


# --- re-aggregation ----------------------------------------------------------------------------


def reaggregate_starts(
    since: datetime, sizes: Sequence[int], retained_from: datetime | None
) -> dict[int, datetime]:
    """Per window size, the first window start to rebuild from ``since`` on.

    Windows that begin before ``retained_from`` (raw items deleted by retention) are never rebuilt:
    their items are gone, so their stored statistics are the only record.
    """
    if not sizes:
        raise ValueError("no window sizes to re-aggregate")
    if retained_from is not None and since < retained_from:
        raise ValueError(
            f"raw items before {retained_from.isoformat()} were deleted by retention; "
            f"re-aggregate --since {retained_from.isoformat()} or later"
        )
    starts: dict[int, datetime] = {}
    for size in sorted(set(sizes)):
        start = window_start(since, size)
        if retained_from is not None and start < retained_from:
            start += timedelta(seconds=size)
        starts[size] = start
    return starts


class WindowFolder:
    """Folds stored items, chunk by chunk, into the windows that :func:`reaggregate_starts` chose."""

    def __init__(self, starts: dict[int, datetime]) -> None:
        self.starts = starts
        self._acc: dict[WindowKey, WindowStat] = {}

    def add(self, items: Sequence[ScoredItem]) -> None:
        for size, start in self.starts.items():
            chosen = [i for i in items if i.published_at >= start]
            for stat in window_deltas(chosen, [size]):
                prev = self._acc.get(stat.key)
                self._acc[stat.key] = stat if prev is None else prev.merge(stat)

    def stats(self) -> list[WindowStat]:
        return sorted(
            self._acc.values(), key=lambda s: (s.size_s, s.start, str(s.scope_kind), s.scope_value)
        )
