from __future__ import annotations

import random
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finsentry.config import Settings
from finsentry.entities import (
    EntityTagger,
    WatchlistEntry,
    load_watchlist,
    name_spans,
    parse_watchlist,
)
from finsentry.schema import NewsItem

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


def news(headline: str, body: str | None = None, tickers: tuple[str, ...] = ()) -> NewsItem:
    return NewsItem(
        id="x", published_at=T0, source="Wire", headline=headline, body=body, tickers=tickers
    )


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger.from_settings(Settings())


def test_bundled_watchlist_is_valid_and_large() -> None:
    entries = load_watchlist()
    tickers = [e.ticker for e in entries]
    assert len(entries) >= 150
    assert len(set(tickers)) == len(tickers)
    assert {"AAPL", "MSFT", "ASML", "SAP", "NESN", "SHEL", "BRK.B"} <= set(tickers)
    surfaces = [s for e in entries for s in e.surfaces]
    assert all(s == s.strip() and s for s in surfaces)
    core = load_watchlist(core=True)  # what the simulator and training generators draw from
    assert entries[: len(core)] == core and len(entries) >= len(core) + 250
    assert {"SEDG", "WBA", "GEHC", "M"} <= set(tickers) - {e.ticker for e in core}
    owners: dict[str, str] = {}
    for e in entries:  # every written form names one company
        for surface in e.surfaces:
            assert owners.setdefault(surface, e.ticker) == e.ticker, surface


@pytest.mark.parametrize(
    ("headline", "expected"),
    [
        ("Apple beats estimates", ("AAPL",)),
        ("Apple's iPhone sales slow", ("AAPL",)),
        ("Pineapple prices soar", ()),
        ("an apple a day", ()),
        ("Microsoft and Alphabet rally; Google unveils chip", ("GOOGL", "MSFT")),
        ("Facebook parent Meta Platforms cuts jobs", ("META",)),
        ("Metaverse hype fades", ()),
        ("Siemens Energy shares fall", ("ENR",)),
        ("Siemens wins rail order", ("SIE",)),
        ("Deutsche Bank and Commerzbank in merger talks", ("CBK", "DBK")),
        ("Nestlé cuts outlook", ("NESN",)),
        ("AT&T and T-Mobile trade barbs", ("T", "TMUS")),
        ("Procter & Gamble lifts forecast", ("PG",)),
        ("L'Oréal posts record sales", ("OR",)),
        ("GE Aerospace raises guidance", ("GE",)),
        ("GEAR maker results", ()),
        ("Delta variant worries weigh on travel", ()),
        ("Delta Air Lines expands fleet", ("DAL",)),
        ("Target price raised by analysts", ()),
        ("APPLE CUTS FORECAST AS IPHONE DEMAND SLOWS", ("AAPL",)),
        ("3M settles lawsuit", ("MMM",)),
        ("Profit rose 13M euros", ()),
        ("", ()),
    ],
)
def test_names_and_aliases(tagger: EntityTagger, headline: str, expected: tuple[str, ...]) -> None:
    assert tagger.tag([news(headline)]) == [expected]


@pytest.mark.parametrize(
    ("headline", "expected"),
    [
        ("$AAPL breaking out", ("AAPL",)),
        ("watching $tsla and $nvda today", ("NVDA", "TSLA")),
        ("$BRK.B at all-time high.", ("BRK.B",)),
        ("Ends at $AAPL.", ("AAPL",)),
        ("a $10bn deal priced at $45.50", ()),
        ("priced in $USD terms, about $US5bn", ()),
        ("Shares (NASDAQ: ZZZQ) rose", ("ZZZQ",)),
        ("NYSE:BRK.B and Nasdaq:NVDA, LSE:VOD, XETRA:SAP", ("BRK.B", "NVDA", "SAP", "VOD")),
        ("ratio 3:2 and time 10:30", ()),
        # numbered listings take their venue: a bare number names different companies by market
        ("Tencent (HKG:0700) and Toyota (TYO: 7203) rise", ("0700.HK", "7203.T")),
        ("Samsung KRX:005930, TSMC TPE:2330, Reliance BOM:500325", ("005930.KS", "2330.TW", "500325.BO")),
        ("NSE:HDFCBANK and NSE:BAJAJ-AUTO gain", ("BAJAJ-AUTO", "HDFCBANK")),
        # a number after an exchange's name is a ticker only on a numbered market
        ("LSE: 1,200 jobs cut; NYSE: 2024 IPO slate", ()),
        ("TYO: 72 companies, HKG: 1,299 listings, TSE:7203.5", ()),
        ("a $700 fee and $1299 price", ()),
    ],
)
def test_cashtags_and_exchange_symbols(
    tagger: EntityTagger, headline: str, expected: tuple[str, ...]
) -> None:
    assert tagger.tag([news(headline)]) == [expected]


def test_input_tickers_kept_body_scanned_output_sorted_unique(tagger: EntityTagger) -> None:
    item = news(
        "Chipmakers slide",
        body="Nvidia and AMD fell; $NVDA lost 4%.",
        tickers=("ZZZ", "nvda", "bad-1"),
    )
    assert tagger.tag([item]) == [("AMD", "NVDA", "ZZZ")]


def test_input_tickers_of_any_market_are_kept(tagger: EntityTagger) -> None:
    item = news("Asian markets mixed", tickers=("reliance.ns", "0700.HK", "7203.T", "HDFCBANK"))
    assert tagger.tag([item]) == [("0700.HK", "7203.T", "HDFCBANK", "RELIANCE.NS")]


def test_tag_keeps_item_order(tagger: EntityTagger) -> None:
    items = [news("Tesla recalls cars"), news("Nothing here"), news("Shell and BP gain")]
    assert tagger.tag(items) == [("TSLA",), (), ("BP", "SHEL")]


def test_custom_watchlist_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "wl.csv"
    path.write_text("ticker,name,aliases\nzzq,Zenqua Holdings,Zenqua|ZQ Group\n", encoding="utf-8")
    tagger = EntityTagger.from_settings(Settings(watchlist=str(path)))
    assert tagger.tag([news("Zenqua soars; ZQ Group and Apple")]) == [("ZZQ",)]


def test_watchlist_errors_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="header"):
        parse_watchlist("code,title\nAAPL,Apple\n")
    with pytest.raises(ValueError, match="line 2"):
        parse_watchlist("ticker,name,aliases\nNOT A TICKER,Foo,\n")
    with pytest.raises(FileNotFoundError, match="FINSENTRY_WATCHLIST"):
        EntityTagger.from_settings(Settings(watchlist=str(tmp_path / "missing.csv"))).tag(
            [news("x")]
        )


def test_an_exchange_listing_is_a_watchlist_and_names_match_without_their_legal_form() -> None:
    listing = (
        "SYMBOL,NAME OF COMPANY,SERIES\n"
        "RELIANCE.NS,Reliance Industries Limited,EQ\n"
        "TATAMOTORS.NS,Tata Motors Ltd.,EQ\n"
        "INFY.NS,Infosys Ltd,EQ\n"  # one word left: too often a common noun to match alone
        "JPM,JPMorgan Chase & Co.,EQ\n"
    )
    entries = {e.ticker: e for e in parse_watchlist(listing)}
    assert entries["RELIANCE.NS"].aliases == ("Reliance Industries",)
    assert entries["TATAMOTORS.NS"].aliases == ("Tata Motors",)
    assert entries["INFY.NS"].aliases == ()
    assert entries["JPM"].aliases == ("JPMorgan Chase",)
    tagger = EntityTagger(list(entries.values()))
    headline = "Reliance Industries gains as Tata Motors slips; Infosys flat"
    assert tagger.tag([news(headline)]) == [("RELIANCE.NS", "TATAMOTORS.NS")]
    # aliases given: the listing's own words only
    (given,) = parse_watchlist("symbol,company name,aliases\nAAPL,Apple Inc.,Apple\n")
    assert given.aliases == ("Apple",)


def test_watchlist_is_loaded_lazily(tmp_path: Path) -> None:
    tagger = EntityTagger.from_settings(Settings(watchlist=str(tmp_path / "later.csv")))
    (tmp_path / "later.csv").write_text("ticker,name,aliases\nQQQQ,Quux Corp,Quux\n")
    assert tagger.tag([news("Quux rallies")]) == [("QQQQ",)]


def test_thousands_of_names(tmp_path: Path) -> None:
    rng = random.Random(3)
    entries: list[WatchlistEntry] = []
    names: set[str] = set()
    while len(entries) < 5000:
        name = "".join(
            rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 10))
        ).title()
        ticker = "".join(rng.choice(string.ascii_uppercase) for _ in range(5))
        if name in names:
            continue
        names.add(name)
        entries.append(WatchlistEntry(ticker, f"{name} Corp", (name,)))
    tagger = EntityTagger(entries)
    picks = rng.sample(entries, 200)
    items = [
        news(f"{e.aliases[0]} shares jump after {p.name} deal")
        for e, p in zip(picks[:100], picks[100:], strict=True)
    ]
    tagged = tagger.tag(items * 20)  # 2,000 headlines against 5,000 companies
    for (e, p), tickers in zip(zip(picks[:100], picks[100:], strict=True), tagged, strict=False):
        assert set(tickers) == {e.ticker, p.ticker}
    # An alias inside a longer word is no hit.
    assert tagger.tag([news(f"Mega{picks[0].aliases[0]}s rally")]) == [()]


def test_targets_carry_where_the_text_names_each_ticker(tagger: EntityTagger) -> None:
    item = news(
        "Apple climbs as $MSFT slips",
        body="NASDAQ:INTC was flat; Apple said more.",
        tickers=("NVDA", "aapl"),
    )
    targets = {t.name: t.spans for t in tagger.targets(item)}
    text = item.text
    assert [text[a:b] for a, b in targets["AAPL"]] == ["Apple", "Apple"]
    assert [text[a:b] for a, b in targets["MSFT"]] == ["$MSFT"]
    assert [text[a:b] for a, b in targets["INTC"]] == ["NASDAQ:INTC"]
    assert targets["NVDA"] == ()  # given in the input, never named: the headline's sentiment
    assert tagger.tag_item(item) == tuple(sorted(targets))


def test_name_spans_finds_any_name_case_insensitively() -> None:
    text = "Tata Steel and TATA STEEL's rival JSW"
    assert [text[a:b] for a, b in name_spans(text, "tata steel")] == ["Tata Steel", "TATA STEEL"]
    assert name_spans(text, "Infosys") == ()
    assert name_spans("AlphaBeta", "Beta") == ((5, 9),)  # not on a word boundary: still found


@pytest.mark.parametrize(
    ("headline", "expected"),
    [
        ("Regulator cracks down on shell companies; Shell companies face probe", ()),
        ("SHELL COMPANIES FACE A WIDER PROBE", ()),
        ("Shell profit jumps on gas prices", ("SHEL",)),
        ("Visa applications surge as students return", ()),
        ("Visa rules out a bid for the fintech", ("V",)),
        ("Amazon rainforest fires spread", ()),
        ("Amazon shares jump", ("AMZN",)),
        ("Short seller accuses Oracle of inflating revenue", ("ORCL",)),
        ("Apple Growers Brace For A Smaller Harvest", ()),
        ("Apple Pie Prices Soar At Farmers Markets", ()),
        ("Apple cuts iPhone prices in China", ("AAPL",)),
        ("Banks Told To Close Shell Corporations Used To Hide Funds", ()),
        ("Amazon Deforestation Hits A Record", ()),
    ],
)
def test_a_name_followed_by_a_common_noun_is_not_the_company(
    tagger: EntityTagger, headline: str, expected: tuple[str, ...]
) -> None:
    assert tagger.tag_item(news(headline)) == expected


def test_a_custom_watchlist_may_list_the_words_after_which_a_name_is_not_the_company() -> None:
    (entry,) = parse_watchlist("ticker,name,aliases,not_before\nBALL,Ball Corp.,Ball,Game|Bearings\n")
    assert entry.not_before == ("game", "bearings")
    custom = EntityTagger([entry])
    assert custom.tag_item(news("Ball bearings maker expands")) == ()
    assert custom.tag_item(news("Ball raises outlook")) == ("BALL",)
    (plain,) = parse_watchlist("ticker,name,aliases\nBALL,Ball Corp.,Ball\n")
    assert EntityTagger([plain]).tag_item(news("Ball bearings maker expands")) == ("BALL",)


def test_a_name_given_to_two_tickers_is_reported_and_the_first_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = parse_watchlist(
        "ticker,name,aliases\nGOOGL,Alphabet Inc.,Alphabet|Google\nGOOG,Alphabet Class C,Alphabet\n"
    )
    with caplog.at_level("WARNING", logger="finsentry.entities"):
        assert EntityTagger(entries).tag([news("Alphabet rises")]) == [("GOOGL",)]
    (message,) = [r.getMessage() for r in caplog.records]
    assert "'Alphabet' names GOOGL and GOOG: GOOGL kept" in message
    caplog.clear()
    with caplog.at_level("WARNING", logger="finsentry.entities"):
        EntityTagger(load_watchlist()).tag([news("Alphabet rises")])
    assert caplog.records == []  # the bundled list gives each name to one ticker
