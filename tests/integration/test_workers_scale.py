"""N ``ingest`` worker processes on one store give the same items, duplicate flags, windows and
alerts as one process (issue 13, item 4): on SQLite and PostgreSQL, with the stream split between
the workers (syndicated copies of a story in different workers' parts) and with forward and
reversed copies of the whole stream.

Every worker reads standard input and registers in the store before it reads anything; the test
feeds them only once all are registered, as long-running workers would be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import pytest

from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.store import open_store
from tests.fixtures.ingest_worker import IngestWorker, results, wait_registered
from tests.fixtures.scorers import LexiconScorer

HOLD_ALL = 30 * 86_400  # an allowed lateness longer than the stream: only the end makes it final


def stream(tmp_path: Path) -> list[bytes]:
    """A day of simulated news (syndicated copies, three incidents), in arrival order."""
    result = simulate(tmp_path / "stream.jsonl", hours=24, seed=7, incidents=3)
    return [line for line in result.out.read_bytes().splitlines() if line.strip()]


def one_process(
    db: str, lines: Sequence[bytes], folder: Path, lateness_s: int
) -> dict[str, object]:
    path = folder / "one.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    settings = Settings(db=db, worker_id="one", allowed_lateness_s=lateness_s)
    pipeline = Pipeline.from_settings(settings, scorer=LexiconScorer(), deliver=False)
    try:
        run_files([path], settings, pipeline=pipeline, batch_size=64)
    finally:
        pipeline.close()
    return results(db)


def n_workers(
    db: str, parts: Sequence[Sequence[bytes]], folder: Path, lateness_s: int
) -> dict[str, object]:
    names = [f"w{n}" for n in range(len(parts))]
    workers = [IngestWorker(db, name, folder, lateness_s) for name in names]
    try:
        wait_registered(db, names)
        for worker, part in zip(workers, parts, strict=True):
            worker.feed(part)
        totals = [worker.wait() for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for total, part in zip(totals, parts, strict=True):
        assert total["consumed"] == len(part) == total["processed"] + total["dead_lettered"]
    return results(db)


def same(one: dict[str, object], many: dict[str, object]) -> None:
    assert many["counts"] == one["counts"]
    assert many["items"] == one["items"]
    assert many["windows"] == one["windows"]
    assert many["alerts"] == one["alerts"]


def split_forward_reversed(lines: Sequence[bytes], n: int) -> list[list[bytes]]:
    """Every n-th line to each worker; odd workers read their part backwards."""
    return [list(lines[k::n]) if k % 2 == 0 else list(reversed(lines[k::n])) for k in range(n)]


def check(
    make_db: Callable[[], str], tmp_path: Path, parts: Sequence[Sequence[bytes]], lateness_s: int,
    lines: Sequence[bytes],
) -> dict[str, object]:  # fmt: skip
    one = one_process(make_db(), lines, tmp_path, lateness_s)
    assert one["alerts"], "the stream should raise alerts, or the comparison proves little"
    assert one["counts"]["duplicates"] > 0  # type: ignore[index]
    same(one, n_workers(make_db(), parts, tmp_path, lateness_s))
    return one


def sqlite_dbs(tmp_path: Path) -> Callable[[], str]:
    count = iter(range(100))
    return lambda: str(tmp_path / f"store{next(count)}.db")


@pytest.mark.slow
def test_two_sqlite_workers_with_forward_and_reversed_parts_match_one(tmp_path: Path) -> None:
    lines = stream(tmp_path)
    check(sqlite_dbs(tmp_path), tmp_path, split_forward_reversed(lines, 2), HOLD_ALL, lines)


@pytest.mark.slow
def test_two_sqlite_workers_with_the_whole_stream_forward_and_reversed_match_one(
    tmp_path: Path,
) -> None:
    lines = stream(tmp_path)
    one = check(sqlite_dbs(tmp_path), tmp_path, [lines, list(reversed(lines))], HOLD_ALL, lines)
    assert one["counts"]["items"] == len(lines)  # type: ignore[index]


@pytest.mark.postgres
def test_two_postgres_workers_with_forward_and_reversed_parts_match_one(
    postgres_dsn_factory: Callable[[], str], tmp_path: Path
) -> None:
    lines = stream(tmp_path)
    check(postgres_dsn_factory, tmp_path, split_forward_reversed(lines, 2), HOLD_ALL, lines)


@pytest.mark.postgres
def test_four_postgres_workers_in_time_order_match_one(
    postgres_dsn_factory: Callable[[], str], tmp_path: Path
) -> None:
    """Default lateness: windows become final while the workers run, on their merged watermark
    (each part in arrival order, so no item is late for one process or for four)."""
    lines = stream(tmp_path)
    parts = [list(lines[k::4]) for k in range(4)]
    check(postgres_dsn_factory, tmp_path, parts, 600, lines)


def hold_in_turn(make_store: Callable[[], object]) -> list[str]:
    """Two stores (as two processes would) on one database take the exclusive lock in turn."""
    import threading
    import time

    from finsentry.store.base import Store

    first, second = cast(Store, make_store()), cast(Store, make_store())
    events: list[str] = []
    held = threading.Event()

    def hold() -> None:
        with first.exclusive("pipeline"):
            events.append("first in")
            held.set()
            time.sleep(0.5)
            events.append("first out")

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    with second.exclusive("pipeline"):
        events.append("second in")
    thread.join()
    with first.exclusive("other"), second.exclusive("pipeline"):  # another name: no wait
        events.append("both")
    first.close()
    second.close()
    return events


def test_the_exclusive_lock_is_held_by_one_sqlite_store_at_a_time(tmp_path: Path) -> None:
    db = str(tmp_path / "lock.db")
    events = hold_in_turn(lambda: open_store(db))
    assert events == ["first in", "first out", "second in", "both"]


@pytest.mark.postgres
def test_the_exclusive_lock_is_held_by_one_postgres_session_at_a_time(postgres_dsn: str) -> None:
    events = hold_in_turn(lambda: open_store(postgres_dsn))
    assert events == ["first in", "first out", "second in", "both"]


@pytest.mark.slow
def test_a_killed_worker_stops_holding_the_others_back_after_its_lease(tmp_path: Path) -> None:
    """A worker killed mid-stream (SIGKILL: it never says it stopped) holds the merged watermark
    only until FINSENTRY_WORKER_LEASE_S passes; another worker that reads the whole stream again
    then gives one process's results, and db check finds nothing wrong."""
    import time

    lines = stream(tmp_path)
    one = one_process(sqlite_dbs(tmp_path)(), lines, tmp_path, HOLD_ALL)
    db = str(tmp_path / "killed.db")
    lease = {"FINSENTRY_WORKER_LEASE_S": "3"}
    victim = IngestWorker(db, "victim", tmp_path, HOLD_ALL, env=lease)
    try:
        wait_registered(db, ["victim"])
        victim.feed(lines[: len(lines) // 2], close=False)  # it waits for more, mid-stream
        deadline = time.monotonic() + 120
        while results_count(db) < len(lines) // 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert results_count(db) >= len(lines) // 4
    finally:
        victim.kill()
    killed_at = time.monotonic()
    again = IngestWorker(db, "again", tmp_path, HOLD_ALL, env=lease)
    wait_registered(db, ["again"])
    again.feed(lines)
    again.wait()
    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))
    late = IngestWorker(db, "late", tmp_path, HOLD_ALL, env=lease)  # reads nothing, evaluates
    late.feed([])
    late.wait()
    same(one, results(db))


def results_count(db: str) -> int:
    store = open_store(db)
    try:
        return store.counts()["items"]
    finally:
        store.close()
