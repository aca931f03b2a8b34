from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.aggregate import (
    Watermark,
    merge_stats,
    quantize_score,
    window_deltas,
    window_start,
)
from finsentry.schema import NewsItem, ScopeKind, ScoredItem, TargetSentiment, TextScore

T0 = datetime(2026, 3, 2, 9, 30, 17, tzinfo=UTC)


def make(
    i: int,
    at: datetime,
    *,
    tickers: tuple[str, ...] = ("AAPL",),
    probs: tuple[float, float, float] = (0.1, 0.2, 0.7),
    topic: str = "earnings",
    source: str = "wire",
    novel: bool = True,
    late: bool = False,
    input: str = "f",
    towards: float | None = None,
) -> ScoredItem:
    """``towards``: P(negative) towards the first ticker, scored apart from the headline."""
    news = NewsItem(id=f"n{i}", published_at=at, source=source, headline=f"h{i}", input=input)
    targets = ()
    if towards is not None and tickers:
        targets = (TargetSentiment(tickers[0], towards, 0.1, max(0.0, 0.9 - towards)),)
    return ScoredItem(
        item=news,
        scores=TextScore(probs[0], probs[1], probs[2], topic, 0.9, targets),
        model="m",
        tickers=tickers,
        novel=novel,
        late=late,
    )


def test_window_start_is_epoch_aligned_utc() -> None:
    assert window_start(T0, 60) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert window_start(T0, 300) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert window_start(T0, 3600) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    other_zone = T0.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    start = window_start(other_zone, 3600)
    assert start.utcoffset() == timedelta(0)
    assert start == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        window_start(datetime(2026, 1, 1), 60)  # naive


@given(st.integers(min_value=0, max_value=4_000_000_000), st.sampled_from([1, 7, 60, 300, 3600]))
def test_window_start_contains_ts(seconds: int, size: int) -> None:
    ts = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=123)
    start = window_start(ts, size)
    assert start <= ts < start + timedelta(seconds=size)
    assert int(start.timestamp()) % size == 0


def test_deltas_per_scope_and_size() -> None:
    items = [
        make(1, T0, tickers=("AAPL", "MSFT"), probs=(0.8, 0.1, 0.1)),
        make(2, T0 + timedelta(seconds=20), tickers=("AAPL",), probs=(0.1, 0.8, 0.1)),
        make(3, T0 + timedelta(seconds=30), tickers=("AAPL",), novel=False, late=True),
    ]
    stats = {
        (s.size_s, s.scope_kind, s.scope_value, s.start): s
        for s in window_deltas(items, [60, 3600])
    }
    minute = window_start(T0, 60)
    aapl = stats[(60, ScopeKind.TICKER, "AAPL", minute)]
    assert (aapl.count, aapl.negative, aapl.neutral, aapl.positive) == (2, 1, 1, 0)
    assert aapl.duplicates == 1 and aapl.late == 1
    assert aapl.score_sum == pytest.approx((0.1 - 0.8) + (0.1 - 0.1))
    msft = stats[(60, ScopeKind.TICKER, "MSFT", minute)]
    assert (msft.count, msft.duplicates) == (1, 0)
    total = stats[(3600, ScopeKind.ALL, "*", window_start(T0, 3600))]
    assert (total.count, total.duplicates, total.late) == (2, 1, 1)
    assert stats[(60, ScopeKind.TOPIC, "earnings", minute)].count == 2
    assert stats[(60, ScopeKind.SOURCE, "wire", minute)].count == 2
    # one key per (size, start, scope): 2 sizes x (all, AAPL, MSFT, topic, source)
    assert len(stats) == 10


def test_item_crossing_windows_and_repeated_ticker() -> None:
    items = [make(1, T0, tickers=("AAPL", "AAPL")), make(2, T0 + timedelta(minutes=1))]
    stats = window_deltas(items, [60])
    aapl = [s for s in stats if s.scope_kind == ScopeKind.TICKER]
    assert [s.count for s in aapl] == [1, 1]
    assert aapl[0].start < aapl[1].start


scored = st.builds(
    lambda i, off, neg, pos, novel, late, tick, towards: make(
        i,
        T0 + timedelta(seconds=off),
        probs=(neg, max(0.0, 1 - neg - pos), pos),
        novel=novel,
        late=late,
        tickers=tick,
        towards=towards,
    ),
    st.integers(0, 10_000),
    st.integers(0, 7200),
    st.floats(0, 0.5),
    st.floats(0, 0.5),
    st.booleans(),
    st.booleans(),
    st.lists(st.sampled_from(["AAPL", "MSFT", "SAP"]), max_size=2).map(tuple),
    st.one_of(st.none(), st.floats(0, 0.9)),  # per-ticker sentiment, or the headline's
)


@settings(max_examples=60, deadline=None)
@given(st.lists(scored, max_size=40), st.randoms(use_true_random=False), st.integers(1, 5))
def test_merge_is_exact_for_any_split_and_order(
    items: list[ScoredItem], rnd: object, parts: int
) -> None:
    sizes = [60, 300]
    one_pass = merge_stats(window_deltas(items, sizes))
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    chunks = [shuffled[k::parts] for k in range(parts)]
    split = merge_stats(d for chunk in chunks for d in window_deltas(chunk, sizes))
    assert split == one_pass  # exact, floats included


def test_quantized_scores_sum_exactly() -> None:
    values = [quantize_score(x / 7.0 - 0.5) for x in range(8)]
    assert sum(values) == sum(reversed(values))
    assert abs(quantize_score(0.123456789) - 0.123456789) < 1e-6


def news(at: datetime, input: str) -> NewsItem:
    return NewsItem(
        id=f"{input}{at.isoformat()}", published_at=at, source="s", headline="h", input=input
    )


def test_watermark_min_over_inputs_and_late_flags() -> None:
    wm = Watermark(allowed_lateness_s=60)
    assert wm.value is None
    assert wm.observe([news(T0, "a"), news(T0 + timedelta(minutes=10), "b")]) == [False, False]
    assert wm.value == T0 - timedelta(seconds=60)
    # flags use the watermark before this batch
    flags = wm.observe(
        [news(T0 - timedelta(seconds=61), "b"), news(T0 - timedelta(seconds=59), "a")]
    )
    assert flags == [True, False]
    wm.observe([news(T0 + timedelta(minutes=5), "a")])
    assert wm.value == T0 + timedelta(minutes=4)


def test_watermark_close_remove_and_state_round_trip() -> None:
    wm = Watermark(30)
    wm.observe([news(T0, "a"), news(T0 + timedelta(minutes=10), "b")])
    wm.close_input("a")
    assert wm.value == T0 + timedelta(minutes=10) - timedelta(seconds=30)
    wm.close_input("b")
    assert wm.value == T0 + timedelta(minutes=10)  # bounded inputs done: everything final
    restored = Watermark(30, wm.to_state())
    assert restored.value == wm.value and restored.inputs == wm.inputs
    restored.observe([news(T0, "a")])  # a reopened input holds the watermark back again
    assert restored.value == T0 - timedelta(seconds=30)
    restored.remove_input("a")
    assert restored.value == T0 + timedelta(minutes=10)
    restored.remove_input("b")
    assert restored.value is None
    assert Watermark(5, {}).value is None
    import json

    assert json.loads(json.dumps(wm.to_state())) == wm.to_state()


def test_ticker_windows_count_the_sentiment_towards_the_ticker() -> None:
    item = make(1, T0, tickers=("AAPL", "MSFT"), probs=(0.1, 0.2, 0.7), towards=0.8)
    stats = {(d.scope_kind, d.scope_value): d for d in window_deltas([item], [300])}
    aapl, msft, everything = (
        stats[(ScopeKind.TICKER, "AAPL")],
        stats[(ScopeKind.TICKER, "MSFT")],
        stats[(ScopeKind.ALL, "*")],
    )
    assert (aapl.negative, aapl.positive) == (1, 0)  # scored towards AAPL: negative
    assert aapl.score_sum == pytest.approx(0.1 - 0.8, abs=1e-6)
    assert (msft.negative, msft.positive) == (0, 1)  # no target score: the headline's
    assert (everything.negative, everything.positive) == (0, 1)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3 * 86400),  # seconds after T0
            st.sampled_from([(), ("AAPL",), ("AAPL", "MSFT"), ("NVDA",)]),
            st.sampled_from([(0.8, 0.1, 0.1), (0.1, 0.8, 0.1), (0.05, 0.15, 0.8), (0.3, 0.3, 0.4)]),
            st.sampled_from(["earnings", "macro"]),
            st.booleans(),  # novel
            st.booleans(),  # late
            st.none() | st.floats(0.0, 0.9),  # sentiment towards the first ticker
        ),
        max_size=40,
    ),
    sizes=st.sampled_from([(60, 300, 3600), (300, 60), (60, 90), (120,), (60, 3600, 86400)]),
)
def test_larger_windows_summed_from_the_smallest_equal_item_by_item_sums(
    rows: list[tuple[int, tuple[str, ...], tuple[float, float, float], str, bool, bool, float | None]],
    sizes: tuple[int, ...],
) -> None:
    from finsentry.aggregate import _item_sums, _window_sums

    items = [
        make(i, T0 + timedelta(seconds=s), tickers=t, probs=p, topic=topic, novel=n, late=la,
             towards=tw)
        for i, (s, t, p, topic, n, la, tw) in enumerate(rows)
    ]  # fmt: skip
    assert _window_sums(items, sizes) == _item_sums(items, sorted(set(sizes)))
