"""Event-time tumbling windows and the watermark.

Windows are aligned to the Unix epoch in UTC, at several sizes at once, per scope: everything
(``all``/``*``), each ticker, each topic and each source. A window statistic holds counts and sums
only, so deltas from any batch split, any number of writers or any arrival order add up to the
same totals (see :meth:`WindowStat.merge`).

Scores enter the sums quantised to multiples of 2**-20 (about 1e-6): a float64 adds such numbers
exactly (up to ~2**32 items per window), so sums do not depend on the order they were added in,
and SQLite, PostgreSQL and one clean pass agree to the last bit.

The watermark is the minimum over the active inputs (files, Kafka partitions) of each input's
largest event time, minus the allowed lateness. An item dated before the watermark as it stood
before its batch is *late*: it is still stored and counted, and also counted in ``late``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from finsentry.schema import NewsItem, ScopeKind, ScoredItem, WindowKey, WindowStat, as_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCORE_QUANTUM = 2.0**-20


def quantize_score(score: float) -> float:
    """A score on the 2**-20 grid, so that sums of scores are exact and order independent."""
    return round(score / SCORE_QUANTUM) * SCORE_QUANTUM


def window_start(ts: datetime, size_s: int) -> datetime:
    """Start of the epoch-aligned tumbling window of ``size_s`` seconds that holds ``ts`` (UTC)."""
    if size_s <= 0:
        raise ValueError(f"window size must be positive seconds, got {size_s}")
    elapsed = as_utc(ts) - EPOCH
    size = timedelta(seconds=size_s)
    periods: int = elapsed // size
    return EPOCH + timedelta(seconds=periods * size_s)


def item_scopes(item: ScoredItem) -> list[tuple[ScopeKind, str]]:
    """The scopes one scored item counts in: all, each of its tickers, its topic, its source."""
    scopes: list[tuple[ScopeKind, str]] = [(ScopeKind.ALL, "*")]
    scopes.extend((ScopeKind.TICKER, ticker) for ticker in dict.fromkeys(item.tickers))
    scopes.append((ScopeKind.TOPIC, item.scores.topic))
    scopes.append((ScopeKind.SOURCE, item.item.source))
    return scopes


def _epoch_seconds(ts: datetime) -> int:
    """Whole seconds since the epoch, floored (so windows hold [start, start + size))."""
    return (as_utc(ts) - EPOCH) // _SECOND


_SECOND = timedelta(seconds=1)
_SENTIMENT_SLOT = {"negative": 1, "neutral": 2, "positive": 3}


WindowKeyTuple = tuple[int, int, ScopeKind, str]  # size, start (epoch seconds), kind, value
# A window delta in the store's column order: size, start, end, scope kind, scope value, count,
# negative, neutral, positive, score_sum, duplicates, late.
WindowRow = tuple[int, datetime, datetime, str, str, int, int, int, int, float, int, int]


def window_deltas(items: Sequence[ScoredItem], sizes_s: Sequence[int]) -> list[WindowStat]:
    """The window statistics these items add, one per (size, start, scope), in key order.

    Novel items add to ``count``, the sentiment counts and ``score_sum``; duplicates add to
    ``duplicates``; late items additionally add to ``late``. Ticker scopes count the sentiment
    towards that ticker (:meth:`ScoredItem.towards`); the other scopes the headline's.
    """
    acc = _window_sums(items, sizes_s)
    starts: dict[int, datetime] = {}
    out = []
    for key in sorted(acc):
        size, start, kind, value = key
        when = starts.get(start)
        if when is None:
            when = starts[start] = EPOCH + timedelta(seconds=start)
        b = acc[key]
        out.append(WindowStat(size, when, kind, value, b[0], b[1], b[2], b[3], b[4], b[5], b[6]))
    return out


def window_delta_rows(items: Sequence[ScoredItem], sizes_s: Sequence[int]) -> list[WindowRow]:
    """:func:`window_deltas` as rows in the store's column order (what a batch write upserts:
    one row per distinct window and scope, in key order), without building WindowStat objects."""
    acc = _window_sums(items, sizes_s)
    times: dict[int, datetime] = {}
    out: list[WindowRow] = []
    for key in sorted(acc):
        size, start, kind, value = key
        begin, end = times.get(start), times.get(start + size)
        if begin is None:
            begin = times[start] = EPOCH + timedelta(seconds=start)
        if end is None:
            end = times[start + size] = EPOCH + timedelta(seconds=start + size)
        b = acc[key]
        out.append((size, begin, end, kind.value, value, b[0], b[1], b[2], b[3], b[4], b[5], b[6]))
    return out


def _window_sums(items: Sequence[ScoredItem], sizes_s: Sequence[int]) -> dict[WindowKeyTuple, Any]:
    """Per (size, start epoch s, kind, value): [count, neg, neu, pos, score_sum, dup, late].

    When every size is a multiple of the smallest (60 s, 5 min, 1 h), the items are summed into
    the smallest windows only and the larger ones are summed from those: a window of a larger
    size holds exactly the smaller windows that start in it. Scores are on a binary grid
    (:func:`quantize_score`), so the sums are the same in any order."""
    sizes = sorted(set(sizes_s))
    if any(size <= 0 for size in sizes):
        raise ValueError(f"window sizes must be positive seconds, got {sizes}")
    finest = sizes[0]
    if len(sizes) == 1 or any(size % finest for size in sizes):
        return _item_sums(items, sizes)
    acc = _item_sums(items, [finest])
    smallest = list(acc.items())
    for size in sizes[1:]:
        for (_, start, kind, value), part in smallest:
            key = (size, start - start % size, kind, value)
            into = acc.get(key)
            if into is None:
                acc[key] = list(part)
                continue
            into[0] += part[0]
            into[1] += part[1]
            into[2] += part[2]
            into[3] += part[3]
            into[4] += part[4]
            into[5] += part[5]
            into[6] += part[6]
    return acc


def _item_sums(items: Sequence[ScoredItem], sizes: Sequence[int]) -> dict[WindowKeyTuple, Any]:
    """:func:`_window_sums` item by item, each item into a window of every size."""
    acc: dict[WindowKeyTuple, list[Any]] = {}
    for item in items:
        epoch = _epoch_seconds(item.published_at)
        novel, late = item.novel, int(item.late)
        headline = (_SENTIMENT_SLOT[item.scores.sentiment], quantize_score(item.scores.score))
        scopes = [
            (kind, value, _ticker_sentiment(item, value) if kind is ScopeKind.TICKER else headline)
            for kind, value in item_scopes(item)
        ]
        for size in sizes:
            start = epoch - epoch % size
            for kind, value, (slot, score) in scopes:
                key = (size, start, kind, value)
                bucket = acc.get(key)
                if bucket is None:
                    bucket = acc[key] = [0, 0, 0, 0, 0.0, 0, 0]
                if novel:
                    bucket[0] += 1
                    bucket[slot] += 1
                    bucket[4] += score
                else:
                    bucket[5] += 1
                bucket[6] += late
    return acc


def _ticker_sentiment(item: ScoredItem, ticker: str) -> tuple[int, float]:
    towards = item.towards(ticker)
    return _SENTIMENT_SLOT[towards.sentiment], quantize_score(towards.score)


def merge_stats(stats: Iterable[WindowStat]) -> dict[WindowKey, WindowStat]:
    """Fold window statistics by key (what a store does with deltas)."""
    merged: dict[WindowKey, WindowStat] = {}
    for stat in stats:
        previous = merged.get(stat.key)
        merged[stat.key] = stat if previous is None else previous.merge(stat)
    return merged


class Watermark:
    """Per-input maximum event time, and the watermark derived from it.

    ``value`` is the minimum over active inputs of their largest event time, minus the allowed
    lateness. A bounded input that has been read to the end is closed: it no longer holds the
    watermark back, and when only closed inputs remain everything is final (the watermark is the
    largest event time seen). A revoked partition is removed altogether.
    """

    def __init__(self, allowed_lateness_s: int, state: dict[str, Any] | None = None) -> None:
        if allowed_lateness_s < 0:
            raise ValueError("allowed lateness must be >= 0 seconds")
        self.allowed_lateness = timedelta(seconds=allowed_lateness_s)
        self._max: dict[str, datetime] = {}
        self._closed: set[str] = set()
        if state:
            for name, stamp in dict(state.get("inputs", {})).items():
                self._max[str(name)] = as_utc(datetime.fromisoformat(str(stamp)))
            self._closed = {str(name) for name in state.get("closed", ()) if name in self._max}

    def observe(self, items: Sequence[NewsItem]) -> list[bool]:
        """Late flags for a batch (against the watermark before it), then advance the inputs."""
        before = self.value
        flags = [before is not None and as_utc(item.published_at) < before for item in items]
        for item in items:
            stamp = as_utc(item.published_at)
            current = self._max.get(item.input)
            if current is None or stamp > current:
                self._max[item.input] = stamp
            self._closed.discard(item.input)
        return flags

    def close_input(self, input: str) -> None:
        """A bounded input (a file) was read to its end."""
        if input in self._max:
            self._closed.add(input)

    def remove_input(self, input: str) -> None:
        """A partition was revoked: another consumer owns its progress now."""
        self._max.pop(input, None)
        self._closed.discard(input)

    @property
    def inputs(self) -> dict[str, datetime]:
        """Largest event time per known input (active and closed)."""
        return dict(self._max)

    @property
    def value(self) -> datetime | None:
        active = [stamp for name, stamp in self._max.items() if name not in self._closed]
        if active:
            return min(active) - self.allowed_lateness
        if self._max:
            return max(self._max.values())
        return None

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; ``Watermark(lateness, state)`` restores it."""
        return {
            "inputs": {name: stamp.isoformat() for name, stamp in sorted(self._max.items())},
            "closed": sorted(self._closed),
            "value": None if self.value is None else self.value.isoformat(),
        }


class PartitionWatermark(Watermark):
    """The pipeline's watermark, also held back by assigned partitions that have not spoken yet.

    Right after an assignment, a partition that has delivered nothing is unknown, and the minimum
    over the others could run ahead of it: its on-time items would then count as late. Such a
    partition holds the watermark (no value) until it delivers or is released as idle.
    """

    def __init__(self, base: Watermark) -> None:
        super().__init__(int(base.allowed_lateness.total_seconds()), base.to_state())
        self._unheard: set[str] = set()

    def expect(self, inputs: Sequence[str]) -> None:
        known = self.inputs
        self._unheard.update(name for name in inputs if name not in known)

    def observe(self, items: Sequence[NewsItem]) -> list[bool]:
        flags = super().observe(items)
        self._unheard.difference_update(item.input for item in items)
        return flags

    def close_input(self, input: str) -> None:
        self._unheard.discard(input)
        super().close_input(input)

    def remove_input(self, input: str) -> None:
        self._unheard.discard(input)
        super().remove_input(input)

    @property
    def unheard(self) -> set[str]:
        return set(self._unheard)

    @property
    def value(self) -> datetime | None:
        return None if self._unheard else super().value
