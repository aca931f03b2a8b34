"""The dead-letter table's reads and its replay marks (``finsentry dead-letters``), over a dialect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from finsentry.schema import DeadLetter
from finsentry.store import columns as c
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.rows import dead_letter_from_row, nul_free


def rows(
    dialect: Dialect,
    reason: str | None = None,
    since: datetime | None = None,
    replayed: bool = False,
    limit: int | None = None,
) -> list[tuple[DeadLetter, datetime | None]]:
    """Dead letters, oldest first, each with when it was replayed (None: never); only those not
    replayed unless ``replayed``, of one reason code, received from ``since`` on."""
    where, params = _where(dialect, reason, since, replayed)
    sql = (
        f"SELECT {', '.join(c.DEAD_LETTER_COLUMNS)}, replayed_at FROM dead_letters{where} "
        "ORDER BY received_at, key LIMIT ?"
    )
    params.append(dialect.no_limit if limit is None else limit)
    return [
        (dead_letter_from_row((*r[:7], dialect.ts_out(r[7]))), dialect.ts_out(r[8]))
        for r in dialect.query(sql, params)
    ]


def counts(
    dialect: Dialect, reason: str | None = None, since: datetime | None = None, replayed: bool = False
) -> dict[str, int]:
    """How many of the dead letters :func:`rows` would give there are, by reason code: the most
    frequent first, a tie in the order the reasons first occur."""
    where, params = _where(dialect, reason, since, replayed)
    sql = (
        f"SELECT reason_code, count(*) FROM dead_letters{where} GROUP BY reason_code "
        "ORDER BY count(*) DESC, min(received_at), min(key)"
    )
    return {str(code): int(n) for code, n in dialect.query(sql, params)}


def _where(
    dialect: Dialect, reason: str | None, since: datetime | None, replayed: bool
) -> tuple[str, list[Any]]:
    clauses, params = [] if replayed else ["replayed_at IS NULL"], []
    if reason is not None:
        clauses.append("reason_code = ?")
        params.append(nul_free(reason))
    if since is not None:
        clauses.append("received_at >= ?")
        params.append(dialect.ts_in(since))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def mark_replayed(dialect: Dialect, keys: Sequence[str], at: datetime) -> int:
    """Note that these dead letters were read again and stored; returns how many (each once)."""
    if not keys:
        return 0
    sql = "UPDATE dead_letters SET replayed_at = ? WHERE key = ? AND replayed_at IS NULL"
    stamp = dialect.ts_in(at)

    def work(tx: Transaction) -> int:
        return sum(tx.execute(sql, (stamp, nul_free(key))).rowcount for key in keys)

    return dialect.transact(work, "dead-letter replay")


def delete_before(dialect: Dialect, before: datetime) -> int:
    """Retention: delete the dead letters received before a time (they hold raw records too)."""
    sql = "DELETE FROM dead_letters WHERE received_at < ?"
    stamp = dialect.ts_in(before)
    return dialect.transact(lambda tx: int(tx.execute(sql, (stamp,)).rowcount), "retention")
