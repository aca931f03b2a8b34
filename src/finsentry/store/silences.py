"""Silences in the store (``silences`` table), written once over a dialect.

A silence covers the alerts of one scope (one rule, or every rule) raised while it is active, in
wall-clock time. Expiring one early sets ``expired_at``; nothing is deleted, so ``finsentry silence
list --all`` shows who silenced what, when and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from finsentry.schema import utc_now
from finsentry.store.base import Silence
from finsentry.store.dialect import Dialect
from finsentry.store.rows import nul_free

COLUMNS: tuple[str, ...] = (
    "id", "scope_kind", "scope_value", "rule", "starts_at", "ends_at", "comment", "created_by",
    "created_at", "expired_at",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM silences"
_TIMES = (4, 5, 8, 9)


def new_silence_id() -> str:
    """A short random id (12 hex digits), typed by hand in ``finsentry silence expire``."""
    return uuid.uuid4().hex[:12]


def _from_row(dialect: Dialect, row: Sequence[Any]) -> Silence:
    values = list(row)
    for i in _TIMES:
        values[i] = dialect.ts_out(values[i])
    return Silence(*values)


def add_silence(dialect: Dialect, silence: Silence) -> None:
    created = silence.created_at or utc_now()
    values: list[Any] = [
        nul_free(silence.id), str(silence.scope_kind), nul_free(silence.scope_value),
        None if silence.rule is None else nul_free(silence.rule),
        dialect.ts_in(silence.starts_at), dialect.ts_in(silence.ends_at),
        nul_free(silence.comment), nul_free(silence.created_by), dialect.ts_in(created),
        dialect.ts_in(silence.expired_at),
    ]  # fmt: skip
    marks = ", ".join("?" * len(COLUMNS))
    sql = f"INSERT INTO silences ({', '.join(COLUMNS)}) VALUES ({marks})"
    dialect.transact(lambda tx: tx.execute(sql, values), "silence write")


def silences(dialect: Dialect, not_ended_at: datetime | None = None) -> list[Silence]:
    rows = dialect.query(f"{_SELECT} ORDER BY starts_at, id")
    found = [_from_row(dialect, r) for r in rows]
    if not_ended_at is None:
        return found
    return [s for s in found if s.end > not_ended_at]


def expire_silence(dialect: Dialect, silence_id: str, at: datetime) -> bool:
    sql = "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL AND ends_at > ?"
    stamp = dialect.ts_in(at)
    params = (stamp, nul_free(silence_id), stamp)
    return dialect.transact(lambda tx: tx.execute(sql, params).rowcount == 1, "silence expire")


def silence_for(
    dialect: Dialect, scope_kind: str, scope_value: str, rule: str, at: datetime
) -> Silence | None:
    stamp = dialect.ts_in(at)
    rows = dialect.query(
        f"{_SELECT} WHERE scope_kind = ? AND scope_value = ? AND (rule IS NULL OR rule = ?) "
        "AND starts_at <= ? AND ends_at > ? AND (expired_at IS NULL OR expired_at > ?) "
        "ORDER BY ends_at DESC, id LIMIT 1",
        (str(scope_kind), nul_free(scope_value), nul_free(rule), stamp, stamp, stamp),
    )
    return _from_row(dialect, rows[0]) if rows else None


def scope_seen(dialect: Dialect, scope_kind: str, scope_value: str) -> bool:
    rows = dialect.query(
        "SELECT 1 FROM window_stats WHERE scope_kind = ? AND scope_value = ? LIMIT 1",
        (str(scope_kind), nul_free(scope_value)),
    )
    return bool(rows)
