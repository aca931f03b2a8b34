"""Rows <-> the pipeline's types, for both stores.

Rows are built with Python values (aware datetimes, lists, bools, dicts); each dialect adapts the
few types its driver stores differently (SQLite keeps timestamps as fixed-width ISO text and
lists/JSON as text).

PostgreSQL rejects NUL (``\\u0000``) in text and JSON; text written by either store has each NUL
replaced by U+FFFD (:func:`nul_free`), so both stores hold the same strings.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from finsentry.aggregate import WindowRow
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
    WindowStat,
)
from finsentry.store.base import BatchHealth, Notification
from finsentry.store.columns import ALERT_COLUMNS, ITEM_COLUMNS

NUL = "\x00"
NUL_REPLACEMENT = "\ufffd"


def nul_free(text: str) -> str:
    return text.replace(NUL, NUL_REPLACEMENT) if NUL in text else text


def _nul_free_opt(text: str | None) -> str | None:
    return None if text is None else nul_free(text)


def nul_free_json(value: Any) -> Any:
    """A JSON-able value with NUL replaced in every string, keys included."""
    if isinstance(value, str):
        return nul_free(value)
    if isinstance(value, dict):
        return {nul_free_json(k): nul_free_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nul_free_json(v) for v in value]
    return value


def _item_text(scored: ScoredItem) -> str:
    news = scored.item
    return "".join(
        (news.id, news.source, news.headline, news.body or "", news.url or "", news.lang,
         news.input, scored.model, scored.duplicate_of or "", scored.fingerprint,
         scored.scores.topic, *scored.tickers, *news.tickers,
         *(t.target for t in scored.scores.targets))
    )  # fmt: skip


def nul_free_item(scored: ScoredItem) -> ScoredItem:
    """The item itself when it holds no NUL (the usual case), else a copy without."""
    if NUL not in _item_text(scored):
        return scored
    news = scored.item
    clean_news = replace(
        news, id=nul_free(news.id), source=nul_free(news.source),
        headline=nul_free(news.headline), body=_nul_free_opt(news.body),
        url=_nul_free_opt(news.url), lang=nul_free(news.lang), input=nul_free(news.input),
        tickers=tuple(nul_free(t) for t in news.tickers),
    )  # fmt: skip
    targets = tuple(replace(t, target=nul_free(t.target)) for t in scored.scores.targets)
    return replace(
        scored, item=clean_news,
        scores=replace(scored.scores, topic=nul_free(scored.scores.topic), targets=targets),
        model=nul_free(scored.model), tickers=tuple(nul_free(t) for t in scored.tickers),
        duplicate_of=_nul_free_opt(scored.duplicate_of), fingerprint=nul_free(scored.fingerprint),
    )  # fmt: skip


def nul_free_dead_letter(dead: DeadLetter) -> DeadLetter:
    """Raw bytes are kept as they came (bytea holds NUL); only the text columns change."""
    if NUL not in dead.reason_code + dead.reason + dead.source + dead.input:
        return dead
    return replace(
        dead, reason_code=nul_free(dead.reason_code), reason=nul_free(dead.reason),
        source=nul_free(dead.source), input=nul_free(dead.input),
    )  # fmt: skip


# --- items ---------------------------------------------------------------------------------------


def item_values(scored: ScoredItem, ingested_at: datetime) -> dict[str, Any]:
    news, scores = scored.item, scored.scores
    return {
        "id": news.id, "published_at": news.published_at, "ingested_at": ingested_at,
        "source": news.source, "headline": news.headline, "body": news.body, "url": news.url,
        "lang": news.lang, "tickers": list(scored.tickers), "input_tickers": list(news.tickers),
        "sentiment": scores.sentiment, "p_negative": scores.negative,
        "p_neutral": scores.neutral, "p_positive": scores.positive, "score": scores.score,
        "topic": scores.topic, "topic_prob": scores.topic_prob, "model": scored.model,
        "novel": scored.novel, "duplicate_of": scored.duplicate_of, "late": scored.late,
        "input": news.input, "position": news.position, "fingerprint": scored.fingerprint,
        "ticker_sentiment": ticker_sentiment_json(scored),
    }  # fmt: skip


def ticker_sentiment_json(scored: ScoredItem) -> str:
    """The per-ticker sentiment as stored in ``items.ticker_sentiment`` (what the scorer said;
    a ticker missing there takes the headline's sentiment, on reading as on writing)."""
    targets = scored.scores.targets
    if all(_VERBATIM.fullmatch(t.target) and _finite(t) for t in targets):  # the usual case
        return "[" + ",".join(
            f'["{t.target}",{t.negative!r},{t.neutral!r},{t.positive!r},"{t.basis.value}"]'
            for t in targets
        ) + "]"  # fmt: skip
    rows = [[t.target, t.negative, t.neutral, t.positive, str(t.basis)] for t in targets]
    return json.dumps(rows, separators=(",", ":"))


# Printable ASCII but '"' and '\': what json.dumps writes as it is (no escape).
_VERBATIM = re.compile(r"[ !#-\[\]-~]*")


def json_strings(values: Sequence[str]) -> str:
    """``json.dumps(list(values))``, without the encoder for strings it would write as they are
    (tickers: two of these per stored item)."""
    if all(_VERBATIM.fullmatch(v) for v in values):
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"
    return json.dumps(list(values))


def _finite(t: TargetSentiment) -> bool:
    return (
        type(t.negative) is float and type(t.neutral) is float and type(t.positive) is float
        and math.isfinite(t.negative + t.neutral + t.positive)
    )  # fmt: skip


def targets_from_json(text: str | None) -> tuple[TargetSentiment, ...]:
    return tuple(
        TargetSentiment(str(r[0]), float(r[1]), float(r[2]), float(r[3]), SentimentBasis(r[4]))
        for r in json.loads(text or "[]")
    )


def scored_from_row(row: Sequence[Any]) -> ScoredItem:
    """A ScoredItem from a row selected with ``items_select`` (already Python-typed)."""
    v = dict(zip(ITEM_COLUMNS, row, strict=True))
    news = NewsItem(
        id=v["id"], published_at=v["published_at"], source=v["source"], headline=v["headline"],
        body=v["body"], url=v["url"], tickers=tuple(v["input_tickers"]), lang=v["lang"],
        input=v["input"], position=int(v["position"]),
    )  # fmt: skip
    scores = TextScore(
        float(v["p_negative"]), float(v["p_neutral"]), float(v["p_positive"]), v["topic"],
        float(v["topic_prob"]), targets_from_json(v["ticker_sentiment"]),
    )  # fmt: skip
    return ScoredItem(
        item=news, scores=scores, model=v["model"], tickers=tuple(v["tickers"]),
        novel=bool(v["novel"]), duplicate_of=v["duplicate_of"], late=bool(v["late"]),
        fingerprint=v["fingerprint"],
    )  # fmt: skip


def ticker_rows(scored: ScoredItem) -> list[tuple[Any, ...]]:
    """``item_tickers`` rows (``TICKER_COLUMNS``): the sentiment towards each ticker (the
    headline's where the text names no mention of it)."""
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


# --- windows -------------------------------------------------------------------------------------


def window_values(stat: WindowStat) -> WindowRow:
    return (
        stat.size_s, stat.start, stat.end, stat.scope_kind.value, stat.scope_value, stat.count,
        stat.negative, stat.neutral, stat.positive, stat.score_sum, stat.duplicates, stat.late,
    )  # fmt: skip


_SCOPE_KINDS = {str(kind): kind for kind in ScopeKind}  # a dict lookup: cheaper than ScopeKind(s)


def window_from_row(row: Sequence[Any]) -> WindowStat:
    """From ``WINDOW_COLUMNS`` minus ``window_end`` (start already a datetime)."""
    size, start, kind, value, count, neg, neu, pos, ssum, dup, late = row
    return WindowStat(
        int(size), start, _SCOPE_KINDS[kind], value, int(count), int(neg), int(neu), int(pos),
        float(ssum), int(dup), int(late),
    )  # fmt: skip


# --- alerts, dead letters, outbox, batches -------------------------------------------------------


def alert_values(alert: Alert) -> dict[str, Any]:
    return {
        "id": nul_free(alert.id), "rule": alert.rule, "scope_kind": str(alert.scope_kind),
        "scope_value": nul_free(alert.scope_value), "metric": alert.metric,
        "window_start": alert.window_start, "window_end": alert.window_end,
        "fired_at": alert.fired_at, "severity": alert.severity, "observed": alert.observed,
        "expected": alert.expected,
        "evidence": nul_free_json([e.to_json() for e in alert.evidence]),
        "status": str(alert.status),
    }  # fmt: skip


def alert_from_row(row: Sequence[Any]) -> Alert:
    """From ``ALERT_COLUMNS`` with times as datetimes and evidence as decoded JSON."""
    v = dict(zip(ALERT_COLUMNS, row, strict=True))
    return Alert(
        rule=v["rule"], scope_kind=ScopeKind(v["scope_kind"]), scope_value=v["scope_value"],
        metric=v["metric"], window_start=v["window_start"], window_end=v["window_end"],
        fired_at=v["fired_at"], severity=v["severity"], observed=float(v["observed"]),
        expected=float(v["expected"]),
        evidence=tuple(Evidence.from_json(e) for e in v["evidence"]),
        status=AlertStatus(v["status"]),
    )  # fmt: skip


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
        n.key, n.alert_id, nul_free(n.channel), nul_free_json(n.payload), n.status, n.attempts,
        n.next_attempt_at, _nul_free_opt(n.last_error), created_at,
    )  # fmt: skip


def notification_from_row(row: Sequence[Any]) -> Notification:
    _key, alert_id, channel, payload, status, attempts, next_at, error, _created = row
    return Notification(alert_id, channel, payload, status, int(attempts), next_at, error)


def batch_values(health: BatchHealth, flushed_at: datetime) -> tuple[Any, ...]:
    return (
        flushed_at, nul_free(health.source), health.consumed, health.processed,
        health.dead_lettered, health.duplicates, health.late, health.lag_ms_mean,
        health.lag_ms_max, health.scoring_ms,
    )  # fmt: skip
