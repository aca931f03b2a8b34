"""Retention: raw items before a cut-off are deleted; windows and alerts are kept.

The cut-off is remembered in ``pipeline_state`` under :data:`RETENTION_KEY`. An item older than it
that arrives later (a replay) cannot be told apart from one already counted in the windows, so it
becomes a dead letter instead of being stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from finsentry.schema import DeadLetter, ScoredItem, as_utc, iso
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.state import put_state, state_time

RETENTION_KEY = "retention.before"  # pipeline_state: raw items before this time were deleted


def split_retained(
    items: Sequence[ScoredItem], retained_from: datetime | None
) -> tuple[list[ScoredItem], list[DeadLetter]]:
    """The items to store, and dead letters for those older than the retention cut-off."""
    if retained_from is None:
        return list(items), []
    keep: list[ScoredItem] = []
    dead: list[DeadLetter] = []
    for item in items:
        if item.published_at >= retained_from:
            keep.append(item)
        else:
            dead.append(_too_old(item, retained_from))
    return keep, dead


def _too_old(item: ScoredItem, retained_from: datetime) -> DeadLetter:
    news = item.item
    raw = {"id": news.id, "published_at": iso(news.published_at), "source": news.source,
           "headline": news.headline, "url": news.url}  # fmt: skip
    return DeadLetter(
        json.dumps(raw, sort_keys=True).encode(),
        "before_retention",
        f"published before the retention cut-off {iso(retained_from)}: raw items that "
        "old were deleted, so storing it could count a replayed item twice",
        news.source,
        news.input,
        news.position,
    )


def delete_items_before(dialect: Dialect, before: datetime) -> int:
    """Delete raw items (and their ticker rows) published before a time; remember the cut-off."""

    def work(tx: Transaction) -> int:
        tx.execute("DELETE FROM item_tickers WHERE published_at < ?", (dialect.ts_in(before),))
        deleted = tx.execute("DELETE FROM items WHERE published_at < ?", (dialect.ts_in(before),))
        marker = state_time(tx, dialect, RETENTION_KEY)
        if marker is None or before > marker:
            stamp = as_utc(before).isoformat(timespec="microseconds")
            put_state(tx, dialect, RETENTION_KEY, stamp)
        return int(deleted.rowcount)

    return dialect.transact(work, "retention")
