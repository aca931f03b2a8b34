"""Story fingerprints: the normalised words of a headline and its tickers, for de-duplication.

``v1|<exact hash>|<tickers, comma separated>|<normalised title>`` is what the store keeps in
``items.fingerprint``; :mod:`finsentry.dedup` compares fingerprints.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from finsentry.sources.normalise import NON_ASCII

FINGERPRINT_VERSION = "v1"

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
    stripped = _strip_attribution(text)  # the same object when there is nothing to strip
    if stripped is not text and len(_TOKEN.findall(stripped.lower())) >= 4:
        text = stripped  # never strip a short headline to nothing
    if not text.isascii():  # ASCII has no accents to take off: most headlines skip this
        text = _without_accents(text)
    return tuple(_TOKEN.findall(text))


def _without_accents(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks, curly apostrophes made straight.
    Only the characters outside ASCII are looked at (a few in most headlines)."""
    text = unicodedata.normalize("NFKD", text)
    return NON_ASCII.sub(_plain, text)


def _plain(found: re.Match[str]) -> str:
    char = found.group()
    return "" if unicodedata.combining(char) else "'" if char == "\u2019" else char


def _strip_attribution(text: str) -> str:
    """Drop a short attribution tail: " - Harbor Wire", " | sources", " (Bellwether)"."""
    cut = max(map(text.rfind, _ATTRIBUTION_SEPARATORS))
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
