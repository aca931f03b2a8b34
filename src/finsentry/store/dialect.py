"""What a SQL backend provides: a :class:`Dialect` (connections, transactions, type adapters) and,
inside a transaction, a :class:`Transaction` with the few bulk steps whose drivers differ.

Everything else (the batch write, reads, alerts, outbox, state, re-aggregation, retention) is
written once over these protocols, which mypy checks (``store/batch.py``, ``store/queries.py``).
To add a backend, implement both and a ``Store`` subclass of ``SQLStore`` (see ``sqlite.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from finsentry.aggregate import WindowRow
from finsentry.schema import DeadLetter, ScoredItem

T = TypeVar("T")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """One open transaction. Shared SQL uses ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def insert_new_items(self, items: Sequence[ScoredItem], now: datetime) -> list[ScoredItem]:
        """Insert the items whose id is not stored yet; return exactly those (the ones this
        transaction added, even with other writers at work), in the order given."""

    def insert_ticker_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``item_tickers`` rows in ``TICKER_COLUMNS`` order (Python values)."""

    def upsert_windows(self, rows: Sequence[WindowRow]) -> None:
        """Add window deltas (``WINDOW_COLUMNS`` order, one per distinct key) to ``window_stats``
        in one bulk statement (additive merge), in key order so that concurrent writers lock
        rows in the same order."""

    def insert_dead_letters(self, dead: Sequence[DeadLetter]) -> int:
        """Insert dead letters, ignoring known keys. Returns how many were new."""

    def lock_windows(self) -> None:
        """Hold other writers off ``window_stats`` until this transaction ends."""

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[list[Any]]:
        """The rows of a large query, in chunks, without loading them all."""


class Dialect(Protocol):
    """A backend's connection, transactions and type adapters."""

    name: str  # "sqlite" | "postgres": the migrations folder
    no_limit: Any  # the LIMIT value that means "no limit"

    def transact(self, work: Callable[[Transaction], T], what: str) -> T:
        """Run ``work`` in one transaction (retrying what the backend can retry)."""

    def snapshot(self, work: Callable[[Transaction], T], what: str) -> T:
        """Run ``work`` in one read-only transaction that sees one consistent state of the store
        and does not hold writers back."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one read."""

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """A lock held across transactions by one process of all those using the store."""

    def ts_in(self, value: datetime | None) -> Any: ...

    def ts_out(self, value: Any) -> datetime | None: ...

    def json_in(self, value: Any) -> Any: ...

    def json_out(self, value: Any) -> Any: ...

    def scored(self, row: Sequence[Any]) -> ScoredItem:
        """A ScoredItem from a stored ``items`` row."""

    def schema_version(self) -> int: ...

    def migrate(self) -> int: ...

    def close(self) -> None: ...
