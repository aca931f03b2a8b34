"""Finding near-duplicate titles without scanning: an index of word sets that returns, for a
query set, every indexed set whose Jaccard similarity with it can reach a threshold, and few
others. :mod:`finsentry.dedup` then checks each candidate exactly.

How (prefix filtering over k-word combinations). Every word set is sorted by one fixed order of
words (a hash of the word). If two sets ``x`` and ``y`` have Jaccard similarity at least ``t``,
they share at least ``o = ceil(t * |x|)`` words (and ``ceil(t * |y|)``). The first
``|x| - o + k`` words of ``x`` hold at most ``|x| - o`` words that ``y`` lacks, so they hold the
``k`` smallest shared words; so do the first ``|y| - o + k`` words of ``y``. Each set is indexed
under the ``k``-word combinations of its prefix, and a query looks up the combinations of its own
prefix: a pair above the threshold always meets on its ``k`` smallest shared words, so nothing is
missed, unlike MinHash LSH, and the answer does not depend on random hashing.

The cost of a look-up is the number of sets that share ``k`` prefix words with the query, which
for ``k`` = 4 (short titles: up to 8 words), 3 (up to 12) or 2 (longer) is a handful whatever the
number of indexed titles, where a MinHash index tuned to find pairs at 0.65 returns a fixed share
of everything indexed. Short titles take 4 words because a title of 7 words shares 3 of its first
5 with many others in a busy stream of one company (24 candidates a look-up against 2 over two
days of ``benchmarks/pipeline_memory.py``); ``k`` is never more than the words a pair must share.

A combination is kept as its hash (a collision only adds a candidate), and the keys found under it
as one string, joined by NUL (keys never hold one). So the table holds only numbers and strings,
which the garbage collector does not track: its full collections, which come at a steady rate per
item processed, do not walk the table's hundreds of thousands of entries or a list per entry.
"""

from __future__ import annotations

import math
import zlib
from array import array
from collections.abc import Iterable, Sequence
from itertools import combinations

__all__ = ["WordSetIndex"]

_SEP = "\x00"  # between the keys under one combination
_EPS = 1e-9  # the overlap and size bounds are taken a hair low: never miss a pair at the threshold
_SHORT = 8  # sets up to this size are indexed by 4 words: 3 shared words are common in short ones
_LONG = 12  # sets longer than this are indexed by word pairs (fewer keys), shorter by triples


class WordSetIndex:
    """Word sets by key (an item id); :meth:`candidates` gives every key whose set has a Jaccard
    similarity of at least ``threshold`` with a query set (and a few more: check them).

    The ``*_ordered`` methods take a set already in the index's order (:meth:`order`), for a
    caller that files and looks up the same set: it is ordered once."""

    def __init__(self, threshold: float) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("the similarity threshold must be in (0, 1]")
        self.threshold = threshold
        self._postings: dict[int, str] = {}  # the keys under a combination, joined by _SEP
        self._filed_by: dict[int, tuple[int, int]] = {}  # set size -> (k, prefix length)
        self._looked_up_by: dict[int, tuple[tuple[int, int], ...]] = {}  # same, for a query

    def __len__(self) -> int:
        return len(self._postings)

    def add(self, key: str, words: Iterable[str]) -> None:
        self.file(key, self.combinations(words))

    def remove(self, key: str, words: Iterable[str]) -> None:
        """Forget ``key``, indexed with these ``words`` (the same set as when it was added)."""
        self.unfile(key, self.combinations(words))

    @staticmethod
    def order(words: Iterable[str]) -> tuple[str, ...]:
        """The distinct ``words`` in the one fixed order every set is cut by."""
        return tuple(_ordered(words))

    def combinations(self, words: Iterable[str]) -> bytes:
        """The combinations a set of ``words`` is filed under (hashes, packed: bytes are not
        tracked by the garbage collector): keep them to :meth:`unfile` the set later without
        ordering and combining its words again."""
        return self.combinations_ordered(_ordered(words))

    def combinations_ordered(self, ordered: Sequence[str]) -> bytes:
        """:meth:`combinations` of a set given in :meth:`order`."""
        size = len(ordered)
        plan = self._filed_by.get(size)
        if plan is None:
            k = self._k(size)
            plan = self._filed_by[size] = (k, self._prefix(size, k))
        k, prefix = plan
        return array("q", map(hash, combinations(ordered[:prefix], k))).tobytes()

    def file(self, key: str, combos: bytes) -> None:
        """Index ``key`` under the ``combos`` of its words (:meth:`combinations`)."""
        if not key or _SEP in key:
            raise ValueError("a word-set key must be a non-empty string without NUL")
        postings = self._postings
        for combo in memoryview(combos).cast("q"):
            held = postings.get(combo)
            postings[combo] = key if held is None else held + _SEP + key

    def unfile(self, key: str, combos: bytes) -> None:
        """Forget ``key``, filed under ``combos``."""
        postings = self._postings
        for combo in memoryview(combos).cast("q"):
            held = postings.pop(combo, None)  # one look-up for the usual case: the key alone
            if held is None or held == key:
                continue
            keys = held.split(_SEP)
            if key in keys:
                keys.remove(key)
            postings[combo] = _SEP.join(keys)

    def candidates(self, words: Iterable[str]) -> set[str]:
        """Every indexed key whose set may reach the threshold with ``words``."""
        return self.candidates_ordered(_ordered(words))

    def candidates_ordered(self, ordered: Sequence[str]) -> set[str]:
        """:meth:`candidates` of a set given in :meth:`order`."""
        size = len(ordered)
        if not size:
            return set()
        plans = self._looked_up_by.get(size)
        if plans is None:
            plans = self._looked_up_by[size] = self._query_plans(size)
        found: set[str] = set()
        get = self._postings.get
        for k, prefix in plans:
            for combo in map(hash, combinations(ordered[:prefix], k)):
                held = get(combo)
                if held is None:
                    continue
                if _SEP in held:
                    found.update(held.split(_SEP))
                else:
                    found.add(held)
        return found

    def _query_plans(self, size: int) -> tuple[tuple[int, int], ...]:
        """(k, prefix length) of each way a set that may reach the threshold with a query of
        ``size`` words is filed: by the sizes it can have, each k once, the smallest first."""
        low = max(1, math.ceil(self.threshold * size - _EPS))
        high = math.floor(size / self.threshold + _EPS)
        ks = sorted({self._k(n) for n in range(low, high + 1)})
        return tuple((k, self._prefix(size, k)) for k in ks)

    def _overlap(self, size: int) -> int:
        """The fewest shared words a set of ``size`` words has with any set at the threshold."""
        return max(1, math.ceil(self.threshold * size - _EPS))

    def _k(self, size: int) -> int:
        """How many words a set of ``size`` words is indexed by: never more than it must share."""
        return min(self._overlap(size), 4 if size <= _SHORT else 3 if size <= _LONG else 2)

    def _prefix(self, size: int, k: int) -> int:
        return min(size, size - self._overlap(size) + k)


def _ordered(words: Iterable[str]) -> list[str]:
    """The words in the one fixed order every set is cut by (a hash, then the word)."""
    return sorted(set(words), key=_rank)


def _rank(word: str) -> tuple[int, str]:
    return zlib.crc32(word.encode("utf-8")), word
