"""The batch write, once for every backend: one transaction per micro-batch.

1. repeated ids in the batch: the first wins; text is made NUL-free (PostgreSQL rejects NUL);
2. items older than the retention cut-off become dead letters;
3. the items are inserted by id, and **only the items new in this transaction add window
   deltas**: a replay, a retry whose first COMMIT landed, or another writer's copy adds nothing;
4. the deltas, summed per (window, scope) in Python (one row per distinct key), go in as one bulk
   upsert (``Transaction.upsert_windows``: executemany on SQLite, COPY and one merge on
   PostgreSQL);
5. revisions (``BatchWrite.revisions``: stored items whose duplicate marks an earlier copy
   changed) rewrite those rows and move their window contributions, summed with the deltas of 4;
6. dead letters (keyed), pipeline state and the batch's health row, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from finsentry.aggregate import WindowRow, window_delta_rows
from finsentry.schema import ScoredItem, utc_now
from finsentry.store.base import BatchWrite, BatchWriteResult
from finsentry.store.columns import BATCH_COLUMNS, insert_sql, items_select
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.retention import RETENTION_KEY, split_retained
from finsentry.store.rows import (
    batch_values,
    nul_free_dead_letter,
    nul_free_item,
    ticker_rows,
)
from finsentry.store.state import put_state, state_time

if TYPE_CHECKING:
    from finsentry.dedup import Revision


def first_by_id(items: Sequence[ScoredItem]) -> list[ScoredItem]:
    """Drop repeated ids inside one batch (the first occurrence wins), keep order."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    return unique


def write_batch(dialect: Dialect, batch: BatchWrite) -> BatchWriteResult:
    """Make one micro-batch durable in one transaction (see the module's docstring)."""
    clean = [nul_free_item(i) for i in batch.items]
    # key order: concurrent writers then lock the same rows in the same order
    unique = sorted(first_by_id(clean), key=lambda i: i.id)
    dead = [nul_free_dead_letter(d) for d in batch.dead_letters]

    def work(tx: Transaction) -> BatchWriteResult:
        now = utc_now()
        items, too_old = split_retained(unique, state_time(tx, dialect, RETENTION_KEY))
        new = tx.insert_new_items(items, now) if items else []
        if new:
            tx.insert_ticker_rows([row for item in new for row in ticker_rows(item)])
        deltas = window_delta_rows(new, batch.window_sizes_s)  # only new items add deltas
        if batch.revisions:
            moved = revise(tx, dialect, batch.revisions)
            deltas = _with_moves(deltas, moved, batch.window_sizes_s)
        if deltas:
            tx.upsert_windows(deltas)
        everything_dead = [*dead, *too_old]
        new_dead = tx.insert_dead_letters(everything_dead) if everything_dead else 0
        for key, value in sorted(batch.state.items()):
            put_state(tx, dialect, key, value)
        if batch.health is not None:
            values = batch_values(batch.health, now)
            tx.execute(insert_sql("batches", BATCH_COLUMNS), (dialect.ts_in(now), *values[1:]))
        return BatchWriteResult(len(new), new_dead, len(deltas))

    return dialect.transact(work, "batch write")


def revise(
    tx: Transaction, dialect: Dialect, revisions: Sequence[Revision]
) -> list[tuple[ScoredItem, ScoredItem]]:
    """Rewrite the marks of stored items; return (as stored, as revised) for those whose novelty
    changed (a changed ``duplicate_of`` alone moves no window contribution)."""
    moved = []
    select = f"SELECT {items_select()} FROM items WHERE id = ?"
    for revision in sorted(revisions, key=lambda r: r.item_id):
        rows = tx.execute(select, (revision.item_id,)).fetchall()
        if not rows:  # never stored (its write failed): nothing to revise
            continue
        old = dialect.scored(rows[0])
        if (old.novel, old.duplicate_of) == (revision.novel, revision.duplicate_of):
            continue
        tx.execute(
            "UPDATE items SET novel = ?, duplicate_of = ?, marked_at = ? WHERE id = ?",
            (revision.novel, revision.duplicate_of, dialect.ts_in(utc_now()), revision.item_id),
        )
        if old.novel != revision.novel:
            moved.append((old, replace(old, novel=revision.novel, duplicate_of=revision.duplicate_of)))
    return moved


def _with_moves(
    rows: list[WindowRow], moved: list[tuple[ScoredItem, ScoredItem]], sizes_s: Sequence[int]
) -> list[WindowRow]:
    """``rows`` plus the revised items' contributions minus their stored ones, one row per key
    in key order (a revised item has the same windows and scopes either way)."""
    if not moved:
        return rows
    sums: dict[tuple[int, datetime, datetime, str, str], list[float]] = {}

    def add(row: WindowRow, sign: int) -> None:
        values = sums.setdefault(row[:5], [0.0] * 7)
        for i, value in enumerate(row[5:]):
            values[i] += sign * value

    for row in [*rows, *window_delta_rows([new for _, new in moved], sizes_s)]:
        add(row, 1)
    for row in window_delta_rows([old for old, _ in moved], sizes_s):
        add(row, -1)
    c, neg, neu, pos, score, dup, late = range(7)
    return [
        (*key, int(v[c]), int(v[neg]), int(v[neu]), int(v[pos]), v[score], int(v[dup]), int(v[late]))
        for key, v in sorted(sums.items())
    ]
