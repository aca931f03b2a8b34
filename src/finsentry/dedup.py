"""Duplicates and novelty: the same story syndicated by several sources, or re-posted with small
edits, is recognised within a horizon (by event time) and linked to its first occurrence.

Two headlines are the same story when

- their *normalised titles* are equal (case, accents, punctuation and syndication markers such as
  "UPDATE 1-" or "EXCLUSIVE:" removed), or
- they are *near duplicates*: the Jaccard similarity of their content words is at least
  :data:`NEAR_THRESHOLD` (candidates come from an index of word combinations,
  :class:`~finsentry.word_sets.WordSetIndex`, that misses no pair at the threshold and returns a
  handful of others whatever its size; the exact Jaccard decides),
  and they are not about different companies (their ticker sets overlap, or one has none) and
  no capitalised name was swapped for another ("Fed chair says ..." vs "SNB chair says ...").
  The ticker condition keeps "Apple shares slide after downgrade" and "Nike shares slide after
  downgrade" apart, which differ in one word just as much as a re-edit does.

The first occurrence (earliest ``published_at``, ties by id) is novel; the others are marked
duplicates of it. Items are compared with every item seen within reach (this run's items, novel or
not, the items already in the store with their marks, loaded lazily for the stretch of time a batch
can reach, from :meth:`Store.stored_marks`, and what other workers stored since, read before each
batch by :meth:`Deduplicator.refresh`).

Each item gets a ``fingerprint`` the store keeps in ``items.fingerprint``:
``v1|<exact hash>|<tickers, comma separated>|<normalised title>``. It holds all the index needs, so
the index is rebuilt from the store without re-reading headlines.

Novelty is decided in event time, not arrival order: when a copy arrives in a later batch but is
dated earlier than the stored original, the copy becomes the original and the stored item is
*revised* to a duplicate (:class:`Revision`, applied by the store in the batch's transaction, which
moves its window contributions). Why revise rather than wait for the watermark: see "De-duplication
and arrival order" in docs/internals.md.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from finsentry.aggregate import window_deltas
from finsentry.fingerprint import Fingerprint, fingerprint, jaccard, title_tokens
from finsentry.schema import NewsItem, ScoredItem, WindowStat, as_utc, utc_now
from finsentry.store.base import Store
from finsentry.word_sets import WordSetIndex

if TYPE_CHECKING:
    from finsentry.entities import EntityTagger

__all__ = [
    "DedupMark", "Deduplicator", "Fingerprint", "Revision", "fingerprint", "jaccard",
    "revision_deltas", "title_tokens",
]  # fmt: skip

NEAR_THRESHOLD = 0.65
CLOCK_SKEW = timedelta(seconds=5)  # between workers' hosts, when reading what others stored


@dataclass(frozen=True, slots=True)
class DedupMark:
    """Whether an item is the first occurrence of its story, and if not, which item was."""

    novel: bool
    duplicate_of: str | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Revision:
    """A stored item whose marks change because an earlier copy of its story arrived after it:
    the store rewrites its ``novel``/``duplicate_of`` and moves its window contributions."""

    item_id: str
    novel: bool
    duplicate_of: str | None


# An indexed item is a plain tuple of strings, a time and bytes (its word and name sets as
# sorted tuples): the garbage collector stops tracking such a tuple, so the tens of thousands of
# items the index holds add nothing to walk at each full collection. Its marks are kept apart,
# in ``Deduplicator._marks`` (its original's id; None when it is novel).
_Entry = tuple[str, datetime, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], str, bytes]
_ID: Final = 0
_AT: Final = 1
_EXACT: Final = 2
_TICKERS: Final = 3
_WORDS: Final = 4  # the content words (shingles), in the near-duplicate index's order
_NAMES: Final = 5
_CODE: Final = 6  # the encoded fingerprint
_COMBOS: Final = 7  # where the near-duplicate index filed it


def _order(entry: _Entry) -> tuple[datetime, str]:
    return (entry[_AT], entry[_ID])


class Deduplicator:
    """Marks items novel or duplicate by event time, whatever order they arrive in.

    Every item within reach (novel or duplicate) stays indexed. An item's marks are those of a
    pass over all indexed items in ``(published_at, id)`` order: novel unless an earlier novel
    item of the same story lies within the horizon, else a duplicate of the earliest one. When
    an item arrives that is earlier than items already marked, the items after it whose marks
    change are re-marked (a change can cascade) and handed out by :meth:`take_revisions`.
    The pipeline trims the index behind its watermark (:meth:`forget_behind`).
    """

    def __init__(
        self, store: Store, horizon: timedelta, tagger: EntityTagger | None = None
    ) -> None:
        if horizon <= timedelta(0):
            raise ValueError("the duplicate horizon must be positive (FINSENTRY_DEDUP_HORIZON_H)")
        self.store = store
        self.horizon = horizon
        self._tagger = tagger
        self._seeded_from: datetime | None = None  # stored items from here on are indexed
        self._needed_from: datetime | None = None  # how far back the last batch reached
        self._by_id: dict[str, _Entry] = {}
        self._marks: dict[str, str | None] = {}  # the original of each duplicate; None: novel
        self._by_exact: dict[str, str | list[str]] = {}  # one id unboxed (fewer objects)
        self._near = WordSetIndex(NEAR_THRESHOLD)
        self._ages: list[tuple[datetime, str]] = []  # a heap: the oldest indexed item first
        self._revisions: dict[str, Revision] = {}
        self._synced_at: datetime | None = None

    # --- index -----------------------------------------------------------------------------

    def _ensure_index(self, earliest: datetime) -> None:
        """Load the stored items (novel and duplicates, with their marks) that items from
        ``earliest`` on may be copies of, or originals of. Every stored item dated from
        ``_seeded_from`` on is indexed, so only the stretch before it is read, once."""
        want = earliest - self.horizon
        self._needed_from = want
        if self._seeded_from is not None and want >= self._seeded_from:
            return
        rows = self.store.stored_marks(want, self._seeded_from)
        self._seeded_from = want
        self._index_rows([r for r in rows if r[0] not in self._by_id])

    def _index_rows(self, rows: Sequence[tuple[str, str, datetime, bool, str | None]]) -> None:
        for item_id, text, published_at, novel, duplicate_of in rows:
            fp = Fingerprint.decode(text)
            if fp is not None:
                at = as_utc(published_at)
                self._add(_entry(self._near, item_id, at, fp))
                self._set_mark(item_id, novel, duplicate_of)

    def _add(self, entry: _Entry) -> None:
        item_id, exact = entry[_ID], entry[_EXACT]
        self._by_id[item_id] = entry
        self._marks[item_id] = None
        ids = self._by_exact.get(exact)
        if ids is None:
            self._by_exact[exact] = item_id
        elif isinstance(ids, str):
            self._by_exact[exact] = [ids, item_id]
        else:
            ids.append(item_id)
        self._near.file(item_id, entry[_COMBOS])
        heapq.heappush(self._ages, (entry[_AT], item_id))

    def _drop(self, entry: _Entry) -> None:
        item_id, exact = entry[_ID], entry[_EXACT]
        del self._by_id[item_id]
        del self._marks[item_id]
        ids = self._by_exact.get(exact)
        if ids == item_id:
            del self._by_exact[exact]
        elif isinstance(ids, list) and item_id in ids:
            ids.remove(item_id)
            if len(ids) == 1:
                self._by_exact[exact] = ids[0]
        self._near.unfile(item_id, entry[_COMBOS])

    def _novel(self, item_id: str) -> bool:
        return self._marks[item_id] is None

    def _mark_of(self, item_id: str) -> tuple[bool, str | None]:
        """(novel, duplicate_of) of an indexed item."""
        original = self._marks[item_id]
        return (True, None) if original is None else (False, original or None)

    def _set_mark(self, item_id: str, novel: bool, duplicate_of: str | None) -> None:
        self._marks[item_id] = None if novel else (duplicate_of or "")

    def refresh(self, others_since: Callable[[datetime], bool] | None = None) -> datetime | None:
        """Take in what other workers stored or re-marked since the last call; the caller holds
        the store's exclusive lock, so nobody writes meanwhile. Their items join the index with
        their stored marks, and stored marks replace ours. Returns the earliest event time of
        what others changed (the detectors re-read from there), or None. ``others_since(t)``
        says whether another worker may have written since ``t``; when none has, nothing is
        read (a lone worker would only read back its own items)."""
        now = utc_now()
        since, self._synced_at = self._synced_at, now
        if since is None:
            return None  # the first mark() seeds the index from the store
        if others_since is not None and not others_since(since - CLOCK_SKEW):
            return None
        changed: list[datetime] = []
        fresh = []
        for row in self.store.items_changed_since(since - CLOCK_SKEW):
            item_id, _, published_at, novel, duplicate_of = row
            entry = self._by_id.get(item_id)
            if entry is None:
                changed.append(as_utc(published_at))
                if self._seeded_from is not None:  # else the first mark() loads it
                    fresh.append(row)
            elif self._mark_of(item_id) != (novel, duplicate_of):
                self._set_mark(item_id, novel, duplicate_of)
                changed.append(entry[_AT])
        self._index_rows(fresh)
        return min(changed, default=None)

    def forget_behind(self, watermark: datetime | None) -> int:
        """Forget the items dated more than the horizon and a margin (a quarter of the horizon)
        before the watermark, except what the last batch reached back to: an on-time item (dated
        at or after the watermark) cannot be a copy of them. Keyed to the watermark, not to the
        newest item, so that one partition running ahead of another does not drop what the
        other still needs. The margin spares the store a read for items a little late; an item
        further behind has the forgotten stretch read back from the store by the next
        :meth:`mark`, so late items are compared with everything, however late. Returns how many
        were forgotten."""
        if watermark is None or not self._by_id:
            return 0
        cutoff = as_utc(watermark) - self.horizon - self.horizon / 4
        if self._needed_from is not None:
            cutoff = min(cutoff, self._needed_from)  # a backfill far behind: no read per batch
        if self._seeded_from is not None and cutoff > self._seeded_from:
            self._seeded_from = cutoff  # what is stored from here on stays indexed
        old = []
        while self._ages and self._ages[0][0] < cutoff:
            published_at, item_id = heapq.heappop(self._ages)
            entry = self._by_id.get(item_id)
            if entry is not None and entry[_AT] == published_at:
                old.append(entry)
        for entry in old:
            self._drop(entry)
        return len(old)

    # --- marking ---------------------------------------------------------------------------

    def _same_story(self, entry: _Entry) -> list[_Entry]:
        """The indexed items of the same story as ``entry`` within the horizon (symmetric)."""
        found: dict[str, _Entry] = {}
        at, horizon, tickers, exact = entry[_AT], self.horizon, entry[_TICKERS], entry[_EXACT]
        same = self._by_exact.get(exact, ())
        for cand in (same,) if isinstance(same, str) else same:
            other = self._by_id[cand]
            near_in_time = abs(other[_AT] - at) <= horizon
            if near_in_time and _same_companies(other[_TICKERS], tickers):
                found[cand] = other
        if entry[_WORDS]:
            words = frozenset(entry[_WORDS])
            for cand in self._near.candidates_ordered(entry[_WORDS]):
                near = self._by_id.get(cand)
                if near is None or near[_EXACT] == exact:
                    continue
                if _similarity(words, near[_WORDS]) < NEAR_THRESHOLD:
                    continue  # the usual reason: the index returns few others, checked first
                if abs(near[_AT] - at) > horizon:
                    continue
                if not _same_companies(near[_TICKERS], tickers):
                    continue
                if _same_names(near[_NAMES], entry[_NAMES]):
                    found[cand] = near
        found.pop(entry[_ID], None)
        return list(found.values())

    def _remark(self, entry: _Entry, story: list[_Entry]) -> None:
        """Novel unless an earlier novel item of the story exists; else a duplicate of the
        earliest such item."""
        order = _order(entry)
        earlier = [o for o in story if self._novel(o[_ID]) and _order(o) < order]
        original = min(earlier, key=_order) if earlier else None
        self._marks[entry[_ID]] = None if original is None else original[_ID]

    def mark(
        self, items: Sequence[NewsItem], tickers: Sequence[Sequence[str]] | None = None
    ) -> list[DedupMark]:
        """One mark per item, in item order. ``tickers`` are the tagger's tickers per item; when
        not given, the items are tagged here with the bundled watchlist. Items marked before
        whose marks change are collected for :meth:`take_revisions`."""
        if not items:
            return []
        if tickers is None:
            tickers = self._tag(items)
        if len(tickers) != len(items):
            raise ValueError("mark() needs one ticker tuple per item")
        self._ensure_index(min(as_utc(i.published_at) for i in items))
        new: list[_Entry] = []
        for item, found in zip(items, tickers, strict=True):
            if item.id not in self._by_id:  # else a replay, or the same id twice: same answer
                fp = fingerprint(item.headline, found)
                entry = _entry(self._near, item.id, as_utc(item.published_at), fp)
                self._add(entry)
                new.append(entry)
        self._settle(new)
        return [
            DedupMark(*self._mark_of(item.id), self._by_id[item.id][_CODE]) for item in items
        ]

    def _settle(self, new: list[_Entry]) -> None:
        """Mark the new entries and re-mark, in event-time order, every later entry whose
        earlier novel items changed. A mark depends only on earlier entries, and the heap hands
        them out in order, so each entry is settled once."""
        fresh = {e[_ID] for e in new}
        heap = [(_order(e), e[_ID]) for e in new]
        heapq.heapify(heap)
        queued = set(fresh)
        while heap:
            _, entry_id = heapq.heappop(heap)
            entry = self._by_id[entry_id]
            before = self._mark_of(entry_id)
            story = self._same_story(entry)
            self._remark(entry, story)
            after = self._mark_of(entry_id)
            if entry_id in fresh:
                spread = after[0]  # a new duplicate changes no later mark
            else:
                spread = before[0] != after[0]
                if before != after:
                    self._revisions[entry_id] = Revision(entry_id, *after)
            if spread:
                order = _order(entry)
                for other in story:
                    if _order(other) > order and other[_ID] not in queued:
                        queued.add(other[_ID])
                        heapq.heappush(heap, (_order(other), other[_ID]))

    def take_revisions(self) -> list[Revision]:
        """The items marked in earlier calls whose marks have changed since, once each (by id)."""
        revisions = [self._revisions[k] for k in sorted(self._revisions)]
        self._revisions = {}
        return revisions

    def _tag(self, items: Sequence[NewsItem]) -> list[tuple[str, ...]]:
        if self._tagger is None:
            from finsentry.entities import EntityTagger

            self._tagger = EntityTagger()
        return self._tagger.tag(items)


def revision_deltas(
    old: ScoredItem, revision: Revision, sizes_s: Sequence[int]
) -> tuple[ScoredItem, list[WindowStat]]:
    """The stored item as revised, and the window deltas that move its contributions: a novel
    item turned duplicate leaves ``count``, the sentiment counts and ``score_sum`` and joins
    ``duplicates`` (and the reverse). ``late`` is the item's own and does not move."""
    new = replace(old, novel=revision.novel, duplicate_of=revision.duplicate_of)
    if new.novel == old.novel:
        return new, []
    deltas = []
    for plus, minus in zip(window_deltas([new], sizes_s), window_deltas([old], sizes_s), strict=True):
        deltas.append(
            WindowStat(
                plus.size_s, plus.start, plus.scope_kind, plus.scope_value,
                plus.count - minus.count, plus.negative - minus.negative,
                plus.neutral - minus.neutral, plus.positive - minus.positive,
                plus.score_sum - minus.score_sum, plus.duplicates - minus.duplicates,
                plus.late - minus.late,
            )  # fmt: skip
        )
    return new, deltas


def _entry(index: WordSetIndex, item_id: str, at: datetime, fp: Fingerprint) -> _Entry:
    words = index.order(fp.shingles)  # ordered once, to file it and to look it up
    return (
        item_id, at, fp.exact, tuple(sorted(fp.tickers)), words,
        tuple(sorted(fp.names)), fp.encode(), index.combinations_ordered(words),
    )  # fmt: skip


def _similarity(words: frozenset[str], other: tuple[str, ...]) -> float:
    """The Jaccard similarity of ``words`` and the distinct words ``other`` (:func:`jaccard`)."""
    shared = len(words.intersection(other))
    union = len(words) + len(other) - shared
    return shared / union if union else 1.0


def _same_names(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """No name was swapped for another: "Germany factory activity flat" is not a re-edit of
    "Japan factory activity flat", though only one word differs. Adding a name is an edit."""
    if not a or not b:
        return True
    return set(a).issubset(b) or set(b).issubset(a)


def _same_companies(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Both name companies and share one, or at least one names none (nothing contradicts)."""
    return not set(a).isdisjoint(b) if a and b else True
