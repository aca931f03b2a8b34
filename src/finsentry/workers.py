"""Several workers on one store: each keeps its own watermark; detection uses their merge.

A *worker* is one pipeline writing the store: a ``finsentry ingest`` or ``consume`` process, a
DAG run. It is named by ``settings.worker_id`` (``FINSENTRY_WORKER_ID``; default ``host:pid``)
and saves its watermark under ``watermark/<worker id>`` in ``pipeline_state`` with every batch,
together with a heartbeat (wall-clock time of that write), when it started, whether it is still
running and whether it *holds* (it runs but has no watermark yet: nothing read and no input
closed, or an assigned partition not heard from). :func:`merged_watermark` is the watermark detection uses:

- a live worker that holds: no merged watermark (nothing is final yet);
- otherwise the rule of :class:`~finsentry.aggregate.Watermark` over the inputs of every worker:
  the minimum of the open inputs' largest event times less the allowed lateness, or the largest
  event time when every input is closed;
- a worker that stopped (``Pipeline.close``), whose heartbeat is older than ``worker_lease_s``
  (it crashed), or, named ``host:pid`` on this host, whose process has ended, holds nothing
  back: its inputs count as closed;
- an input named by several workers (a file read again, a partition handed over) belongs to the
  worker that started last; ``<stdin>``-style names are each worker's own.

A worker named by settings keeps its entry when it stops (marked stopped) and goes on from its
watermark when it starts again under that name. A ``host:pid`` worker, never the same twice,
folds its inputs into the key ``watermark``, the entry of stopped workers (every input closed),
and removes its own entry (:meth:`Workers.retire`); the value saved there before workers
existed reads the same way.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from finsentry.aggregate import PartitionWatermark, Watermark
from finsentry.schema import as_utc, iso, utc_now
from finsentry.store.base import PipelineState

LEGACY_KEY = "watermark"
PREFIX = "watermark/"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def default_worker_id() -> str:
    """``host:pid``: unique among the processes running now."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class _Worker:
    key: str
    started_at: datetime
    live: bool
    holding: bool
    inputs: dict[str, datetime] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    unheard: set[str] = field(default_factory=set)

    @classmethod
    def parse(
        cls, key: str, value: Any, now: datetime, lease: timedelta, gone: Gone
    ) -> _Worker | None:
        if not isinstance(value, dict) or not isinstance(value.get("inputs", {}), dict):
            return None
        try:
            inputs = {
                str(k): as_utc(datetime.fromisoformat(str(v))) for k, v in value["inputs"].items()
            } if "inputs" in value else {}  # fmt: skip
            started = _time(value.get("started_at")) or EPOCH
            beat = _time(value.get("heartbeat"))
        except (TypeError, ValueError):
            return None
        live = bool(value.get("running")) and beat is not None and now - beat <= lease
        live = live and not gone(key.removeprefix(PREFIX), value)
        return cls(
            key, started, live, live and bool(value.get("holding")), inputs,
            {str(n) for n in value.get("closed", ())}, {str(n) for n in value.get("unheard", ())},
        )  # fmt: skip


def _time(value: Any) -> datetime | None:
    return None if value is None else as_utc(datetime.fromisoformat(str(value)))


def _private(name: str) -> bool:
    return name.startswith("<")  # <stdin>: two workers' standard inputs are not one input


Gone = Callable[[str, dict[str, Any]], bool]


def pid_namespace() -> str:
    """This process's PID namespace (containers sharing a host name have their own)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def local_process_gone(worker_id: str, state: dict[str, Any]) -> bool:
    """A ``host:pid`` worker of this host and PID namespace whose process has ended (killed,
    crashed): it need not wait for its lease."""
    host, _, pid = worker_id.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if not state.get("pidns") or state.get("pidns") != pid_namespace():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def merged_watermark(
    states: Mapping[str, Any],
    lateness_s: int,
    now: datetime,
    lease_s: float,
    gone: Gone = lambda worker_id, state: False,
) -> datetime | None:
    """The watermark over every worker's saved state (see the module's docstring); ``gone``
    says which workers have ended before their lease ran out."""
    lease = timedelta(seconds=lease_s)
    workers = [w for k, v in sorted(states.items()) if (w := _Worker.parse(k, v, now, lease, gone))]
    if any(w.holding for w in workers):
        return None
    owner: dict[str, tuple[datetime, str]] = {}
    for w in workers:
        for name in (*w.inputs, *w.unheard):
            if not _private(name):
                owner[name] = max(owner.get(name, (EPOCH, "")), (w.started_at, w.key))
    inputs: dict[str, str] = {}
    closed: list[str] = []
    for w in workers:
        for name, stamp in w.inputs.items():
            if not _private(name) and owner[name][1] != w.key:
                continue  # a later worker took this input over
            qualified = f"{w.key}|{name}"
            inputs[qualified] = stamp.isoformat()
            if not w.live or name in w.closed:
                closed.append(qualified)
    return Watermark(lateness_s, {"inputs": inputs, "closed": closed}).value


class Workers:
    """This pipeline's entry among the workers of a store, and the merged watermark."""

    def __init__(
        self, store: PipelineState, worker_id: str, lateness_s: int, lease_s: float
    ) -> None:
        self.store = store
        self.named = bool(worker_id)  # named by settings: it may come back under that name
        self.id = worker_id or default_worker_id()
        self.key = PREFIX + self.id
        self.lateness_s = lateness_s
        self.lease_s = lease_s
        self.started_at = utc_now()
        self.released = False  # a source closed an input: it has read what it had (maybe nothing)

    def saved(self) -> dict[str, Any] | None:
        """This worker's saved watermark (a restart under the same id goes on from it)."""
        value = self.store.get_state(self.key)
        return value if isinstance(value, dict) else None

    def state(self, watermark: PartitionWatermark, running: bool = True) -> dict[str, Any]:
        """What is saved under :attr:`key`: the watermark, heartbeat and run state."""
        state = watermark.to_state()
        state.update(
            worker=self.id,
            started_at=iso(self.started_at),
            heartbeat=iso(utc_now()),
            running=running,
            holding=running
            and (bool(watermark.unheard) or (watermark.value is None and not self.released)),
            unheard=sorted(watermark.unheard),
            pidns=pid_namespace(),
        )
        return state

    def merged(self, watermark: PartitionWatermark) -> datetime | None:
        """The merged watermark, with this worker's entry as it stands in memory."""
        states = saved_states(self.store)
        states[self.key] = self.state(watermark)
        return merged_watermark(
            states, self.lateness_s, utc_now(), self.lease_s, local_process_gone
        )

    def others_since(self, since: datetime) -> bool:
        """Whether another worker saved its state (as it does with every batch) since a time."""
        for key, value in saved_states(self.store).items():
            if key != self.key and isinstance(value, dict) and value.get("heartbeat"):
                beat = _time(value["heartbeat"])
                if beat is not None and beat >= since:
                    return True
        return False

    def retire(self, watermark: PartitionWatermark) -> None:
        """Stopping (the caller holds the store's exclusive lock). A worker named by settings
        keeps its entry, as stopped, to go on from it when it starts again under that name;
        one named ``host:pid`` (never the same twice) folds its inputs into the entry of
        stopped workers (``watermark``: every input closed, the largest time of each) and its
        own entry goes, so finished runs do not pile up."""
        if self.named:
            self.store.set_state(self.key, self.state(watermark, running=False))
            return
        before = self.store.get_state(LEGACY_KEY)
        times: dict[str, datetime] = {}
        if isinstance(before, dict) and isinstance(before.get("inputs"), dict):
            for name, stamp in before["inputs"].items():
                times[str(name)] = as_utc(datetime.fromisoformat(str(stamp)))
        for name, stamp in watermark.inputs.items():
            times[name] = max(stamp, times.get(name, stamp))
        if times:
            self.store.set_state(LEGACY_KEY, {
                "inputs": {name: stamp.isoformat() for name, stamp in sorted(times.items())},
                "closed": sorted(times), "value": max(times.values()).isoformat(),
                "heartbeat": iso(utc_now()),  # its last batch: the others read it
            })  # fmt: skip
        self.store.delete_state(self.key)


def saved_states(store: PipelineState) -> dict[str, Any]:
    """Every worker's saved state (and the one saved before workers), by key."""
    return {
        k: v for k, v in store.get_states(LEGACY_KEY).items()
        if k == LEGACY_KEY or k.startswith(PREFIX)
    }  # fmt: skip


def store_watermark(store: PipelineState, lateness_s: int, lease_s: float) -> datetime | None:
    """The merged watermark as the store holds it now (for jobs that read, not ingest)."""
    return merged_watermark(saved_states(store), lateness_s, utc_now(), lease_s, local_process_gone)
