"""The offset ledger: which offsets the store holds, and their commits to the consumer group.

An offset enters the ledger only when the runner says its batch is durable (items, dead letters,
watermark in the store; dead letters acknowledged by the DLQ topic). Commits are sent without
waiting after each batch, one at a time: while one is on its way, the offsets of the batches
stored meanwhile wait and go together in the next (a later offset covers an earlier one), so a
consumer racing through a backlog does not queue a commit per batch behind its fetches. A failed
commit stays pending and is covered by the next. At shutdown the last commit is synchronous, with retries. A revoked
partition's pending offset is sent once, best effort: its new owner re-reads anything not
committed, and the store's upserts make that harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from typing import Any

log = logging.getLogger(__name__)

RESEND_AFTER_S = 5.0  # an unanswered commit of the same offsets is sent again after this long
FINAL_ATTEMPTS = 10


class OffsetLedger:
    """Per partition (kafka-python ``TopicPartition``): the next offset after what is durable."""

    def __init__(self) -> None:
        self._pending: dict[Any, int] = {}  # durable, not yet committed
        self._next: dict[Any, int] = {}  # next offset after everything durable (lag, idleness)
        self._inflight: dict[Any, int] | None = None  # offsets of the commit on its way
        self._inflight_since = 0.0

    def durable(self, records: Sequence[Any]) -> None:
        """The store holds ``records`` (kafka-python ConsumerRecords): their offsets may be committed."""
        from kafka import TopicPartition

        highest: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            highest[key] = max(highest.get(key, -1), r.offset)
        for (topic, partition), offset in highest.items():
            tp = TopicPartition(topic, partition)
            self._pending[tp] = max(self._pending.get(tp, -1), offset + 1)
            self._next[tp] = max(self._next.get(tp, -1), offset + 1)

    def position(self, tp: Any) -> int | None:
        """The next offset after what is durable for ``tp``, if anything is."""
        return self._next.get(tp)

    def positions(self) -> dict[Any, int]:
        return dict(self._next)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def commit(self, consumer: Any) -> None:
        """Send a commit of everything pending without waiting (owned partitions only)."""
        offsets = self._owned_pending(consumer)
        if offsets:
            self._commit_async(consumer, offsets)

    def commit_final(self, consumer: Any) -> None:
        """Commit everything pending and wait for it (shutdown); retried while the broker is away."""
        offsets = self._owned_pending(consumer)
        if not offsets:
            return
        from kafka import OffsetAndMetadata

        metas = {tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()}
        for attempt in range(FINAL_ATTEMPTS):
            try:
                consumer.commit(metas, timeout_ms=10_000)
            except Exception as exc:  # noqa: BLE001 - broker away or rebalance: retried
                log.warning("offset commit failed (%s); will retry", exc)
                time.sleep(min(1.0 + attempt, 3.0))
                continue
            self._pending.clear()
            return
        log.warning(
            "could not commit offsets %s; the store holds these records, so a restart re-reads "
            "them without double counting",
            {f"{tp.topic}/{tp.partition}": off for tp, off in self._pending.items()},
        )

    def revoke(self, consumer: Any, revoked: Collection[Any]) -> None:
        """Partitions taken away: send their pending offsets once, never blocking; forget them.

        Runs inside a rebalance callback, so it makes no blocking consumer call.
        """
        pending = {tp: self._pending.pop(tp) for tp in list(self._pending) if tp in revoked}
        for tp in revoked:
            self._next.pop(tp, None)
        if not pending:
            return
        from kafka import OffsetAndMetadata

        try:
            consumer.commit_async({tp: OffsetAndMetadata(o, "", -1) for tp, o in pending.items()})
        except Exception as exc:  # noqa: BLE001 - the new owner re-reads: nothing is lost
            log.warning("commit of revoked partitions not sent (%s)", exc)

    def _owned_pending(self, consumer: Any) -> dict[Any, int]:
        owned = set(consumer.assignment() or ())
        for tp in [tp for tp in self._pending if tp not in owned]:
            del self._pending[tp]  # revoked: its new owner re-reads from the committed offset
        return dict(self._pending)

    def _commit_async(self, consumer: Any, snapshot: dict[Any, int]) -> None:
        """Its callback clears what it covered; a failure is retried with the next batch or poll."""
        now = time.monotonic()
        if self._inflight is not None and now - self._inflight_since < RESEND_AFTER_S:
            return  # one commit is on its way; what is pending now goes with the next one
        self._inflight, self._inflight_since = snapshot, now

        def done(_offsets: Any, response: Any) -> None:
            if self._inflight == snapshot:
                self._inflight = None
            if isinstance(response, BaseException):
                log.warning("offset commit failed (%s); will retry", response)
                return
            for tp, off in snapshot.items():
                if self._pending.get(tp) == off:
                    self._pending.pop(tp, None)

        from kafka import OffsetAndMetadata

        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in snapshot.items()}
        try:
            consumer.commit_async(offsets, callback=done)
        except Exception as exc:  # noqa: BLE001 - coordinator unknown: retried later
            self._inflight = None
            log.warning("offset commit not sent (%s); will retry", exc)
