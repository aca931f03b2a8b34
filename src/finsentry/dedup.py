"""Duplicates and novelty: the same story syndicated by several sources, or re-posted with small
edits, is recognised within a horizon (by event time) and linked to its first occurrence.

Two headlines are the same story when

- their *normalised titles* are equal (case, accents, punctuation and syndication markers such as
  "UPDATE 1-" or "EXCLUSIVE:" removed), or
- they are *near duplicates*: the Jaccard similarity of their content words is at least
  :data:`NEAR_THRESHOLD` (candidates come from a MinHash LSH index, then the exact Jaccard decides),
  and they are not about different companies (their ticker sets overlap, or one has none) and
  no capitalised name was swapped for another ("Fed chair says ..." vs "SNB chair says ...").
  The ticker condition keeps "Apple shares slide after downgrade" and "Nike shares slide after
  downgrade" apart, which differ in one word just as much as a re-edit does.

The first occurrence (earliest ``published_at``, ties by id) is novel; the others are marked
duplicates of it. Items are compared with earlier items of the same batch and with the novel items
already in the store (loaded once, lazily, from :meth:`Store.fingerprints_since`).

Each item gets a ``fingerprint`` the store keeps in ``items.fingerprint``:
``v1|<exact hash>|<tickers, comma separated>|<normalised title>``. It holds all the index needs, so
the index is rebuilt from the store without re-reading headlines.

Novelty is decided in the order items reach the deduplicator: a copy that arrives in a later batch
but is dated earlier than the stored original is still marked the duplicate (stored rows are not
rewritten), so exactly one of them is counted either way.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from finsentry.schema import NewsItem, as_utc
from finsentry.store.base import Store

if TYPE_CHECKING:
    from finsentry.entities import EntityTagger

FINGERPRINT_VERSION = "v1"
NEAR_THRESHOLD = 0.65
LSH_THRESHOLD = 0.3  # recall ~0.99 at the decision threshold; the exact Jaccard then decides
NUM_PERM = 64

_SYNDICATION_PREFIX = re.compile(
    r"^(?:(?:update|updated|corrected|correction|refile|rpt|repeat|brief|exclusive|breaking|"
    r"urgent|wrapup|factbox|analysis|instant view|live|watch)\s*\d*\s*[-:\u2013\u2014|]\s*)+",
    re.IGNORECASE,
)
_ATTRIBUTION_SEPARATORS = (" - ", " | ", " \u2013 ", " \u2014 ")
_STOP_WORDS = frozenset(
    "a an the of to in on at for from by with as after before amid over into and or but is are "
    "be its it this that than says say said".split()
)
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.'][A-Za-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class DedupMark:
    """Whether an item is the first occurrence of its story, and if not, which item was."""

    novel: bool
    duplicate_of: str | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    exact: str
    tickers: frozenset[str]
    tokens: tuple[str, ...]

    def encode(self) -> str:
        tickers = ",".join(sorted(self.tickers))
        return f"{FINGERPRINT_VERSION}|{self.exact}|{tickers}|{' '.join(self.tokens)}"

    @classmethod
    def decode(cls, text: str) -> Fingerprint | None:
        parts = text.split("|", 3)
        if len(parts) != 4 or parts[0] != FINGERPRINT_VERSION:
            return None
        _, exact, tickers, tokens = parts
        return cls(exact, frozenset(t for t in tickers.split(",") if t), tuple(tokens.split()))

    @property
    def shingles(self) -> frozenset[str]:
        """The content words, lower-cased (stop words such as "the", "of" carry no story)."""
        words = [t.lower() for t in self.tokens]
        content = frozenset(t for t in words if t not in _STOP_WORDS)
        return content or frozenset(words)

    @property
    def names(self) -> frozenset[str]:
        """Words written with a capital (names, places, institutions), lower-cased."""
        return frozenset(low for t in self.tokens if (low := t.lower()) != t)


def title_tokens(headline: str) -> tuple[str, ...]:
    """The words of a headline as written, without accents, punctuation and syndication markers."""
    text = _SYNDICATION_PREFIX.sub("", headline.strip())
    stripped = _strip_attribution(text)
    if len(_TOKEN.findall(stripped.lower())) >= 4:  # never strip a short headline to nothing
        text = stripped
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("\u2019", "'")
    return tuple(_TOKEN.findall(text))


def _strip_attribution(text: str) -> str:
    """Drop a short attribution tail: " - Harbor Wire", " | sources", " (Bellwether)"."""
    cut = max(text.rfind(sep) for sep in _ATTRIBUTION_SEPARATORS)
    if cut > 0 and len(text[cut + 3 :].split()) <= 4:
        return text[:cut]
    if text.endswith(")"):
        opening = text.rfind("(")
        if 0 < opening and len(text) - opening <= 42:
            return text[:opening].rstrip()
    return text


def fingerprint(headline: str, tickers: Sequence[str] = ()) -> Fingerprint:
    tokens = title_tokens(headline)
    basis = " ".join(tokens).lower() if tokens else headline.strip().lower()
    exact = hashlib.sha1(basis.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
    return Fingerprint(exact, frozenset(tickers), tokens)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(slots=True)
class _Entry:
    id: str
    published_at: datetime
    fp: Fingerprint
    shingles: frozenset[str]
    names: frozenset[str]


class Deduplicator:
    """Marks items novel or duplicate against earlier items in the batch and in the store."""

    def __init__(
        self, store: Store, horizon: timedelta, tagger: EntityTagger | None = None
    ) -> None:
        if horizon <= timedelta(0):
            raise ValueError("the duplicate horizon must be positive (FINSENTRY_DEDUP_HORIZON_H)")
        self.store = store
        self.horizon = horizon
        self._tagger = tagger
        self._seeded = False
        self._by_id: dict[str, _Entry] = {}
        self._marks_by_id: dict[str, tuple[datetime, DedupMark]] = {}
        self._by_exact: dict[str, list[str]] = {}
        self._lsh: Any = None
        self._latest: datetime | None = None

    # --- index -----------------------------------------------------------------------------

    def _ensure_index(self, earliest: datetime) -> None:
        if self._lsh is None:
            from datasketch import MinHashLSH

            self._lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        if self._seeded:
            return
        self._seeded = True
        seeds = []
        for item_id, text, published_at in self.store.fingerprints_since(earliest - self.horizon):
            fp = Fingerprint.decode(text)
            if fp is not None and item_id not in self._by_id:
                seeds.append((item_id, as_utc(published_at), fp))
        self._add_many(seeds)

    def _add_many(
        self, entries: Sequence[tuple[str, datetime, Fingerprint]], hashes: Sequence[Any] = ()
    ) -> None:
        if not entries:
            return
        from datasketch import LeanMinHash

        shingles = [e[2].shingles for e in entries]
        if not hashes:
            hashes = _minhashes(shingles)
        for (item_id, published_at, fp), sh, mh in zip(entries, shingles, hashes, strict=True):
            entry = _Entry(item_id, published_at, fp, sh, fp.names)
            self._by_id[item_id] = entry
            self._by_exact.setdefault(fp.exact, []).append(item_id)
            if sh:
                self._lsh.insert(item_id, LeanMinHash(mh), check_duplication=False)
            self._marks_by_id.setdefault(
                item_id, (published_at, DedupMark(True, None, fp.encode()))
            )
            if self._latest is None or published_at > self._latest:
                self._latest = published_at

    def _evict(self) -> None:
        """Forget items far behind the newest one (twice the horizon, for late arrivals)."""
        if self._latest is None or len(self._marks_by_id) < 1024:
            return
        cutoff = self._latest - 2 * self.horizon
        for item_id in [k for k, (t, _) in self._marks_by_id.items() if t < cutoff]:
            del self._marks_by_id[item_id]
        old = [e for e in self._by_id.values() if e.published_at < cutoff]
        for entry in old:
            del self._by_id[entry.id]
            ids = self._by_exact.get(entry.fp.exact, [])
            if entry.id in ids:
                ids.remove(entry.id)
                if not ids:
                    del self._by_exact[entry.fp.exact]
            if entry.shingles:
                self._lsh.remove(entry.id)

    # --- marking ---------------------------------------------------------------------------

    def _original(
        self,
        fp: Fingerprint,
        shingles: frozenset[str],
        mh: Any,
        published_at: datetime,
        item_id: str,
    ) -> str | None:
        """The id of the earliest indexed novel item of the same story within the horizon."""
        candidates = [
            cand
            for cand in self._by_exact.get(fp.exact, ())
            if cand in self._by_id and _same_companies(self._by_id[cand].fp.tickers, fp.tickers)
        ]
        if shingles:
            names = fp.names
            for cand in self._lsh.query(mh):
                entry = self._by_id.get(cand)
                if entry is None or entry.fp.exact == fp.exact:
                    continue
                if not _same_companies(entry.fp.tickers, fp.tickers):
                    continue
                if not _same_names(entry.names, names):
                    continue
                if jaccard(entry.shingles, shingles) >= NEAR_THRESHOLD:
                    candidates.append(cand)
        best: _Entry | None = None
        for cand in candidates:
            entry = self._by_id.get(cand)
            if entry is None or entry.id == item_id:
                continue
            if abs(entry.published_at - published_at) > self.horizon:
                continue
            if best is None or (entry.published_at, entry.id) < (best.published_at, best.id):
                best = entry
        return best.id if best else None

    def mark(
        self, items: Sequence[NewsItem], tickers: Sequence[Sequence[str]] | None = None
    ) -> list[DedupMark]:
        """One mark per item, in item order. ``tickers`` are the tagger's tickers per item; when
        not given, the items are tagged here with the bundled watchlist."""
        if not items:
            return []
        if tickers is None:
            tickers = self._tag(items)
        if len(tickers) != len(items):
            raise ValueError("mark() needs one ticker tuple per item")
        self._ensure_index(min(as_utc(i.published_at) for i in items))
        marks: dict[int, DedupMark] = {}
        # Earliest first, so within a batch the first occurrence is the novel one.
        fps = [
            fingerprint(item.headline, found) for item, found in zip(items, tickers, strict=True)
        ]
        hashes = _minhashes([fp.shingles for fp in fps])
        order = sorted(range(len(items)), key=lambda i: (items[i].published_at, items[i].id))
        for index in order:
            item = items[index]
            published_at = as_utc(item.published_at)
            known = self._marks_by_id.get(item.id)
            if known is not None:  # a replay, or the same id twice: the same answer again
                marks[index] = known[1]
                continue
            fp = fps[index]
            original = self._original(fp, fp.shingles, hashes[index], published_at, item.id)
            mark = DedupMark(original is None, original, fp.encode())
            marks[index] = mark
            if original is None:
                # Index at once, so later items of the same batch find it.
                self._add_many([(item.id, published_at, fp)], [hashes[index]])
            else:
                self._marks_by_id[item.id] = (published_at, mark)
        self._evict()
        return [marks[i] for i in range(len(items))]

    def _tag(self, items: Sequence[NewsItem]) -> list[tuple[str, ...]]:
        if self._tagger is None:
            from finsentry.entities import EntityTagger

            self._tagger = EntityTagger()
        return self._tagger.tag(items)


def _minhashes(shingles: Sequence[frozenset[str]]) -> list[Any]:
    from datasketch import MinHash

    encoded = [[s.encode("utf-8") for s in sh] for sh in shingles]
    return list(MinHash.bulk(encoded, num_perm=NUM_PERM))


def _same_names(a: frozenset[str], b: frozenset[str]) -> bool:
    """No name was swapped for another: "Germany factory activity flat" is not a re-edit of
    "Japan factory activity flat", though only one word differs. Adding a name is an edit."""
    return not (a - b and b - a)


def _same_companies(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both name companies and share one, or at least one names none (nothing contradicts)."""
    return bool(a & b) if a and b else True
