"""Order-independent near-duplicates: the same items in any arrival order and batch split give
the same duplicate flags and, with the store's revisions applied, the same window statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.aggregate import merge_stats, window_deltas
from finsentry.dedup import Deduplicator, revision_deltas
from finsentry.schema import NewsItem, ScoredItem, WindowKey, WindowStat
from finsentry.store import open_store
from finsentry.store.base import BatchWrite, Store
from tests.fixtures.scorers import LexiconScorer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIZES = (300, 3600)
HORIZON = timedelta(hours=3)

# Each story has variants that differ from their neighbours in one content word of nine
# (Jaccard 8/10, near duplicates) and from the variants two steps away in two (7/11, not):
# chains where "is a duplicate of" is not transitive, so an early arrival can cascade.
STORIES = [
    ("shares", "rise", "following", "strong", "quarterly", "earnings", "beat", "forecasts", "today"),
    ("regulator", "opens", "probe", "targeting", "brake", "fault", "recall", "claims", "widely"),
    ("lender", "cuts", "outlook", "citing", "bad", "loans", "rise", "sharply", "again"),
]
SWAPS = ("surge", "plunge", "slump", "rally", "record")
TICKERS = ((), ("AAPL",), ("MSFT",))


def headline(story: int, variant: int) -> str:
    words = list(STORIES[story])
    for k in range(variant):
        words[k] = SWAPS[k]
    prefix = "UPDATE 1-" if variant == 0 and story == 0 else ""
    return prefix + " ".join(words)


class FakeStore:
    def stored_marks(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        return []


specs = st.lists(
    st.tuples(
        st.integers(0, len(STORIES) - 1),
        st.integers(0, 4),
        st.integers(0, 8 * 60),
        st.integers(0, len(TICKERS) - 1),
    ),
    min_size=1,
    max_size=14,
)


def make_items(spec: list[tuple[int, int, int, int]]) -> tuple[list[NewsItem], dict[str, tuple[str, ...]]]:
    items, tickers = [], {}
    for n, (story, variant, minutes, ticker) in enumerate(spec):
        item = NewsItem(
            id=f"n{n:02d}",
            published_at=T0 + timedelta(minutes=minutes),
            source=f"wire{n % 3}",
            headline=headline(story, variant),
        )
        items.append(item)
        tickers[item.id] = TICKERS[ticker]
    return items, tickers


def scored(item: NewsItem, tickers: tuple[str, ...], novel: bool, duplicate_of: str | None) -> ScoredItem:
    (score,) = LexiconScorer().score([item.text])
    return ScoredItem(item, score, "lexicon", tickers, novel, duplicate_of)


def ingest(
    batches: list[list[NewsItem]], tickers: dict[str, tuple[str, ...]]
) -> tuple[dict[str, tuple[bool, str | None]], dict[WindowKey, WindowStat]]:
    """What a store holds after these batches: items with their marks, and window sums, with
    the deduplicator's revisions applied the way the store applies them."""
    dedup = Deduplicator(cast(Store, FakeStore()), HORIZON)
    stored: dict[str, ScoredItem] = {}
    deltas: list[WindowStat] = []
    for batch in batches:
        marks = dedup.mark(batch, [tickers[i.id] for i in batch])
        new = []
        for item, mark in zip(batch, marks, strict=True):
            if item.id not in stored:
                stored[item.id] = scored(item, tickers[item.id], mark.novel, mark.duplicate_of)
                new.append(stored[item.id])
        deltas.extend(window_deltas(new, SIZES))
        for revision in dedup.take_revisions():
            stored[revision.item_id], moved = revision_deltas(
                stored[revision.item_id], revision, SIZES
            )
            deltas.extend(moved)
    flags = {k: (s.novel, s.duplicate_of) for k, s in stored.items()}
    return flags, merge_stats(deltas)


def split(items: list[NewsItem], cuts: list[int]) -> list[list[NewsItem]]:
    bounds = sorted({c % (len(items) + 1) for c in cuts} | {0, len(items)})
    return [items[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@settings(max_examples=300, deadline=None)
@given(specs, st.randoms(use_true_random=False), st.lists(st.integers(0, 100), max_size=5))
def test_any_arrival_order_gives_the_same_flags_and_windows(
    spec: list[tuple[int, int, int, int]], rnd: object, cuts: list[int]
) -> None:
    items, tickers = make_items(spec)
    in_time = sorted(items, key=lambda i: (i.published_at, i.id))
    expected_flags, expected_windows = ingest([in_time], tickers)

    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    flags, windows = ingest(split(shuffled, cuts), tickers)
    assert flags == expected_flags
    assert windows == expected_windows
    # and the windows are what one clean pass over the final marks gives
    final = [scored(i, tickers[i.id], *expected_flags[i.id]) for i in items]
    assert windows == merge_stats(window_deltas(final, SIZES))


def test_one_item_at_a_time_in_reverse_time_order() -> None:
    items, tickers = make_items([(1, v, 10 * v, 0) for v in range(5)])
    in_time, _ = ingest([items], tickers)
    reverse, _ = ingest([[i] for i in reversed(items)], tickers)
    assert reverse == in_time
    # variants 0, 2 and 4 are not near each other; 1 and 3 copy the earlier one
    assert in_time == {
        "n00": (True, None),
        "n01": (False, "n00"),
        "n02": (True, None),
        "n03": (False, "n02"),
        "n04": (True, None),
    }


def test_later_syndicated_copy_read_first_is_retracted() -> None:
    """The issue's case: a headline syndicated twice, the later copy read first."""
    early = NewsItem("early", datetime(2026, 3, 2, 14, 49, tzinfo=UTC), "Wire", headline(0, 1))
    later = NewsItem("later", datetime(2026, 3, 3, 12, 16, tzinfo=UTC), "Wire", headline(0, 1))
    dedup = Deduplicator(cast(Store, FakeStore()), timedelta(hours=24))
    (first,) = dedup.mark([later], [()])
    assert first.novel and dedup.take_revisions() == []
    (second,) = dedup.mark([early], [()])
    assert second.novel and second.duplicate_of is None
    (revision,) = dedup.take_revisions()
    assert (revision.item_id, revision.novel, revision.duplicate_of) == ("later", False, "early")
    assert dedup.take_revisions() == []  # handed out once
    # the later window loses a count and gains a duplicate; the earlier window gets its count
    stored = scored(later, (), True, None)
    revised, moved = revision_deltas(stored, revision, [3600])
    assert (revised.novel, revised.duplicate_of) == (False, "early")
    assert {(m.scope_kind, m.count, m.duplicates) for m in moved} == {
        ("all", -1, 1), ("topic", -1, 1), ("source", -1, 1)
    }
    assert dedup.mark([later], [()])[0] == revised_mark(revision.novel, revision.duplicate_of, first)


def revised_mark(novel: bool, duplicate_of: str | None, mark: object) -> object:
    from finsentry.dedup import DedupMark

    assert isinstance(mark, DedupMark)
    return DedupMark(novel, duplicate_of, mark.fingerprint)


def window_table(store: Store) -> list[tuple[object, ...]]:
    lo, hi = T0 - timedelta(days=2), T0 + timedelta(days=3)
    return sorted(
        (str(w.key), w.count, w.negative, w.neutral, w.positive, w.score_sum, w.duplicates, w.late)
        for size in SIZES
        for w in store.window_stats(size, lo, hi)
    )


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_store_applies_revisions_in_the_batch_transaction(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    def db(name: str) -> str:
        if kind == "sqlite":
            return str(tmp_path / name)
        return cast(str, request.getfixturevalue("postgres_dsn_factory")())

    early = NewsItem("early", T0, "Wire", "Apple shares surge on record iPhone sales", tickers=())
    later = NewsItem("later", T0 + timedelta(hours=2), "Desk", "Apple shares surge on record iPhone sales")
    other = NewsItem("other", T0 + timedelta(hours=2, minutes=1), "Desk", "Oil slumps as stocks tumble")
    dedup = Deduplicator(cast(Store, FakeStore()), timedelta(hours=24))
    revised = open_store(db("revised.db"))
    clean = open_store(db("clean.db"))
    try:
        first = [later, other]
        marks = dedup.mark(first, [("AAPL",), ()])
        revised.write_batch(
            BatchWrite([scored(i, t, m.novel, m.duplicate_of) for i, t, m in
                        zip(first, [("AAPL",), ()], marks, strict=True)], [], SIZES)
        )  # fmt: skip
        (mark,) = dedup.mark([early], [("AAPL",)])
        revisions = dedup.take_revisions()
        assert [(r.item_id, r.novel, r.duplicate_of) for r in revisions] == [("later", False, "early")]
        revised.write_batch(
            BatchWrite([scored(early, ("AAPL",), mark.novel, None)], [], SIZES, revisions=revisions)
        )
        clean.write_batch(
            BatchWrite(
                [
                    scored(early, ("AAPL",), True, None),
                    scored(later, ("AAPL",), False, "early"),
                    scored(other, (), True, None),
                ],
                [],
                SIZES,
            )
        )
        assert window_table(revised) == window_table(clean)
        assert revised.counts() == clean.counts()
        lo, hi = T0 - timedelta(days=1), T0 + timedelta(days=1)
        flags = sorted((s.id, s.novel, s.duplicate_of) for s in revised.items_between(lo, hi))
        assert flags == [("early", True, None), ("later", False, "early"), ("other", True, None)]
        # a replayed revision changes nothing more
        revised.write_batch(BatchWrite([], [], SIZES, revisions=revisions))
        assert window_table(revised) == window_table(clean)
    finally:
        revised.close()
        clean.close()


def test_the_index_is_trimmed_behind_the_watermark_not_the_newest_item() -> None:
    dedup = Deduplicator(cast(Store, FakeStore()), timedelta(hours=1))
    old = NewsItem("old", T0, "Wire", headline(2, 0))
    ahead = NewsItem("ahead", T0 + timedelta(days=5), "Wire", headline(1, 0))
    dedup.mark([old, ahead], [(), ()])
    # another partition still at T0 holds the watermark: nothing it may copy is forgotten
    assert dedup.forget_behind(T0 - timedelta(minutes=10)) == 0
    copy = NewsItem("copy", T0 + timedelta(minutes=30), "Desk", headline(2, 0))
    assert dedup.mark([copy], [()])[0].duplicate_of == "old"
    assert dedup.forget_behind(None) == 0
    # what the last batch reached back to (from T0 - 30 min) is kept until the next batch
    assert dedup.forget_behind(T0 + timedelta(hours=3)) == 0
    dedup.mark([NewsItem("later", T0 + timedelta(hours=3), "Wire", headline(0, 0))], [()])
    # behind the watermark by more than the horizon and a quarter of it: old and copy
    assert dedup.forget_behind(T0 + timedelta(hours=3)) == 2
    assert dedup.forget_behind(T0 + timedelta(hours=3)) == 0


class StoredMarks(FakeStore):
    """What a store holds: (id, fingerprint, published_at, novel, duplicate_of), and the
    stretches of time it was asked for."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, datetime, bool, str | None]] = []
        self.reads: list[tuple[datetime, datetime | None]] = []

    def keep(self, dedup: Deduplicator, items: list[NewsItem]) -> None:
        for item, mark in zip(items, dedup.mark(items, [()] * len(items)), strict=True):
            self.rows.append((item.id, mark.fingerprint, item.published_at, mark.novel, mark.duplicate_of))

    def stored_marks(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        self.reads.append((start, end))
        return [r for r in self.rows if r[2] >= start and (end is None or r[2] < end)]


def test_an_item_later_than_the_kept_stretch_is_compared_with_what_the_store_holds() -> None:
    store = StoredMarks()
    dedup = Deduplicator(cast(Store, store), timedelta(hours=1))
    store.keep(dedup, [NewsItem("old", T0, "Wire", headline(2, 0))])
    store.keep(dedup, [NewsItem("later", T0 + timedelta(hours=6), "Wire", headline(0, 0))])
    assert dedup.forget_behind(T0 + timedelta(hours=6)) == 1  # old: 6 h behind
    # a copy of old, five hours late: the forgotten stretch is read back, once
    late = NewsItem("late", T0 + timedelta(minutes=20), "Desk", headline(2, 0))
    assert dedup.mark([late], [()])[0].duplicate_of == "old"
    assert store.reads[-1] == (T0 + timedelta(minutes=20) - timedelta(hours=1), T0 + timedelta(hours=4, minutes=45))
    # an earlier copy, later still: the stored original becomes its duplicate
    earliest = NewsItem("earliest", T0 - timedelta(minutes=5), "Desk", headline(2, 0))
    assert dedup.mark([earliest], [()])[0].novel
    assert [(r.item_id, r.novel, r.duplicate_of) for r in dedup.take_revisions()] == [
        ("late", False, "earliest"), ("old", False, "earliest")
    ]
    assert len(store.reads) == 3  # the first batch, then one read per stretch not yet held