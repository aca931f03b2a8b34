"""Finding the records that break a stage, so the rest of their batch goes on.

A stage that fails on a batch is applied again to halves of it, down to single records; a record
that still fails alone is the culprit and becomes a dead letter, every other record keeps its
result. Only pure stages (tagging and scoring) or all-or-nothing ones (a store transaction) may be
split so: a failed attempt must leave nothing behind.

Some failures are about the machine, not the data: the database is unreachable or locked
(DB-API ``OperationalError``/``InterfaceError``), the disk or the network failed (``OSError``),
memory ran out. Those are raised at once, as is a failure of every record of a batch of several
(a broken model or store, not a poison record), so nothing is dead-lettered that a retry would mend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SYSTEMIC_NAMES = frozenset({"OperationalError", "InterfaceError"})
REASON_MAX_CHARS = 300


def is_systemic(exc: BaseException) -> bool:
    """True when ``exc`` says the environment failed rather than one record's data."""
    if isinstance(exc, OSError | MemoryError):
        return True
    return any(cls.__name__ in _SYSTEMIC_NAMES for cls in type(exc).__mro__)


def describe(stage: str, exc: BaseException) -> str:
    """A dead letter's reason for a record that failed ``stage`` alone (bounded length)."""
    text = f"{stage} failed for this record: {type(exc).__name__}: {exc}"
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 3] + "..."


@dataclass(slots=True)
class Isolated(Generic[R]):
    """Per input position, the result (``None`` where it failed) and the failures by position."""

    results: list[R | None]
    failures: dict[int, Exception] = field(default_factory=dict)


def isolate(items: Sequence[T], apply: Callable[[Sequence[T]], Sequence[R]]) -> Isolated[R]:
    """Apply ``apply`` (one result per item, in order) to ``items``, splitting around failures.

    Raises the error when it is systemic (:func:`is_systemic`) or when every one of several items
    fails on its own.
    """
    out: Isolated[R] = Isolated([None] * len(items))

    def attempt(lo: int, hi: int) -> None:
        try:
            results = apply(items[lo:hi])
        except Exception as exc:
            if is_systemic(exc):
                raise
            if hi - lo == 1:
                out.failures[lo] = exc
                return
            mid = (lo + hi) // 2
            attempt(lo, mid)
            attempt(mid, hi)
            return
        if len(results) != hi - lo:
            raise ValueError(f"a stage returned {len(results)} results for {hi - lo} items")
        out.results[lo:hi] = list(results)

    if items:
        attempt(0, len(items))
    if len(items) > 1 and len(out.failures) == len(items):
        raise out.failures[0]
    return out
