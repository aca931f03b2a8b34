from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from finsentry.sources.normalise import normalise_text, normalise_ticker


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>Apple&nbsp;beats   estimates</p>", "Apple beats estimates"),
        ("Shares rose&amp;fell", "Shares rose&fell"),
        ("&lt;p&gt;Escaped &lt;b&gt;markup&lt;/b&gt;&lt;/p&gt;", "Escaped markup"),
        ("Read more at https://example.com/a?b=c now", "Read more at now"),
        ("see www.example.com/path for details", "see for details"),
        ("EPS < 2 and revenue > 1bn", "EPS < 2 and revenue > 1bn"),
        ("line\none\ttab\r\nend", "line one tab end"),
        ("zero\u200bwidth\ufeff space", "zerowidth space"),
        ("bell\x07char", "bell char"),
        ("  padded  ", "padded"),
        ("Cafe\u0301 results", "Caf\u00e9 results"),
        ("<script>alert(1)</script>Headline", "Headline"),
        ("<!-- comment -->Visible", "Visible"),
        ("a<br/>b<p>c</p>", "a b c"),
        ("", ""),
        ("<div></div>", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_normalise_text_is_idempotent() -> None:
    raw = "<p>Tesla&#39;s  Q3 \u00a0deliveries https://t.co/x beat</p>"
    once = normalise_text(raw)
    assert once == "Tesla's Q3 deliveries beat"
    assert normalise_text(once) == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("aapl", "AAPL"),
        ("$msft", "MSFT"),
        (" brk.b ", "BRK.B"),
        ("NASDAQ:NVDA", "NVDA"),
        ("BRK-B", "BRK.B"),
        ("brk/b", "BRK.B"),
        ("SAN.PA", "SAN.PA"),
        # listings outside the US, as exchanges and data vendors write them
        ("reliance.ns", "RELIANCE.NS"),
        ("HDFCBANK", "HDFCBANK"),
        ("0700.HK", "0700.HK"),
        ("7203.T", "7203.T"),
        ("005930.KS", "005930.KS"),
        ("3MINDIA", "3MINDIA"),
        ("bajaj-auto", "BAJAJ-AUTO"),
        ("MCDOWELL-N", "MCDOWELL.N"),  # a one- or two-letter part after "-" is a class
        ("HKG:0700", "0700"),
        ("ABCDEFGHIJKL", "ABCDEFGHIJKL"),
        ("ABCDEFGHIJKLM", None),  # 13 characters
        ("bad-1", None),
        ("M&M", None),
        ("BRK.BBBB", None),
        ("0700.H1", None),
        ("A B", None),
        ("", None),
        ("$", None),
    ],
)
def test_normalise_ticker(raw: str, expected: str | None) -> None:
    assert normalise_ticker(raw) == expected


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "hostile",
    ["<script>" * 20000, "<a" * 100000, "<!--" * 100000, "http://" * 100000, "&amp;" * 100000],
)
def test_hostile_markup_is_handled_in_linear_time(hostile: str) -> None:
    out = normalise_text(hostile)
    assert "<script>" not in out and "&amp;" not in out


def test_script_and_style_content_removed_case_insensitively() -> None:
    raw = "x <style>a{}</style> y <SCRIPT src=1>bad()</script > z <script>unclosed"
    assert normalise_text(raw) == "x y z unclosed"


@given(st.text(max_size=300))
def test_normalised_text_is_stable_and_clean(raw: str) -> None:
    out = normalise_text(raw)
    assert normalise_text(out) == out
    assert out == out.strip()
    assert "  " not in out
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in out)
    assert unicodedata.normalize("NFC", out) == out


def test_printable_fast_path_matches_the_character_loop() -> None:
    import unicodedata

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from finsentry.sources.normalise import _drop_control

    def slow(text: str) -> str:
        out = []
        for ch in text:
            category = unicodedata.category(ch)
            if category == "Cc":
                out.append(" ")
            elif category not in ("Cf", "Cs", "Co", "Cn"):
                out.append(ch)
        return "".join(out)

    @settings(max_examples=300, deadline=None)
    @given(st.text())
    def check(text: str) -> None:
        assert _drop_control(text) == slow(text)

    check()


def _every_step(text: str) -> str:
    """normalise_text without its fast paths: every step applied to every text."""
    import html
    import re

    from finsentry.sources.normalise import _URLS, _drop_control, _strip_markup

    if not text:
        return ""
    text = _strip_markup(text)
    text = html.unescape(text)
    text = _strip_markup(text)
    text = _URLS.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    text = _drop_control(text)
    return re.sub(r"\s+", " ", text).strip()


_PIECES = st.sampled_from(
    ["<p>", "</b>", "&amp;", "&lt;i&gt;", "http://x.io/a", "WWW.example.com", " ", "\t", "\n",
     "\u00a0", "\u200b", "e\u0301", "Apple", "beats", "<", ">", "&", "://", "www", "\x00", "é"]
)  # fmt: skip


@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=20).map("".join))
@example("<http://x.io/a<p>>")  # a tag that forms once the inner one is gone (no entity)
def test_fast_paths_give_what_every_step_gives(raw: str) -> None:
    assert normalise_text(raw) == _every_step(raw)


@given(
    st.lists(
        st.one_of(st.sampled_from(["\x00", "\ud800", "\udfff", "\x1b", "&#0;", "&#xd800;"]), st.text()),
        max_size=8,
    ).map("".join)
)
def test_normalised_text_holds_no_nul_or_lone_surrogate(raw: str) -> None:
    """What every store can hold: PostgreSQL refuses NUL, UTF-8 refuses lone surrogates."""
    text = normalise_text(raw)
    assert "\x00" not in text
    text.encode("utf-8")  # raises on a lone surrogate
    assert normalise_text("Apple\x00beats\ud800 estimates") == "Apple beats estimates"


def test_printable_text_holds_no_whitespace_but_the_space() -> None:
    """normalise_text returns printable text without double or edge spaces as it is: that is
    right only while " " is the one printable character str.split() splits on."""
    import sys

    found = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable() and c.isspace()]
    assert found == [" "]
    assert normalise_text("Apple beats\u00a0estimates") == "Apple beats estimates"
