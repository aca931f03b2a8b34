"""The fast paths for plain ASCII text give what the general rule gives, on any text.

Tagging and fingerprints take a shortcut when a text is ASCII (most headlines): capitals counted
with byte tables, accents not looked for, the cashtag and exchange patterns not scanned without
their "$" or ":". Each test states the rule from scratch and compares on generated texts, ASCII
and not.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from finsentry.entities import (
    _CASHTAG,
    _EXCHANGE_SYMBOL,
    _NOT_CASHTAGS,
    EntityTagger,
    _is_shouting,
)
from finsentry.fingerprint import _TOKEN, title_tokens

# letters of both cases, digits, punctuation the patterns care about, accents and other scripts
ALPHABET = st.sampled_from(
    list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 $:.-'|()")
    + ["\u00e9", "\u00c9", "\u00df", "\u2019", "\u0301", "\u4e2d", "\u2160", "\u2170", "\u00aa"]
)
texts = st.text(ALPHABET, max_size=80) | st.text(max_size=40)


def shouting_by_the_rule(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


@settings(max_examples=400, deadline=None)
@given(text=texts)
@example(text="APPLE CUTS OUTLOOK AS DEMAND FALLS")
@example(text="APPLE CUTS OUTLOOK as demand")
@example(text="APPLE CUTS JOB")  # 12 letters, the fewest that count
@example(text="ABCDEFGHIJKLMNOP qrst")  # exactly 80 % capitals
@example(text="NESTL\u00c9 CUTS OUTLOOK AGAIN")
def test_shouting_is_the_share_of_capitals_among_letters(text: str) -> None:
    assert _is_shouting(text) is shouting_by_the_rule(text)


def tokens_by_the_rule(headline: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", headline)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")
    return _TOKEN.findall(plain)


@settings(max_examples=300, deadline=None)
@given(text=texts)
@example(text="Nestl\u00e9 cuts outlook")
def test_title_tokens_take_accents_off_only_where_there_are_some(text: str) -> None:
    # without syndication markers or attribution to strip, the tokens are the text's words
    plain = re.sub(r"[-:|()\u2013\u2014]", " ", text)
    assert list(title_tokens(plain)) == tokens_by_the_rule(plain.strip())


@settings(max_examples=300, deadline=None)
@given(text=texts)
@example(text="Shares of $AAPL and NASDAQ:MSFT rise")
@example(text="NYSE : IBM falls")
def test_mentions_are_every_match_of_the_patterns(text: str) -> None:
    tagger = EntityTagger([])  # no names: what is found comes from the two patterns alone
    found = {(a, b, t) for a, b, t in tagger.mentions_in(text)}
    expected = {
        (m.start(), m.end(), m.group(1).upper())
        for pattern in (_CASHTAG, _EXCHANGE_SYMBOL)
        for m in pattern.finditer(text)
    }
    # a cashtag of a currency ("$USD") is not a ticker: the one thing the tagger drops
    assert found <= expected
    assert all(text[a] == "$" and t in _NOT_CASHTAGS for a, _, t in expected - found)
