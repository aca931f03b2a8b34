"""The merged watermark of several workers on one store (issue 13, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.schema import RawRecord, iso
from finsentry.store import open_store
from finsentry.workers import merged_watermark
from tests.fixtures.scorers import LexiconScorer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
LEASE = 300


def worker(inputs: dict[str, datetime], closed: tuple[str, ...] = (), *, running: bool = True,
           beat: datetime = NOW, started: datetime = NOW, holding: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "inputs": {name: iso(t) for name, t in inputs.items()}, "closed": list(closed),
        "running": running, "heartbeat": iso(beat), "started_at": iso(started),
        "holding": holding, "unheard": [],
    }  # fmt: skip


def merged(states: dict[str, Any]) -> datetime | None:
    return merged_watermark(states, 600, NOW, LEASE)


def test_the_slowest_open_input_of_any_live_worker_holds_the_watermark() -> None:
    a = worker({"/d/a.jsonl": T0 + timedelta(hours=5)})
    b = worker({"/d/b.jsonl": T0 + timedelta(hours=1)})
    assert merged({"watermark/a": a, "watermark/b": b}) == T0 + timedelta(hours=1, minutes=-10)
    # a finished worker (its input closed) does not raise the others' watermark past theirs
    a_done = worker({"/d/a.jsonl": T0 + timedelta(hours=5)}, ("/d/a.jsonl",))
    assert merged({"watermark/a": a_done, "watermark/b": b}) == T0 + timedelta(minutes=50)
    # every input of every worker closed: all final
    b_done = worker({"/d/b.jsonl": T0 + timedelta(hours=1)}, ("/d/b.jsonl",))
    assert merged({"watermark/a": a_done, "watermark/b": b_done}) == T0 + timedelta(hours=5)


def test_a_live_worker_that_has_read_nothing_holds_everything() -> None:
    a = worker({"/d/a.jsonl": T0}, ("/d/a.jsonl",))
    waiting = worker({}, holding=True)
    assert merged({"watermark/a": a, "watermark/b": waiting}) is None
    # ... until its lease runs out (it crashed before reading)
    gone = worker({}, holding=True, beat=NOW - timedelta(seconds=LEASE + 1))
    assert merged({"watermark/a": a, "watermark/b": gone}) == T0


def test_stopped_and_crashed_workers_stop_holding_the_watermark_back() -> None:
    live = worker({"news:0": T0 + timedelta(hours=3)})
    crashed = worker({"news:1": T0}, beat=NOW - timedelta(seconds=LEASE + 1))
    stopped = worker({"news:2": T0}, running=False)
    states = {"watermark/a": live, "watermark/b": crashed, "watermark/c": stopped}
    assert merged(states) == T0 + timedelta(hours=3, minutes=-10)
    # within its lease the crashed worker still holds
    states["watermark/b"] = worker({"news:1": T0}, beat=NOW - timedelta(seconds=LEASE - 5))
    assert merged(states) == T0 - timedelta(minutes=10)


def test_an_input_read_again_belongs_to_the_worker_that_started_last() -> None:
    old = worker({"/d/a.jsonl": T0}, started=NOW - timedelta(hours=1))  # killed mid-file
    new = worker({"/d/a.jsonl": T0 + timedelta(hours=2)}, ("/d/a.jsonl",))
    assert merged({"watermark/old": old, "watermark/new": new}) == T0 + timedelta(hours=2)
    # standard input is each worker's own
    one = worker({"<stdin>": T0}, started=NOW - timedelta(hours=1))
    two = worker({"<stdin>": T0 + timedelta(hours=2)}, ("<stdin>",))
    assert merged({"watermark/one": one, "watermark/two": two}) == T0 - timedelta(minutes=10)


def test_a_watermark_saved_before_workers_counts_as_a_stopped_worker() -> None:
    legacy = {"inputs": {"/d/old.jsonl": iso(T0)}, "closed": [], "value": iso(T0)}
    live = worker({"/d/a.jsonl": T0 + timedelta(hours=1)})
    assert merged({"watermark": legacy, "watermark/a": live}) == T0 + timedelta(minutes=50)
    assert merged({"watermark": legacy}) == T0


def records(name: str, minutes: range) -> list[RawRecord]:
    return [
        RawRecord(
            data=(
                f'{{"id": "{name}-{m}", "published_at": "{iso(T0 + timedelta(minutes=m))}", '
                f'"source": "Wire", "headline": "{name} item number {m} beats estimates"}}'
            ).encode(),
            source="file", input=f"/d/{name}.jsonl", position=m + 1,
        )
        for m in minutes
    ]  # fmt: skip


def test_two_pipelines_on_one_store_detect_on_their_merged_watermark(tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    store_a, store_b = open_store(db), open_store(db)
    a = Pipeline.from_settings(
        Settings(db=db, worker_id="a"), store=store_a, scorer=LexiconScorer(), deliver=False
    )
    b = Pipeline.from_settings(
        Settings(db=db, worker_id="b"), store=store_b, scorer=LexiconScorer(), deliver=False
    )
    try:
        a.process(records("a", range(0, 120, 2)))
        assert a.workers.merged(a.watermark) is None  # b is registered and has read nothing
        b.process(records("b", range(0, 40, 2)))
        assert a.workers.merged(a.watermark) == T0 + timedelta(minutes=38 - 10)
        a.close_input("/d/a.jsonl")  # a is done; b still holds the watermark at its own pace
        assert b.workers.merged(b.watermark) == T0 + timedelta(minutes=28)
        b.close_input("/d/b.jsonl")
        assert b.workers.merged(b.watermark) == T0 + timedelta(minutes=118)
        assert set(store_a.get_states("watermark/")) == {"watermark/a", "watermark/b"}
    finally:
        a.close()
        b.close()
    again = open_store(db)
    try:
        states = again.get_states("watermark/")  # named workers keep their entry, as stopped
        assert not states["watermark/a"]["running"] and not states["watermark/b"]["running"]
        assert again.counts()["items"] == 80
    finally:
        again.close()
    # a host:pid worker folds its inputs into the stopped workers' entry and removes its own
    c = Pipeline.from_settings(Settings(db=db), scorer=LexiconScorer(), deliver=False)
    c.process(records("c", range(0, 10, 2)))
    c.close_input("/d/c.jsonl")
    c.close()
    again = open_store(db)
    try:
        assert set(again.get_states("watermark/")) == {"watermark/a", "watermark/b"}
        assert again.get_state("watermark")["closed"] == ["/d/c.jsonl"]
        assert merged_watermark(again.get_states("watermark"), 600, NOW, LEASE) == T0 + timedelta(
            minutes=118
        )
    finally:
        again.close()


def test_a_lone_worker_does_not_read_back_its_own_items(tmp_path: Path) -> None:
    db = str(tmp_path / "lone.db")
    store = open_store(db)
    reads: list[datetime] = []
    inner = store.items_changed_since

    def counted(since: datetime) -> Any:
        reads.append(since)
        return inner(since)

    store.items_changed_since = counted  # type: ignore[method-assign]
    pipe = Pipeline.from_settings(
        Settings(db=db, worker_id="lone"), store=store, scorer=LexiconScorer(), deliver=False
    )
    try:
        for start in range(0, 60, 10):
            pipe.process(records("a", range(start, start + 10, 2)))
        assert reads == []  # nobody else saved a heartbeat since its last batch
        other = open_store(db)
        other.set_state("watermark/other", {"inputs": {}, "closed": [], "running": True,
                                            "heartbeat": iso(datetime.now(UTC))})  # fmt: skip
        other.close()
        pipe.process(records("a", range(60, 70, 2)))
        assert len(reads) == 1
        assert pipe.workers.others_since(datetime.now(UTC) + timedelta(minutes=1)) is False
    finally:
        pipe.close()


def test_a_worker_whose_inputs_had_nothing_stops_holding_once_they_close(tmp_path: Path) -> None:
    """A group member whose partitions never deliver must not stop the others' detection."""
    db = str(tmp_path / "idle.db")
    busy = Pipeline.from_settings(Settings(db=db, worker_id="busy"), scorer=LexiconScorer(),
                                  deliver=False)  # fmt: skip
    idle = Pipeline.from_settings(Settings(db=db, worker_id="idle"), scorer=LexiconScorer(),
                                  deliver=False)  # fmt: skip
    try:
        idle.assign_inputs("news:", ["news:2", "news:3"])
        busy.process(records("a", range(0, 60, 2)))
        assert busy.workers.merged(busy.watermark) is None  # idle's partitions not heard yet
        idle.close_input("news:2")
        assert busy.workers.merged(busy.watermark) is None
        idle.close_input("news:3")  # both caught up and silent: released
        assert busy.workers.merged(busy.watermark) == T0 + timedelta(minutes=58 - 10)
    finally:
        busy.close()
        idle.close()


def test_a_host_pid_worker_of_this_host_whose_process_ended_is_gone_at_once() -> None:
    import os
    import socket
    import subprocess
    import sys

    from finsentry.workers import local_process_gone, pid_namespace

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],  # noqa: S603
                           capture_output=True, text=True, check=True)  # fmt: skip
    host = socket.gethostname()
    dead_id = f"{host}:{ended.stdout.strip()}"
    here = {"pidns": pid_namespace()}
    assert local_process_gone(dead_id, here)
    assert not local_process_gone(dead_id, {"pidns": "pid:[1]"})  # another container's
    assert not local_process_gone(f"{host}:{os.getpid()}", here)
    assert not local_process_gone("other-host:1", here)
    assert not local_process_gone("ingest-1", here)
    a = worker({"/d/a.jsonl": T0}, ("/d/a.jsonl",))
    waiting = {**worker({}, holding=True), **here}  # killed before its first batch
    states = {"watermark/a": a, f"watermark/{dead_id}": waiting}
    assert merged(states) is None
    assert merged_watermark(states, 600, NOW, LEASE, local_process_gone) == T0


def test_ingest_names_its_worker_from_the_command_line(tmp_path: Path) -> None:
    """`finsentry ingest --worker-id NAME` (the default model, detection off) saves its progress
    under watermark/NAME, where several workers' progress is merged."""
    from click.testing import CliRunner

    from finsentry.cli import main

    news = tmp_path / "n.jsonl"
    news.write_text(
        '{"id": "a1", "published_at": "2026-03-03T10:00:00Z", "source": "wire",'
        ' "headline": "Apple shares rise after record iPhone sales"}\n',
        encoding="utf-8",
    )
    db = str(tmp_path / "w.db")
    result = CliRunner().invoke(
        main, ["ingest", "--db", db, "--worker-id", "desk-7", "--no-detect", "--quiet", str(news)]
    )
    assert result.exit_code == 0, result.output
    store = open_store(db)
    try:
        state = store.get_state("watermark/desk-7")
    finally:
        store.close()
    assert state is not None and state["worker"] == "desk-7", state
