"""The store's JSON columns written without the json encoder are what json.dumps writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from finsentry.schema import NewsItem, ScoredItem, SentimentBasis, TargetSentiment, TextScore
from finsentry.store.rows import json_strings, ticker_sentiment_json

names = st.text(max_size=12) | st.sampled_from(["AAPL", "BRK.B", 'a"b', "a\\b", "\u00e9", "\x7f"])
probabilities = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0.0, 1.0) | st.integers(0, 1)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(names, max_size=4))
@example(values=[])
@example(values=["AAPL", "MSFT"])
def test_ticker_lists_are_written_as_json_dumps_writes_them(values: list[str]) -> None:
    assert json_strings(values) == json.dumps(values)
    assert json.loads(json_strings(values)) == values


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(names, probabilities, probabilities, probabilities, st.sampled_from(SentimentBasis)),
        max_size=3,
    )
)
@example(rows=[("AAPL", 0.1, 0.2, 0.7, SentimentBasis.ENTITY)])
@example(rows=[("X", 1e-05, 0.5, 0.49999, SentimentBasis.ENTITY)])
def test_per_ticker_sentiment_is_written_as_json_dumps_writes_it(
    rows: list[tuple[str, float, float, float, SentimentBasis]],
) -> None:
    targets = tuple(TargetSentiment(*row) for row in rows)
    news = NewsItem(
        id="n1", published_at=datetime(2026, 3, 2, tzinfo=UTC), source="wire", headline="h",
        body=None, url=None, tickers=(), lang="en", input="mem", position=0,
    )  # fmt: skip
    scored = ScoredItem(
        item=news, scores=TextScore(0.1, 0.8, 0.1, "Markets", 0.9, targets), model="m",
        tickers=(), novel=True, duplicate_of=None, late=False, fingerprint="",
    )  # fmt: skip
    expected = json.dumps(
        [[t, n, u, p, str(b)] for t, n, u, p, b in rows], separators=(",", ":")
    )
    assert ticker_sentiment_json(scored) == expected
