"""Text normalisation: what every headline and body goes through before anything reads it.

``normalise_text`` is deliberately conservative: it removes markup and noise (HTML tags and
entities, URLs, control and zero-width characters, runs of whitespace) and never rewrites words, so
the normalised text is still what a reader of the original would recognise.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Elements whose content is never text a reader sees (removed with their content).
_INVISIBLE_OPEN = re.compile(r"<(script|style|head|noscript)\b[^<>]*>", re.IGNORECASE)
_COMMENTS = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
# A tag starts with a letter (or "/" + letter, or "!"): "EPS < 2 and > 1" is left alone. Tags
# become a space, so "<p>a</p><p>b</p>" does not glue words together.
_TAGS = re.compile(r"</?[A-Za-z][^<>]*>|<![^<>]*>")
_URLS = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']+", re.IGNORECASE)


def _drop_invisible(text: str) -> str:
    """Remove script/style/head/noscript elements with their content, in linear time (a regex
    with a back-reference is quadratic on hostile input such as many unclosed ``<script>``)."""
    if "<" not in text:
        return text
    lower = text.lower()
    unclosed: set[str] = set()
    out: list[str] = []
    pos = 0
    while match := _INVISIBLE_OPEN.search(text, pos):
        out.append(text[pos : match.start()])
        out.append(" ")
        name = match.group(1).lower()
        close = -1 if name in unclosed else lower.find(f"</{name}", match.end())
        if close == -1:
            unclosed.add(name)  # no closing tag later on: drop just this opening tag
            pos = match.end()
            continue
        end = lower.find(">", close)
        pos = len(text) if end == -1 else end + 1
    out.append(text[pos:])
    return "".join(out)


def _strip_markup(text: str) -> str:
    text = _drop_invisible(text)
    text = _COMMENTS.sub(" ", text)
    return _TAGS.sub(" ", text)


def _drop_control(text: str) -> str:
    """Control characters become spaces (they often stand for line breaks); format characters
    (zero-width space, BOM, soft hyphen, bidi marks) are removed."""
    if text.isprintable():  # no Cc/Cf/Cs/Co/Cn character at all: the common case, done in C
        return text
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            out.append(" ")
        elif category in ("Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def normalise_text(text: str) -> str:
    """NFC, markup removed, HTML entities decoded, URLs removed, control characters removed and
    whitespace collapsed to single spaces; the result has no leading or trailing space.

    >>> normalise_text("<p>Apple&nbsp;beats   estimates</p> https://example.com/a")
    'Apple beats estimates'
    """
    if not text:
        return ""
    # Markup, then entities, then markup again: the markup that only appears after decoding (RSS
    # descriptions are often escaped HTML: "&lt;p&gt;Shares rose&lt;/p&gt;") or once an inner tag
    # is gone ("<http://x.io/a<p>>"). Each step is skipped when the characters it looks for are
    # absent: most headlines are plain text.
    if "<" in text:
        text = _strip_markup(text)
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _strip_markup(text)
    # "w." or "W." comes before any "www." (no other character lower-cases to "w" or ".")
    if "://" in text or (("w." in text or "W." in text) and "www." in text.lower()):
        text = _URLS.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if not text.isprintable():
        text = _drop_control(text)
    elif "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # the only whitespace a printable text can hold is " " (see the tests)
    # str.split() splits on exactly the characters that \s matches in a str pattern
    return " ".join(text.split())


# A ticker as exchanges and data vendors write it: 1-12 letters or digits (AAPL, HDFCBANK, 0700,
# 005930), an optional hyphenated word (BAJAJ-AUTO) and an optional class or venue suffix of 1-3
# letters (BRK.B, SAN.PA, RELIANCE.NS, 7203.T, 0700.HK). Exchange prefixes ("NASDAQ:") and
# cashtag dollars are removed before the check.
TICKER_PATTERN = r"[A-Z0-9]{1,12}(?:-[A-Z]{1,10})?(?:\.[A-Z]{1,3})?"
_TICKER = re.compile(TICKER_PATTERN)
NON_ASCII = re.compile(r"[^\x00-\x7f]")  # one character outside ASCII (text fast paths skip it)
_CLASS_SEPARATOR = re.compile(r"(?<=[A-Z])[-/](?=[A-Z]{1,2}$)")


def normalise_ticker(value: str) -> str | None:
    """An upper-case ticker, or None if ``value`` is not one (``"$aapl"`` -> ``"AAPL"``,
    ``"brk-b"`` -> ``"BRK.B"``)."""
    if _TICKER.fullmatch(value) and "-" not in value:  # already one: the common case
        return value
    candidate = value.strip().lstrip("$").upper()
    if ":" in candidate:  # NASDAQ:AAPL
        candidate = candidate.rsplit(":", 1)[1].strip()
    candidate = _CLASS_SEPARATOR.sub(".", candidate)  # BRK-B, BRK/B -> BRK.B
    return candidate if _TICKER.fullmatch(candidate) else None
