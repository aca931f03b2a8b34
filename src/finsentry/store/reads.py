"""Read-only SQL beyond the store's protocol, for features that need a query of their own (the
report's models of a day, an alert's delivery history).

Such SQL goes through the store's own dialect (``store.dialect``: ``query`` with ``?``
placeholders and ``ts_in``/``ts_out`` for timestamps), so it runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast


class SQLReads(Protocol):
    """The part of a store's SQL dialect that reads."""

    def query(self, sql: str, params: Any = ()) -> list[Any]: ...

    def ts_in(self, value: datetime | None) -> Any: ...

    def ts_out(self, value: Any) -> datetime | None: ...

    def json_out(self, value: Any) -> Any: ...


def sql_reads(store: object) -> SQLReads | None:
    """The store's SQL dialect, or None for a store without one."""
    dialect = getattr(store, "dialect", None)
    return cast(SQLReads, dialect) if dialect is not None and hasattr(dialect, "query") else None
