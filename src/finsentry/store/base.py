"""The store's roles: small protocols that every backend (SQLite embedded, PostgreSQL) satisfies.

A caller asks for the role it uses: the pipeline a :class:`BatchSink`, the detectors a
:class:`WindowReader`, the alert engine an :class:`AlertLedger`, the sender an :class:`Outbox`;
:class:`Store` is their union, what ``open_store`` returns.

The pipeline writes one :class:`BatchWrite` per micro-batch in ONE transaction: items are upserted by
id, and only the items that were new in this transaction contribute window deltas (additive merge
keyed by window size, start, scope kind and value), so a replay changes nothing. Dead letters are
keyed by :attr:`DeadLetter.key`; alerts by (rule, scope kind, scope value, window start);
notifications by (alert id, channel).

Tables (both backends; Grafana's SQL reads the PostgreSQL ones):

- ``items``: id PK, published_at, ingested_at, source, headline, body, url, lang, tickers (JSON text in
  SQLite / text[] in PostgreSQL), sentiment, p_negative, p_neutral, p_positive, score, topic,
  topic_prob, model, novel, duplicate_of, late, input, position, fingerprint, marked_at (when
  another copy last changed its duplicate marks)
- ``item_tickers``: item_id, ticker, published_at, score, sentiment (one row per item and ticker)
- ``window_stats``: window_size_s, window_start, window_end, scope_kind, scope_value, count,
  negative, neutral, positive, score_sum, duplicates, late; PK (size, start, kind, value)
- ``alerts``: id PK, rule, scope_kind, scope_value, metric, window_start, window_end, fired_at,
  severity, observed, expected, evidence (JSON), status, resolved_at; UNIQUE (rule, kind, value, start)
- ``dead_letters``: key PK, source, input, position, reason_code, reason, raw (bytes), received_at
- ``notifications`` (the outbox): key PK, alert_id, channel, payload (JSON), status
  (pending|delivered|failed), attempts, next_attempt_at, last_error, created_at, delivered_at
- ``batches``: id, flushed_at, source, consumed, processed, dead_lettered, duplicates, late,
  lag_ms_mean, lag_ms_max, scoring_ms (pipeline health for Grafana)
- ``pipeline_state``: key PK, value (JSON): each worker's watermark (``watermark/<worker>``),
  detector progress
- ``silences``: id PK, scope_kind, scope_value, rule (nullable = all rules), starts_at, ends_at,
  comment, created_by, created_at, expired_at (wall-clock times; replaced ``mutes``)
- ``schema_version``: version, applied_at
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from finsentry.schema import Alert, DeadLetter, ScopeKind, ScoredItem, WindowStat

if TYPE_CHECKING:
    from finsentry.dedup import Revision
    from finsentry.store.check import Problem


class StoreUnavailableError(RuntimeError):
    """The store could not be reached or written after retries; nothing was committed."""


@dataclass(frozen=True, slots=True)
class BatchHealth:
    """Per-batch pipeline health, stored in ``batches`` for the health dashboard."""

    source: str
    consumed: int
    processed: int
    dead_lettered: int
    duplicates: int = 0
    late: int = 0
    lag_ms_mean: float = 0.0
    lag_ms_max: float = 0.0
    scoring_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """Everything one micro-batch makes durable, in one transaction."""

    items: Sequence[ScoredItem]
    dead_letters: Sequence[DeadLetter]
    window_sizes_s: Sequence[int]
    state: dict[str, Any] = field(default_factory=dict)  # pipeline_state upserts
    health: BatchHealth | None = None
    # stored items whose duplicate marks an earlier copy changed (see dedup.py): rewritten, and
    # their window contributions moved, in the same transaction
    revisions: Sequence[Revision] = ()


@dataclass(frozen=True, slots=True)
class BatchWriteResult:
    new_items: int
    new_dead_letters: int
    windows_touched: int


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbox row: an alert to deliver on one channel (email, webhook:<url>)."""

    alert_id: str
    channel: str
    payload: dict[str, Any]
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None

    @property
    def key(self) -> str:
        return f"{self.alert_id}:{self.channel}"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbox row as ``finsentry outbox list`` shows it."""

    notification: Notification
    created_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Silence:
    """Alerts on one scope (one rule, or every rule when ``rule`` is None) raised between
    ``starts_at`` and ``ends_at`` (or ``expired_at`` when expired early) are stored as silenced
    and not notified. The times are wall-clock time, not the event time of windows."""

    id: str
    scope_kind: str
    scope_value: str
    rule: str | None
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = ""
    created_at: datetime | None = None
    expired_at: datetime | None = None

    @property
    def end(self) -> datetime:
        """When the silence stops covering alerts: its end, or when it was expired."""
        return self.ends_at if self.expired_at is None else min(self.ends_at, self.expired_at)

    def state(self, at: datetime) -> str:
        """``pending`` (not started), ``active`` or ``expired`` at a wall-clock time."""
        if at < self.starts_at:
            return "pending"
        return "active" if at < self.end else "expired"


@runtime_checkable
class BatchSink(Protocol):
    """Where the pipeline makes a micro-batch durable."""

    def write_batch(self, batch: BatchWrite) -> BatchWriteResult:
        """Upsert items + window deltas of the new ones + dead letters + state, atomically."""


@runtime_checkable
class PipelineState(Protocol):
    """Small JSON values the pipeline keeps between runs (watermarks, detector progress)."""

    def get_state(self, key: str) -> Any:
        """A ``pipeline_state`` value (decoded JSON), or None."""

    def set_state(self, key: str, value: Any) -> None: ...

    def delete_state(self, key: str) -> None: ...

    def get_states(self, prefix: str) -> dict[str, Any]:
        """Every ``pipeline_state`` value whose key starts with ``prefix`` (the workers')."""

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold a lock shared by every process using this store (PostgreSQL: an advisory lock;
        SQLite: a lock on a file beside the database) while the block runs: the pipeline
        de-duplicates, writes and evaluates alerts one worker at a time."""


@runtime_checkable
class WindowReader(Protocol):
    """What detectors, dedup, reports and the CLI read: windows, items, dead letters, counts."""

    def window_stats(
        self,
        size_s: int,
        start: datetime,
        end: datetime,
        scope_kind: ScopeKind | None = None,
        scope_value: str | None = None,
    ) -> list[WindowStat]:
        """Window statistics with ``start <= window_start < end``, ordered by start."""

    def items_between(
        self,
        start: datetime,
        end: datetime,
        scope_kind: ScopeKind = ScopeKind.ALL,
        scope_value: str = "*",
        limit: int = 1000,
    ) -> list[ScoredItem]:
        """Items published in ``[start, end)`` in a scope, most recent first."""

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these item ids are already stored."""

    def fingerprints_since(self, since: datetime) -> list[tuple[str, str, datetime]]:
        """(item id, fingerprint, published_at) of novel items since a time, for dedup."""

    def stored_marks(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        """(id, fingerprint, published_at, novel, duplicate_of) of the items published in
        ``[start, end)`` (no end: from ``start`` on), by time: the duplicate index's seed."""

    def items_changed_since(
        self, since: datetime
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        """(id, fingerprint, published_at, novel, duplicate_of) of the items stored or re-marked
        at or after a wall-clock time: what other workers wrote, for dedup and the detectors."""

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]: ...

    def dead_letter_rows(
        self,
        reason: str | None = None,
        since: datetime | None = None,
        replayed: bool = False,
        limit: int | None = None,
    ) -> list[tuple[DeadLetter, datetime | None]]:
        """Dead letters (not replayed ones only, unless ``replayed``), oldest first, each with
        when it was replayed."""

    def dead_letter_counts(
        self, reason: str | None = None, since: datetime | None = None, replayed: bool = False
    ) -> dict[str, int]:
        """How many dead letters :meth:`dead_letter_rows` would give, by reason code."""

    def mark_replayed(self, keys: Sequence[str], at: datetime) -> int:
        """Note that these dead letters were read again and stored as items."""

    def counts(self) -> dict[str, int]:
        """Row counts: items, novel, duplicates, late, dead_letters, alerts, windows."""

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """The first and last ``published_at`` of the stored items (None, None when empty)."""

    def scope_seen(self, scope_kind: str, scope_value: str) -> bool:
        """Whether any window statistic of this scope is stored (to warn about typos)."""


@runtime_checkable
class AlertLedger(Protocol):
    """Alerts keyed by (rule, scope, window start), and the silences that cover them."""

    def insert_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Insert alerts keyed by (rule, scope, window start); return only the new ones."""

    def resolve_alert(self, alert_id: str, resolved_at: datetime) -> bool: ...

    def alerts(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[Alert]:
        """Alerts by window start, oldest first."""

    def add_silence(self, silence: Silence) -> None: ...

    def silences(self, not_ended_at: datetime | None = None) -> list[Silence]:
        """Silences by start (all, or those not ended at a time: active and pending ones)."""

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        """End a silence early at ``at``; False when there is none or it had already ended."""

    def silence_for(
        self, scope_kind: str, scope_value: str, rule: str, at: datetime
    ) -> Silence | None:
        """The silence that covers an alert of ``rule`` on a scope at wall-clock ``at``."""

    def is_muted(self, scope_kind: str, scope_value: str, rule: str, at: datetime) -> bool:
        """Whether a silence covers it (``silence_for`` is not None)."""


@runtime_checkable
class Outbox(Protocol):
    """Notifications to deliver, at least once, keyed by alert and channel."""

    def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        """Write outbox rows (ignore existing keys). Returns how many were new."""

    def due_notifications(self, now: datetime, limit: int = 100) -> list[Notification]:
        """Pending outbox rows whose next attempt is due."""

    def mark_notification(
        self,
        key: str,
        status: str,
        attempts: int,
        next_attempt_at: datetime | None,
        error: str | None,
    ) -> None: ...

    def claim_notification(
        self, notification: Notification, attempts: int, next_attempt_at: datetime
    ) -> bool:
        """Before a send: count the attempt and schedule the next one, if the row is still as
        ``notification`` saw it (False: another sender claimed it)."""

    def outbox(self, status: str | None = None, limit: int | None = None) -> list[OutboxEntry]:
        """Outbox rows, oldest first (all, or those with one status)."""

    def retry_notifications(self, key: str | None = None) -> int:
        """Failed (and backing-off) rows due now with a fresh attempt count; one key or all."""

    def purge_notifications(self, before: datetime) -> int:
        """Delete delivered and failed rows created before a time. Returns how many."""


@runtime_checkable
class Maintenance(Protocol):
    """Schema upgrades, re-aggregation, retention and integrity checks (``finsentry db``)."""

    url: str

    def schema_version(self) -> int:
        """The applied schema version (0: no finsentry schema yet)."""

    def migrate(self) -> int:
        """Apply pending migrations (idempotent). Returns the schema version."""

    def reaggregate(
        self,
        since: datetime,
        window_sizes_s: Sequence[int],
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """Rebuild window statistics from stored items from ``since`` on (``progress`` gets the
        items of each chunk read). Returns windows written."""

    def delete_items_before(self, before: datetime) -> int:
        """Retention: drop raw items (not windows or alerts) published before a time."""

    def delete_dead_letters_before(self, before: datetime) -> int:
        """Retention: drop the dead letters received before a time."""

    def check(self) -> list[Problem]:
        """Integrity problems (``finsentry db check``); an empty list when there is none."""

    def close(self) -> None: ...


@runtime_checkable
class Store(BatchSink, PipelineState, WindowReader, AlertLedger, Outbox, Maintenance, Protocol):
    """Every role at once: a time-series store for scored items, windows, alerts, dead letters
    and the outbox."""
