"""The near-duplicate candidate index: no pair at the threshold is missed, whatever the sizes,
and a look-up returns only sets that share words with the query."""

from __future__ import annotations

import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.dedup import NEAR_THRESHOLD
from finsentry.fingerprint import jaccard
from finsentry.word_sets import WordSetIndex

VOCAB = [f"w{i}" for i in range(14)]  # small: many overlapping sets

word_sets = st.frozensets(st.sampled_from(VOCAB), min_size=1, max_size=len(VOCAB))


@settings(max_examples=200, deadline=None)
@given(
    sets=st.lists(word_sets, min_size=1, max_size=25),
    query=word_sets,
    threshold=st.sampled_from([NEAR_THRESHOLD, 0.5, 0.8, 1.0, 0.3]),
)
def test_every_set_at_the_threshold_is_a_candidate(
    sets: list[frozenset[str]], query: frozenset[str], threshold: float
) -> None:
    index = WordSetIndex(threshold)
    for n, words in enumerate(sets):
        index.add(f"s{n}", words)
    found = index.candidates(query)
    for n, words in enumerate(sets):
        if jaccard(words, query) >= threshold:
            assert f"s{n}" in found, (sorted(words), sorted(query))
        if f"s{n}" in found:
            assert words & query  # never a set with nothing in common


def test_long_titles_at_the_threshold_are_found() -> None:
    rng = random.Random(4)
    words = [f"t{i}" for i in range(400)]
    for size in range(1, 40):
        base = frozenset(rng.sample(words, size))
        index = WordSetIndex(NEAR_THRESHOLD)
        index.add("base", base)
        for _ in range(30):  # drop, swap and add words while staying at the threshold
            edited = set(base)
            for _ in range(rng.randint(0, 3)):
                if edited and rng.random() < 0.5:
                    edited.discard(rng.choice(sorted(edited)))
                else:
                    edited.add(rng.choice(words))
            if edited and jaccard(frozenset(edited), base) >= NEAR_THRESHOLD:
                assert "base" in index.candidates(edited), (size, sorted(edited))


def test_removed_sets_are_not_returned_and_leave_no_keys() -> None:
    index = WordSetIndex(NEAR_THRESHOLD)
    a = frozenset("apple shares rise after earnings beat".split())
    b = frozenset("apple shares climb after earnings beat".split())
    index.add("a", a)
    index.add("b", b)
    assert index.candidates(a) >= {"a", "b"}
    index.remove("a", a)
    assert "a" not in index.candidates(a)
    index.remove("b", b)
    assert len(index) == 0 and index.candidates(b) == set()


def test_unrelated_sets_are_not_candidates_however_many() -> None:
    rng = random.Random(7)
    vocab = [f"v{i}" for i in range(80)]
    index = WordSetIndex(NEAR_THRESHOLD)
    for n in range(20_000):  # like busy news: common words, one word of its own each
        index.add(f"n{n}", frozenset([*rng.sample(vocab, 6), f"own{n}"]))
    query = frozenset([*rng.sample(vocab, 6), "own-query"])
    # a random 7-word title shares 3 chosen words with few others, whatever the index size
    assert len(index.candidates(query)) < 100


def test_threshold_must_be_a_similarity() -> None:
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            WordSetIndex(bad)


def test_short_titles_of_one_company_meet_few_candidates() -> None:
    """7-word titles from a small vocabulary, 12 companies (the pipeline benchmark's stream):
    sharing 3 of 5 prefix words is common there, so short titles are indexed by 4 words."""
    rng = random.Random(3)
    vocab = [f"v{i}" for i in range(90)]
    tickers = [f"t{i}" for i in range(12)]
    index = WordSetIndex(NEAR_THRESHOLD)
    for n in range(20_000):
        index.add(f"n{n}", frozenset([rng.choice(tickers), *rng.sample(vocab, 5), f"own{n}"]))
    found = 0
    for q in range(200):
        query = frozenset([rng.choice(tickers), *rng.sample(vocab, 5), f"q{q}"])
        found += len(index.candidates(query))
    assert found / 200 < 2  # by 3-word combinations: about 11


def test_the_large_table_holds_nothing_the_garbage_collector_tracks() -> None:
    import gc

    rng = random.Random(9)
    vocab = [f"v{i}" for i in range(30)]
    index = WordSetIndex(NEAR_THRESHOLD)
    sets = {f"n{n}": frozenset(rng.sample(vocab, 6)) for n in range(3000)}
    for key, words in sets.items():
        index.add(key, words)
    gc.collect()
    assert any("\x00" in keys for keys in index._postings.values())  # shared combinations
    assert not gc.is_tracked(index._postings)
    for key, words in sets.items():
        index.remove(key, words)
    assert len(index) == 0
    with pytest.raises(ValueError, match="NUL"):
        index.add("a\x00b", frozenset({"x"}))


def _reference(ops: list[tuple[bool, str, list[int]]]) -> dict[int, list[str]]:
    """Postings as one file or unfile at a time leaves them, written the plain way."""
    postings: dict[int, list[str]] = {}
    for adding, key, codes in ops:
        for code in codes:
            if adding:
                postings.setdefault(code, []).append(key)
            elif code in postings:
                held = postings.pop(code)
                if held == [key]:
                    continue  # the key alone: the combination goes
                if key in held:
                    held.remove(key)  # one of its filings
                postings[code] = held
    return postings


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(["a", "b", "c", "d"]),
            st.lists(st.integers(-3, 3), min_size=1, max_size=6),  # repeats: a collision
        ),
        max_size=30,
    )
)
def test_unfiling_leaves_what_one_combination_at_a_time_leaves(
    ops: list[tuple[bool, str, list[int]]],
) -> None:
    index = WordSetIndex(NEAR_THRESHOLD)
    for adding, key, codes in ops:
        packed = array("q", codes).tobytes()
        if adding:
            index.file(key, packed)
        else:
            index.unfile(key, packed)
    held = {code: keys.split("\x00") for code, keys in index._postings.items()}
    assert held == _reference(ops)
