"""``pipeline_state``: small JSON values by key, read and written inside a transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finsentry.schema import as_utc
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.rows import nul_free, nul_free_json

PUT_STATE_SQL = (
    "INSERT INTO pipeline_state (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def put_state(tx: Transaction, dialect: Dialect, key: str, value: Any) -> None:
    tx.execute(PUT_STATE_SQL, (nul_free(key), dialect.json_in(nul_free_json(value))))


def state_time(tx: Transaction, dialect: Dialect, key: str) -> datetime | None:
    """A state value that holds an ISO-8601 time, as an aware datetime."""
    rows = tx.execute("SELECT value FROM pipeline_state WHERE key = ?", (key,)).fetchall()
    if not rows:
        return None
    return as_utc(datetime.fromisoformat(str(dialect.json_out(rows[0][0]))))
