"""Ticker and entity tagging: which listed companies a news item is about.

An item's tickers are the union of

- the tickers given in the input (already validated by :mod:`finsentry.sources.validate`),
- cashtags in the text: ``$AAPL``, ``$brk.b`` (upper-cased; currency codes such as ``$USD`` are not
  tickers),
- exchange-prefixed symbols: ``NASDAQ:AAPL``, ``(NYSE: BRK.B)``, ``LSE:VOD``, ``XETRA:SAP``,
- company names and aliases from the watchlist (CSV ``ticker,name,aliases``, aliases
  ``|``-separated), matched case-sensitively as written in the watchlist and only on word boundaries,
  so "Apple" matches "Apple's results" but not "apple pie" or "Pineapple". A headline written in
  capitals throughout ("APPLE CUTS FORECAST") is matched against the upper-cased names instead.
  When names overlap the longest wins: "Siemens Energy" is ENR, not also SIE.

Because matching is case-sensitive, an alias that is also an English word is safe only if it is
capitalised in the watchlist and rarely starts a sentence in another sense; the bundled watchlist
uses qualified forms instead ("Target Corp", "Delta Air Lines", "Arm Holdings").

Names are matched with one Aho-Corasick automaton (pyahocorasick), so tagging costs the same for ten
names or ten thousand.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from finsentry.config import Settings
from finsentry.schema import NewsItem, Span, Target
from finsentry.sources.normalise import NON_ASCII, normalise_ticker

log = logging.getLogger(__name__)

# In running text a ticker is read only where it cannot be a number or a word: after a "$"
# (letters only: "$45" is a price) or after an exchange's name ("NSE:HDFCBANK", "HKG:0700").
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Z]{1,6}(?:\.[A-Z]{1,2})?)(?!\w)", re.IGNORECASE)
_EXCHANGES = (
    "NASDAQ|NYSE|NYSEARCA|NYSEAMERICAN|AMEX|OTC|LSE|LON|XETRA|ETR|FRA|EPA|EURONEXT|ENXTPA|ENXTAM|"
    "AMS|BIT|BME|SIX|SWX|STO|CPH|HEL|OSL|TSX|ASX|NSE|SGX|JSE"
)
# Markets whose listings are numbered, and the venue suffix a number gets there, as data vendors
# write it (a bare number is ambiguous: 1299 is one company in Hong Kong and another in Tokyo).
_VENUE_OF_NUMBERED = {
    "HKG": "HK", "HKEX": "HK", "SEHK": "HK", "TYO": "T", "TSE": "T", "JPX": "T", "KRX": "KS",
    "KOSDAQ": "KQ", "TPE": "TW", "TWSE": "TW", "BOM": "BO", "BSE": "BO", "SSE": "SS", "SZSE": "SZ",
}  # fmt: skip
_NUMBERED_EXCHANGES = "|".join(_VENUE_OF_NUMBERED)
_EXCHANGE_SYMBOL = re.compile(
    rf"(?<![\w.])(?:(?i:{_EXCHANGES})\s?:\s?([A-Z][A-Z0-9]{{0,11}}(?:-[A-Z]{{1,10}})?"
    rf"(?:\.[A-Z]{{1,3}})?)|((?i:{_NUMBERED_EXCHANGES}))\s?:\s?([0-9]{{4,6}})(?![\w.]))(?!\w)"
)
# "$US" in "$US dollar", "$USD": currencies, not tickers.
_NOT_CASHTAGS = frozenset({"US", "USD", "CAD", "AUD", "NZD", "HKD", "SGD", "EUR", "GBP", "BN", "M"})
# A text whose letters are at least this share upper case is "shouting": match upper-cased names.
_SHOUTING_SHARE = 0.8
_MIN_SHOUTING_LETTERS = 12


def _exchange_ticker(match: re.Match[str]) -> str:
    """The ticker an exchange-prefixed symbol names: the symbol (NYSE:IBM -> IBM), or a numbered
    listing with its venue (HKG:0700 -> 0700.HK)."""
    if match.group(1):
        return match.group(1).upper()
    return f"{match.group(3)}.{_VENUE_OF_NUMBERED[match.group(2).upper()]}"


def listed_ticker(text: str) -> str | None:
    """The ticker of an exchange-prefixed symbol standing alone ("NASDAQ:ABCD", "HKG:0700", as
    feeds give them in their categories), else None."""
    found = _EXCHANGE_SYMBOL.fullmatch(text.strip())
    return _exchange_ticker(found) if found else None


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    ticker: str
    name: str
    aliases: tuple[str, ...] = ()
    # lower-case words that, right after a name, make it a common noun, not the company:
    # "Shell companies", "Visa applications", "Amazon rainforest"
    not_before: tuple[str, ...] = ()

    @property
    def surfaces(self) -> tuple[str, ...]:
        """Every written form that names the company: the name, then the aliases."""
        return tuple(dict.fromkeys(s for s in (self.name, *self.aliases) if s))


def bundled_watchlist_text(name: str = "watchlist.csv") -> str:
    return resources.files("finsentry").joinpath(f"data/{name}").read_text(encoding="utf-8")


# Other names exchanges' and vendors' listings give the two columns a watchlist needs.
_HEADER_SYNONYMS = {
    "symbol": "ticker", "company": "name", "company name": "name", "name of company": "name",
    "security name": "name", "issuer": "name",
}  # fmt: skip
# A legal form at the end of a company's name, with a "&" or "and" before it ("Merck & Co.").
_LEGAL_FORM = re.compile(
    r"(?:\s*(?:,|&|\band\b))?[\s,]+(?:inc|incorporated|corp|corporation|co|company|ltd|limited|plc"
    r"|llc|lp|ag|se|sa|s\.a|nv|n\.v|spa|s\.p\.a|asa|oyj)\.?$",
    re.IGNORECASE,
)


def without_legal_form(name: str) -> str | None:
    """``name`` without its legal form ("Reliance Industries Limited" -> "Reliance Industries"),
    when at least two words are left: one word alone ("Target", "Apple") is too often a common
    noun to match without the watchlist's own alias and ``not_before`` words."""
    stripped = name.strip()
    while (shorter := _LEGAL_FORM.sub("", stripped).rstrip(" ,")) != stripped:
        stripped = shorter
    return stripped if stripped != name.strip() and len(stripped.split()) >= 2 else None


def parse_watchlist(text: str, origin: str = "watchlist") -> list[WatchlistEntry]:
    """Entries from watchlist CSV text (columns ``ticker,name,aliases``; aliases ``|``-separated;
    an optional ``not_before`` column lists, ``|``-separated, the words after which a name is not
    the company). A listing's ``symbol`` and ``company name`` columns also do; a name given
    without aliases is also matched without its legal form (:func:`without_legal_form`)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    fields = {f.strip().lower() for f in reader.fieldnames or ()}
    renamed = {k: v for k, v in _HEADER_SYNONYMS.items() if k in fields and v not in fields}
    if not {"ticker", "name"} <= fields | set(renamed.values()):
        raise ValueError(f"{origin}: the header must name the columns ticker,name,aliases")
    entries: list[WatchlistEntry] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items() if isinstance(v, str)}
        row.update({renamed[k]: v for k, v in row.items() if k in renamed})
        raw_ticker, name = row.get("ticker", "").strip(), row.get("name", "").strip()
        if not raw_ticker and not name:
            continue
        ticker = normalise_ticker(raw_ticker)
        if ticker is None:
            raise ValueError(
                f"{origin} line {line}: {raw_ticker!r} is not a ticker (1-12 letters or digits, "
                "optionally a class or venue suffix such as BRK.B or RELIANCE.NS)"
            )
        aliases = tuple(a.strip() for a in row.get("aliases", "").split("|") if a.strip())
        if not aliases and (short := without_legal_form(name)):
            aliases = (short,)
        words = tuple(w.strip().lower() for w in row.get("not_before", "").split("|") if w.strip())
        entries.append(WatchlistEntry(ticker, name, aliases, words))
    return entries


def load_watchlist(path: str | Path | None = None, *, core: bool = False) -> list[WatchlistEntry]:
    """The watchlist at ``path``, or the bundled one: the largest US and European listed
    companies, biggest first (``core``: those alone, 264, the universe the simulator and the
    training generators draw from, so their seeds keep giving the streams and files documented),
    then about 300 more US companies of the S&P 500 for tagging."""
    if path is None:
        entries = parse_watchlist(bundled_watchlist_text(), "bundled watchlist")
        if not core:
            entries += parse_watchlist(bundled_watchlist_text("watchlist_more.csv"), "bundled watchlist")
        return entries
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"watchlist {path} not found: check FINSENTRY_WATCHLIST (or unset it for the bundled list)"
        ) from None
    return parse_watchlist(text, str(path))


_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))


def _is_shouting(text: str) -> bool:
    """Whether at least 80 % of the text's letters (and 12 or more) are capitals."""
    raw = text.encode("ascii", "ignore")  # the ASCII letters, A-Z and a-z, counted in C
    upper = len(raw) - len(raw.translate(None, _ASCII_UPPER))
    count = upper + len(raw) - len(raw.translate(None, _ASCII_LOWER))
    if len(raw) < len(text):  # then the few other characters one by one
        for char in NON_ASCII.findall(text):
            if char.isalpha():
                count += 1
                upper += char.isupper()
    return count >= _MIN_SHOUTING_LETTERS and upper >= _SHOUTING_SHARE * count


class _NameMatcher:
    """Whole-word matches of many names in a text (Aho-Corasick), longest match wins."""

    def __init__(
        self, names: Iterable[tuple[str, str]], not_before: dict[str, frozenset[str]] | None = None
    ) -> None:
        import ahocorasick  # a C extension: imported when a tagger is first used

        self._automaton: Any = ahocorasick.Automaton()
        self._not_before = not_before or {}  # ticker -> words that make its name a common noun
        count = 0
        self.clashes: dict[str, tuple[str, str]] = {}  # name -> (ticker kept, ticker not kept)
        for surface, ticker in names:
            if surface and surface not in self._automaton:  # first entry wins on a clash
                self._automaton.add_word(surface, (len(surface), ticker))
                count += 1
            elif surface and (kept := self._automaton.get(surface)[1]) != ticker:
                self.clashes.setdefault(surface, (kept, ticker))
        self.size = count
        if count:
            self._automaton.make_automaton()

    def find(self, text: str) -> set[str]:
        return {ticker for _, _, ticker in self.spans(text)}

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, ticker)`` of each accepted match (``end`` exclusive)."""
        if not self.size or not text:
            return []
        spans: list[tuple[int, int, str]] = []
        last = len(text) - 1
        for end, (length, ticker) in self._automaton.iter(text):
            start = end - length + 1
            if start > 0 and _is_word_char(text[start - 1]):
                continue
            if end < last and _is_word_char(text[end + 1]):
                continue
            if ticker in self._not_before and _next_word(text, end + 1) in self._not_before[ticker]:
                continue
            spans.append((start, end, ticker))
        if not spans:
            return []
        # Longest first; a shorter match inside an accepted longer one is dropped.
        spans.sort(key=lambda s: (s[0] - s[1], s[0]))
        taken: list[tuple[int, int, str]] = []
        for start, end, ticker in spans:
            if any(start <= t_end and end >= t_start for t_start, t_end, _ in taken):
                continue
            taken.append((start, end, ticker))
        return sorted((start, end + 1, ticker) for start, end, ticker in taken)


_NEXT_WORD = re.compile(r"\s+(\w+)")


def _next_word(text: str, at: int) -> str:
    """The word after position ``at`` (spaces skipped), lower-cased; '' when none."""
    found = _NEXT_WORD.match(text, at)
    return found.group(1).lower() if found else ""


def name_spans(text: str, name: str) -> tuple[Span, ...]:
    """Where ``text`` names ``name`` (any name, not only the watchlist's): case-insensitive, on
    word boundaries where it occurs so, else anywhere; ``()`` when it does not occur."""
    name = name.strip()
    if not name:
        return ()
    escaped = re.escape(name)
    for pattern in (rf"(?<!\w){escaped}(?!\w)", escaped):
        found = tuple(m.span() for m in re.finditer(pattern, text, re.IGNORECASE))
        if found:
            return found
    return ()


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class EntityTagger:
    """Tags news items with tickers: given ones, cashtags, exchange symbols, watchlist names."""

    def __init__(
        self,
        entries: Sequence[WatchlistEntry] | None = None,
        *,
        watchlist_path: str | Path | None = None,
    ) -> None:
        self._entries = list(entries) if entries is not None else None
        self._path = watchlist_path
        self._exact: _NameMatcher | None = None
        self._upper: _NameMatcher | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EntityTagger:
        """A tagger over ``settings.watchlist`` (or the bundled list), loaded on first use."""
        return cls(watchlist_path=settings.watchlist)

    @property
    def entries(self) -> list[WatchlistEntry]:
        if self._entries is None:
            self._entries = load_watchlist(self._path)
        return self._entries

    def _matchers(self) -> tuple[_NameMatcher, _NameMatcher]:
        if self._exact is None or self._upper is None:
            pairs = [(s, e.ticker) for e in self.entries for s in e.surfaces]
            common = {e.ticker: frozenset(e.not_before) for e in self.entries if e.not_before}
            self._exact = _NameMatcher(pairs, common)
            self._upper = _NameMatcher(((s.upper(), t) for s, t in pairs), common)
            if clashes := self._exact.clashes:
                shown = "; ".join(
                    f"{name!r} names {kept} and {other}: {kept} kept"
                    for name, (kept, other) in list(clashes.items())[:5]
                )
                more = f" (and {len(clashes) - 5} more)" if len(clashes) > 5 else ""
                log.warning(
                    "watchlist: %d names stand for two tickers, the first listed is tagged: "
                    "%s%s; give each name to one ticker",
                    len(clashes), shown, more,
                )  # fmt: skip
        return self._exact, self._upper

    def tickers_in(self, text: str) -> set[str]:
        """Tickers named in a text by cashtag, exchange prefix or watchlist name."""
        return {ticker for _, _, ticker in self.mentions_in(text)}

    def mentions_in(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, ticker)`` of every cashtag, exchange symbol and watchlist name."""
        found = []
        if "$" in text:  # the patterns need their "$" or ":": most texts skip the scan
            found += [
                (m.start(), m.end(), m.group(1).upper())
                for m in _CASHTAG.finditer(text)
                if m.group(1).upper() not in _NOT_CASHTAGS
            ]
        if ":" in text:
            found += [
                (m.start(), m.end(), _exchange_ticker(m)) for m in _EXCHANGE_SYMBOL.finditer(text)
            ]
        exact, upper = self._matchers()
        found += exact.spans(text)
        if _is_shouting(text):
            shouted = text.upper()
            same = len(shouted) == len(text)  # else offsets would not map back: no span, tag only
            found += [(a, b, t) if same else (0, 0, t) for a, b, t in upper.spans(shouted)]
        return found

    def tag_item(self, item: NewsItem) -> tuple[str, ...]:
        return tuple(target.name for target in self.targets(item))

    def targets(self, item: NewsItem) -> tuple[Target, ...]:
        """The item's tickers, sorted, each with where :attr:`NewsItem.text` names it.

        Tickers given in the input that the text never names have no spans: the headline's
        sentiment stands for them.
        """
        spans: dict[str, set[Span]] = {}
        for t in (normalise_ticker(x) for x in item.tickers):
            if t:
                spans.setdefault(t, set())
        for start, end, ticker in self.mentions_in(item.headline):
            spans.setdefault(ticker, set()).add((start, end))
        if item.body:
            offset = len(item.headline) + 2  # NewsItem.text joins them with ". "
            for start, end, ticker in self.mentions_in(item.body):
                spans.setdefault(ticker, set()).add((start + offset, end + offset))
        return tuple(
            Target(ticker, tuple(sorted(s for s in spans[ticker] if s[1] > s[0])))
            for ticker in sorted(spans)
        )

    def tag(self, items: Sequence[NewsItem]) -> list[tuple[str, ...]]:
        """Sorted unique tickers per item, in item order."""
        return [self.tag_item(item) for item in items]

    def tag_targets(self, items: Sequence[NewsItem]) -> list[tuple[Target, ...]]:
        """:meth:`targets` of each item, in item order."""
        return [self.targets(item) for item in items]
