"""The types that flow between the stages, from a raw record to an alert.

Every timestamp here is timezone-aware UTC. Types are frozen dataclasses: stages build new ones
rather than mutate what they were given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from finsentry.inert import web_url

SENTIMENT_LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")


class ScopeKind(StrEnum):
    """What a window statistic or an alert is about."""

    ALL = "all"
    TICKER = "ticker"
    TOPIC = "topic"
    SOURCE = "source"


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; refuse naive ones."""
    if value.tzinfo is UTC:  # the usual case: every parsed time is converted once
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: timestamps must carry a UTC offset")
    return value.astimezone(UTC)


UNIX_MS_FROM = 1e11  # a Unix time this large is in milliseconds (in seconds it would be after 5138)


def unix_seconds(number: float) -> float:
    """Seconds since 1970 of a Unix time given in seconds or in milliseconds, told apart by size
    (what producers, APIs and exported series write)."""
    return number / 1000.0 if abs(number) >= UNIX_MS_FROM else number


def iso(value: datetime) -> str:
    """ISO-8601 in UTC with a 'Z'-free explicit offset, e.g. 2026-01-02T03:04:05+00:00."""
    return as_utc(value).isoformat()


def signed(value: float, digits: int = 2) -> str:
    """A score or tone with its sign, ``+0.42`` / ``-0.05``; one that rounds to zero is
    ``+0.00`` (never ``-0.00``)."""
    text = f"{value:+.{digits}f}"
    return f"{0.0:+.{digits}f}" if float(text) == 0.0 else text


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as a source read it, before any parsing.

    ``input`` names the independent input it came from (a file path, or ``topic/partition``): the
    watermark is kept per input. ``position`` is where it sits in that input (line number, offset).
    A Kafka record also keeps its ``key`` and its ``timestamp_ms`` (what ``id=@key`` and
    ``published_at=@timestamp`` read).
    """

    data: bytes
    source: str
    input: str
    position: int
    key: bytes | None = None
    received_at: datetime = field(default_factory=utc_now)
    timestamp_ms: int | None = None  # a Kafka record's timestamp (ms since the epoch)

    @property
    def locator(self) -> str:
        return f"{self.input}@{self.position}"


@dataclass(frozen=True, slots=True)
class NewsItem:
    """A validated, normalised news item (the input format, parsed)."""

    id: str
    published_at: datetime
    source: str
    headline: str
    body: str | None = None
    url: str | None = None
    tickers: tuple[str, ...] = ()
    lang: str = "en"
    input: str = ""
    position: int = 0

    @property
    def text(self) -> str:
        """What the models read: the headline, then the start of the body if there is one."""
        return self.headline if not self.body else f"{self.headline}. {self.body}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that failed a stage before scoring. Keyed by source + input + position."""

    raw: bytes
    reason_code: str
    reason: str
    source: str
    input: str
    position: int
    received_at: datetime = field(default_factory=utc_now)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.raw).hexdigest()[:16]
        return f"{self.source}|{self.input}|{self.position}|{digest}"


REPLAY_SOURCE = "replay"  # the batches of `finsentry dead-letters replay` (health rules skip them)

Span = tuple[int, int]  # character offsets [start, end) in a text


@dataclass(frozen=True, slots=True)
class Target:
    """Something to score a text's sentiment towards: a name (a ticker, a company) and where the
    text mentions it (character spans). No spans: the text does not name it, and the text's own
    sentiment applies."""

    name: str
    spans: tuple[Span, ...] = ()


class SentimentBasis(StrEnum):
    """Where a target's sentiment comes from."""

    ENTITY = "entity"  # scored towards the target's mention in the text
    HEADLINE = "headline"  # the text names no mention to score towards: the text's sentiment


@dataclass(frozen=True, slots=True)
class TargetSentiment:
    """The sentiment of a text towards one target (a ticker or an entity name)."""

    target: str
    negative: float
    neutral: float
    positive: float
    basis: SentimentBasis = SentimentBasis.ENTITY

    @property
    def sentiment(self) -> str:
        probs = (self.negative, self.neutral, self.positive)
        return SENTIMENT_LABELS[max(range(3), key=probs.__getitem__)]

    @property
    def score(self) -> float:
        """P(positive) - P(negative), in [-1, 1]."""
        return self.positive - self.negative

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.sentiment,
            "probs": {
                "negative": round(self.negative, 6),
                "neutral": round(self.neutral, 6),
                "positive": round(self.positive, 6),
            },
            "score": round(self.score, 6),
            "basis": str(self.basis),
        }


@dataclass(frozen=True, slots=True)
class TextScore:
    """What a model says about one text (and, when asked, towards each of its targets)."""

    negative: float
    neutral: float
    positive: float
    topic: str
    topic_prob: float
    targets: tuple[TargetSentiment, ...] = ()

    def towards(self, target: str) -> TargetSentiment:
        """The sentiment towards ``target``; the text's own when it was not scored towards it."""
        for found in self.targets:
            if found.target == target:
                return found
        return TargetSentiment(
            target, self.negative, self.neutral, self.positive, SentimentBasis.HEADLINE
        )

    @property
    def sentiment(self) -> str:
        probs = (self.negative, self.neutral, self.positive)
        return SENTIMENT_LABELS[max(range(3), key=probs.__getitem__)]

    @property
    def score(self) -> float:
        """P(positive) - P(negative), in [-1, 1]."""
        return self.positive - self.negative


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """A news item with its scores, the tickers found, and its duplicate status."""

    item: NewsItem
    scores: TextScore
    model: str
    tickers: tuple[str, ...] = ()
    novel: bool = True
    duplicate_of: str | None = None
    late: bool = False
    fingerprint: str = ""

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def published_at(self) -> datetime:
        return self.item.published_at

    def towards(self, ticker: str) -> TargetSentiment:
        """The item's sentiment towards one of its tickers (the headline's where none was scored)."""
        return self.scores.towards(ticker)


@dataclass(frozen=True, slots=True)
class WindowKey:
    size_s: int
    start: datetime
    scope_kind: ScopeKind
    scope_value: str


@dataclass(frozen=True, slots=True)
class WindowStat:
    """Counts and sums for one window and scope: merged additively, means derived.

    ``count`` and the sentiment counts cover novel items; ``duplicates`` counts the near-duplicates
    that fell in the window; ``late`` counts items that arrived behind the watermark.
    """

    size_s: int
    start: datetime
    scope_kind: ScopeKind
    scope_value: str
    count: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    score_sum: float = 0.0
    duplicates: int = 0
    late: int = 0

    @property
    def key(self) -> WindowKey:
        return WindowKey(self.size_s, self.start, self.scope_kind, self.scope_value)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.size_s)

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.count if self.count else 0.0

    @property
    def negative_share(self) -> float:
        return self.negative / self.count if self.count else 0.0

    def merge(self, other: WindowStat) -> WindowStat:
        if other.key != self.key:
            raise ValueError(f"cannot merge windows {self.key} and {other.key}")
        return WindowStat(
            self.size_s,
            self.start,
            self.scope_kind,
            self.scope_value,
            self.count + other.count,
            self.negative + other.negative,
            self.neutral + other.neutral,
            self.positive + other.positive,
            self.score_sum + other.score_sum,
            self.duplicates + other.duplicates,
            self.late + other.late,
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """One item that drove an alert."""

    id: str
    headline: str
    published_at: datetime
    score: float
    sentiment: str
    url: str | None = None
    novel: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "headline": self.headline,
            "published_at": iso(self.published_at),
            "score": round(self.score, 4),
            "sentiment": self.sentiment,
            "url": web_url(self.url),  # items stored before validation dropped other schemes
            "novel": self.novel,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            id=data["id"],
            headline=data["headline"],
            published_at=datetime.fromisoformat(data["published_at"]),
            score=float(data["score"]),
            sentiment=data["sentiment"],
            url=data.get("url"),
            novel=bool(data.get("novel", True)),
        )


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    SILENCED = "silenced"  # raised while a silence covered it: stored, never notified


@dataclass(frozen=True, slots=True)
class Alert:
    """A decision that something is wrong in one scope and window. Keyed by (rule, scope, window)."""

    rule: str
    scope_kind: ScopeKind
    scope_value: str
    metric: str
    window_start: datetime
    window_end: datetime
    fired_at: datetime
    severity: str
    observed: float
    expected: float
    evidence: tuple[Evidence, ...] = ()
    status: AlertStatus = AlertStatus.FIRING

    @property
    def id(self) -> str:
        """Stable id derived from the alert key, so a replay yields the same id."""
        key = f"{self.rule}|{self.scope_kind}|{self.scope_value}|{iso(self.window_start)}"
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def to_json(self) -> dict[str, Any]:
        """The documented ``finsentry alerts --json`` shape. Keep it stable."""
        return {
            "id": self.id,
            "rule": self.rule,
            "scope_kind": str(self.scope_kind),
            "scope_value": self.scope_value,
            "metric": self.metric,
            "window_start": iso(self.window_start),
            "window_end": iso(self.window_end),
            "fired_at": iso(self.fired_at),
            "severity": self.severity,
            "observed": self.observed,
            "expected": self.expected,
            "evidence": [e.to_json() for e in self.evidence],
        }
