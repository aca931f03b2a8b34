"""Stores: SQLite (embedded default) and PostgreSQL, behind the roles of :mod:`finsentry.store.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from finsentry.store.base import (
    AlertLedger,
    BatchHealth,
    BatchSink,
    BatchWrite,
    BatchWriteResult,
    Maintenance,
    Notification,
    Outbox,
    PipelineState,
    Store,
    StoreUnavailableError,
    WindowReader,
)

if TYPE_CHECKING:
    from finsentry.store.postgres import PostgresStore
    from finsentry.store.sqlite import SQLiteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def open_sql_store(url: str) -> SQLiteStore | PostgresStore:
    """Open a store by URL: ``postgresql://...`` (PostgreSQL) or a path / ``sqlite:///path``.

    The store is not migrated here; call ``migrate()`` (or use :func:`open_store`).
    """
    if is_postgres_url(url):
        from finsentry.store.postgres import PostgresStore

        return PostgresStore(url)
    from finsentry.store.sqlite import SQLiteStore

    return SQLiteStore(url)


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open a store by URL and (by default) bring its schema up to date."""
    store = open_sql_store(url)
    if migrate:
        store.migrate()
    return store


class StoreNotFoundError(FileNotFoundError):
    """A command that only reads was pointed at a SQLite store that does not exist."""


def open_existing_store(url: str, *, migrate: bool = True) -> Store:
    """:func:`open_store` for commands that only read: a SQLite file that does not exist is an
    error (a typo in ``--db`` must not create an empty store, nor its folders); PostgreSQL gets
    one attempt within its connect timeout (10 s), not the pipeline's retries."""
    if is_postgres_url(url):
        from finsentry.store.postgres import PostgresStore

        store = PostgresStore(url, retries=0)
        if migrate:
            store.migrate()
        return store
    from pathlib import Path

    from finsentry.store.sqlite import sqlite_path

    path = sqlite_path(url)
    if path != ":memory:" and not Path(path).is_file():
        raise StoreNotFoundError(
            f"no finsentry store at {path}: check --db / FINSENTRY_DB "
            "(finsentry ingest or finsentry db upgrade creates one)"
        )
    return open_store(url, migrate=migrate)


__all__ = [
    "AlertLedger",
    "BatchHealth",
    "BatchSink",
    "BatchWrite",
    "BatchWriteResult",
    "Maintenance",
    "Notification",
    "Outbox",
    "PipelineState",
    "Store",
    "StoreNotFoundError",
    "StoreUnavailableError",
    "WindowReader",
    "is_postgres_url",
    "open_existing_store",
    "open_sql_store",
    "open_store",
]
