"""``finsentry db check``: integrity checks that read the store and name each problem found.

- windows: every window statistic (from the retention cut-off on) equals what its items add up to,
  as ``finsentry db reaggregate`` would rebuild it; no items without their windows;
- tickers: ``item_tickers`` holds exactly one row per item and ticker, dated like its item;
- watermark: each saved watermark's inputs have aware times not far in the future, its closed
  inputs are among them, its value agrees with them, and no open input is named by an unresolved
  path (files are named by their resolved path; another spelling would never be closed);
- workers: each worker's saved progress names its worker, has a heartbeat not ahead of the clock,
  and no worker left running with open inputs has been silent for over an hour (it crashed);
- outbox: notification states are pending, delivered or failed, attempts are not negative,
  ``delivered_at`` is set exactly for delivered rows, each row belongs to a stored alert and its
  key is ``<alert id>:<channel>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from finsentry.schema import ScoredItem, WindowStat, as_utc, iso, utc_now
from finsentry.store.columns import NOTIFICATION_STATES, WINDOW_SELECT, items_select
from finsentry.store.dialect import Dialect, Transaction
from finsentry.store.reaggregate import WindowFolder, reaggregate_starts
from finsentry.store.retention import RETENTION_KEY
from finsentry.store.rows import window_from_row
from finsentry.store.state import state_time

FUTURE_SLACK = timedelta(days=1)  # an input's event time may run this far ahead of the clock
WORKER_PREFIX = "watermark/"  # a worker's saved progress: finsentry/workers.py
STALE_WORKER = timedelta(hours=1)  # a running worker silent this long has crashed
HEARTBEAT_SLACK = timedelta(minutes=5)
_SUMS = ("count", "negative", "neutral", "positive", "duplicates", "late")


@dataclass(frozen=True, slots=True)
class Problem:
    check: str  # windows | tickers | watermark | workers | outbox
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One read-only transaction: every check sees the same state, and writers go on."""

    tx: Transaction
    dialect: Dialect

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.tx.execute(sql, params).fetchall()


def check_store(dialect: Dialect, now: datetime | None = None) -> list[Problem]:
    """Every problem the checks find, check by check (an empty list: the store is consistent)."""

    def work(tx: Transaction) -> list[Problem]:
        snap = Snapshot(tx, dialect)
        return [
            *check_windows(snap),
            *check_tickers(snap),
            *check_watermarks(snap, now),
            *check_outbox(snap),
        ]

    return dialect.snapshot(work, "integrity check")


# --- windows ---------------------------------------------------------------------------------


def check_windows(snap: Snapshot) -> list[Problem]:
    dialect = snap.dialect
    sizes = [int(r[0]) for r in snap.rows("SELECT DISTINCT window_size_s FROM window_stats")]
    low = snap.rows(
        "SELECT (SELECT min(published_at) FROM items), (SELECT min(window_start) FROM window_stats)"
    )[0]
    times = [t for t in (dialect.ts_out(low[0]), dialect.ts_out(low[1])) if t is not None]
    if not sizes or not times:
        return _items_without_windows(snap) if not sizes else []
    marker = state_time(snap.tx, dialect, RETENTION_KEY)
    since = max(min(times), marker) if marker is not None else min(times)
    starts = reaggregate_starts(since, sizes, marker)
    folder = WindowFolder(starts)
    sql = f"SELECT {items_select()} FROM items WHERE published_at >= ? ORDER BY published_at, id"  # nosec B608
    for rows in snap.tx.stream(sql, (dialect.ts_in(min(starts.values())),)):
        folder.add([dialect.scored(r) for r in rows])
    return _compare_windows(folder.stats(), _stored_windows(snap, starts))


def _stored_windows(snap: Snapshot, starts: dict[int, datetime]) -> list[WindowStat]:
    dialect = snap.dialect
    out: list[WindowStat] = []
    for size, start in starts.items():
        rows = snap.rows(
            f"SELECT {WINDOW_SELECT} FROM window_stats WHERE window_size_s = ? "  # nosec B608
            "AND window_start >= ?",
            (size, dialect.ts_in(start)),
        )
        out.extend(window_from_row((r[0], dialect.ts_out(r[1]), *r[2:])) for r in rows)
    return out


def _compare_windows(expected: Sequence[WindowStat], stored: Sequence[WindowStat]) -> list[Problem]:
    want = {s.key: s for s in expected}
    have = {s.key: s for s in stored}
    problems: list[Problem] = []
    bad: list[datetime] = []
    for key in sorted(want.keys() | have.keys(), key=_key_order):
        found = len(problems)
        name = f"window {key.size_s} s from {iso(key.start)}, {key.scope_kind} {key.scope_value!r}"
        w, h = want.get(key), have.get(key)
        if h is None:
            problems.append(
                Problem("windows", f"{name}: missing, though its items add up to {_sums(w)}")
            )
        elif w is None:
            if any(getattr(h, f) for f in _SUMS):
                problems.append(
                    Problem("windows", f"{name}: holds {_sums(h)} but no stored item falls in it")
                )
        elif _sums(w) != _sums(h) or abs(w.score_sum - h.score_sum) > 1e-6:
            problems.append(
                Problem("windows", f"{name}: stored {_sums(h)} score_sum {h.score_sum:.6f}, its "
                        f"items add up to {_sums(w)} score_sum {w.score_sum:.6f}")
            )  # fmt: skip
        if len(problems) > found:
            bad.append(key.start)
    if bad:
        problems.append(Problem("windows", f"to rebuild them from the items: finsentry db reaggregate --since {iso(min(bad))}"))  # fmt: skip
    return problems


def _key_order(key: Any) -> tuple[Any, ...]:
    return (key.size_s, key.start, str(key.scope_kind), key.scope_value)


def _sums(stat: WindowStat | None) -> str:
    if stat is None:
        return "nothing"
    return ", ".join(f"{f} {getattr(stat, f)}" for f in _SUMS)


def _items_without_windows(snap: Snapshot) -> list[Problem]:
    (count,) = snap.rows("SELECT count(*) FROM items")[0]
    if not count:
        return []
    return [Problem("windows", f"{count} items are stored but window_stats is empty: run finsentry db reaggregate")]  # fmt: skip


# --- item_tickers ----------------------------------------------------------------------------


def check_tickers(snap: Snapshot) -> list[Problem]:
    problems = [
        Problem("tickers", f"item_tickers row ({item_id!r}, {ticker!r}) has no item")
        for item_id, ticker in snap.rows(
            "SELECT t.item_id, t.ticker FROM item_tickers t LEFT JOIN items i ON i.id = t.item_id "
            "WHERE i.id IS NULL ORDER BY t.item_id, t.ticker"
        )
    ]

    sql = f"SELECT {items_select()} FROM items ORDER BY id"  # nosec B608
    for rows in snap.tx.stream(sql, ()):
        problems.extend(_ticker_rows_of(snap, [snap.dialect.scored(r) for r in rows]))
    return problems


def _ticker_rows_of(snap: Snapshot, items: Sequence[ScoredItem]) -> Iterator[Problem]:
    stored: dict[str, dict[str, datetime | None]] = {i.id: {} for i in items}
    for part in range(0, len(items), 500):
        ids = [i.id for i in items[part : part + 500]]
        marks = ", ".join("?" * len(ids))
        for item_id, ticker, published in snap.rows(
            f"SELECT item_id, ticker, published_at FROM item_tickers WHERE item_id IN ({marks})",  # nosec B608
            ids,
        ):
            stored[item_id][ticker] = snap.dialect.ts_out(published)
    for item in items:
        rows, tickers = stored[item.id], set(item.tickers)
        for ticker in sorted(tickers - rows.keys()):
            yield Problem("tickers", f"item {item.id!r} names {ticker!r} but has no item_tickers row for it")  # fmt: skip
        for ticker in sorted(rows.keys() - tickers):
            yield Problem("tickers", f"item_tickers row ({item.id!r}, {ticker!r}): the item does not name that ticker")  # fmt: skip
        for ticker in sorted(t for t in rows.keys() & tickers if rows[t] != item.published_at):
            yield Problem("tickers", f"item_tickers row ({item.id!r}, {ticker!r}) is dated {rows[ticker]}, its item {iso(item.published_at)}")  # fmt: skip


# --- watermarks ------------------------------------------------------------------------------


def check_watermarks(snap: Snapshot, now: datetime | None = None) -> list[Problem]:
    """Every ``pipeline_state`` value shaped like a saved watermark (it has ``inputs``)."""
    limit = (now or utc_now()) + FUTURE_SLACK
    problems: list[Problem] = []
    for key, raw in snap.rows("SELECT key, value FROM pipeline_state ORDER BY key"):
        value = snap.dialect.json_out(raw)
        if isinstance(value, dict) and "inputs" in value:
            problems.extend(
                Problem("watermark", f"{key!r}: {m}") for m in _watermark_issues(value, limit)
            )
        if str(key).startswith(WORKER_PREFIX):
            problems.extend(
                Problem("workers", f"{key!r}: {m}")
                for m in _worker_issues(str(key), value, now or utc_now())
            )
    return problems


def _worker_issues(key: str, state: Any, now: datetime) -> Iterator[str]:
    """A worker's saved progress (``watermark/<worker id>``, see ``finsentry/workers.py``)."""
    if not isinstance(state, dict):
        yield "a worker's state must be a JSON object"
        return
    if state.get("worker") not in (None, key[len(WORKER_PREFIX) :]):
        yield f"names worker {state.get('worker')!r}, not the one in its key"
    beat = _aware(state.get("heartbeat")) if state.get("heartbeat") is not None else None
    if beat is None:
        yield "has no heartbeat (an ISO-8601 time with a UTC offset): it never counts as live"
        return
    if beat > now + HEARTBEAT_SLACK:
        yield (f"heartbeat {iso(beat)} is ahead of this clock: check the worker host's clock "
               "(a worker ahead of time would hold the others back past its lease)")  # fmt: skip
    closed = set(state.get("closed") or ())
    open_inputs = sorted(set(state.get("inputs") or {}) - closed)
    if state.get("running") and now - beat > STALE_WORKER and (open_inputs or state.get("holding")):
        yield (f"last seen at {iso(beat)} and never stopped (killed, or its host died) with "
               f"{len(open_inputs)} open input(s); past its lease it no longer holds the "
               "watermark back. Delete this pipeline_state row if the worker will not return")  # fmt: skip


def _watermark_issues(state: dict[str, Any], limit: datetime) -> Iterator[str]:
    inputs, closed = state.get("inputs"), state.get("closed", [])
    if not isinstance(inputs, dict) or not isinstance(closed, list):
        yield "inputs must be an object of input -> time and closed a list of inputs"
        return
    times: dict[str, datetime] = {}
    for name, stamp in sorted(inputs.items()):
        when = _aware(stamp)
        if when is None:
            yield f"input {name!r} has {stamp!r}, not an ISO-8601 time with a UTC offset"
        elif when > limit:
            yield f"input {name!r} is at {iso(when)}, more than a day ahead of the clock"
        else:
            times[name] = when
        if name not in closed and _unresolved_path(name):
            yield (f"input {name!r} is open under an unresolved path: files are named by their "
                   "resolved path, so it would never be closed and holds the watermark back")  # fmt: skip
    for name in sorted(set(closed) - inputs.keys()):
        yield f"closed input {name!r} is not among the inputs"
    if not state.get("unheard"):  # an assigned partition not heard from holds the value back
        yield from _value_issues(state.get("value"), times, set(closed))


def _value_issues(value: Any, times: dict[str, datetime], closed: set[str]) -> Iterator[str]:
    active = [t for name, t in times.items() if name not in closed]
    saved = _aware(value) if value is not None else None
    if value is not None and saved is None:
        yield f"value {value!r} is not an ISO-8601 time with a UTC offset"
    elif active and saved is not None and saved > min(active):
        yield f"value {iso(saved)} is ahead of its slowest open input ({iso(min(active))})"
    elif not active and times and saved is not None and saved != max(times.values()):
        yield f"value {iso(saved)} should be the largest input time {iso(max(times.values()))} (all inputs closed)"  # fmt: skip
    elif times and value is None and not active:
        yield "value is missing though every input is closed"


def _aware(stamp: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return None if when.tzinfo is None else as_utc(when)


def _unresolved_path(name: str) -> bool:
    if "://" in name or name.startswith("<"):
        return False  # a feed URL, <stdin>
    parts = name.split("/")
    return name.startswith(("./", "../")) or "." in parts or ".." in parts or "//" in name


# --- outbox ----------------------------------------------------------------------------------


def check_outbox(snap: Snapshot) -> list[Problem]:
    rows = snap.rows(
        "SELECT n.key, n.alert_id, n.channel, n.status, n.attempts, n.delivered_at, a.id "
        "FROM notifications n LEFT JOIN alerts a ON a.id = n.alert_id ORDER BY n.key"
    )
    return [Problem("outbox", m) for row in rows for m in _notification_issues(*row)]


def _notification_issues(
    key: str, alert_id: str, channel: str, status: str, attempts: int, delivered: Any, alert: Any
) -> Iterator[str]:
    name = f"notification {key!r}"
    if status not in NOTIFICATION_STATES:
        yield f"{name} has status {status!r}; valid: {', '.join(NOTIFICATION_STATES)}"
    if int(attempts) < 0:
        yield f"{name} has {attempts} attempts"
    if status == "delivered" and delivered is None:
        yield f"{name} is delivered but has no delivered_at"
    if status != "delivered" and delivered is not None:
        yield f"{name} is {status} but has a delivered_at"
    if alert is None:
        yield f"{name} belongs to alert {alert_id!r}, which is not stored"
    if key != f"{alert_id}:{channel}":
        yield f"{name} should be keyed {json.dumps(f'{alert_id}:{channel}')}"
