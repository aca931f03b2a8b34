"""The committed default model, on a small labelled sample written for this project.

The headlines below are our own, written to be unambiguous; the test checks that the model beats
the trivial majority-class predictor on them (a sanity floor, not an accuracy target: the model
card reports accuracy on the real validation data).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from finsentry.scoring import Scorer

SENTIMENT_SAMPLE = [
    ("Shares plunge after profit warning", "negative"),
    ("Retailer slashes full-year outlook as sales slump", "negative"),
    ("Bank shares tumble on fraud investigation", "negative"),
    ("Chipmaker misses estimates, stock sinks 12%", "negative"),
    ("Airline warns of deeper losses as demand collapses", "negative"),
    ("Analyst downgrades carmaker to sell, cuts price target", "negative"),
    ("Drugmaker falls after trial failure", "negative"),
    ("Lender files for bankruptcy protection", "negative"),
    ("Miner cuts dividend as copper prices crash", "negative"),
    ("Stocks slide as recession fears mount", "negative"),
    ("Shares soar after record quarterly earnings", "positive"),
    ("Software maker beats estimates and raises guidance", "positive"),
    ("Analyst upgrades bank to buy, lifts price target", "positive"),
    ("Biotech jumps 30% on positive trial results", "positive"),
    ("Retailer raises dividend after strong holiday sales", "positive"),
    ("Stocks rally to record highs as inflation cools", "positive"),
    ("Carmaker shares surge on strong delivery numbers", "positive"),
    ("Oil major posts bumper profit, boosts buyback", "positive"),
    ("Chip stocks climb after blowout forecast", "positive"),
    ("Airline shares rise as bookings rebound strongly", "positive"),
    ("Company to hold annual shareholder meeting on May 5", "neutral"),
    ("Bank names new chief financial officer", "neutral"),
    ("Retailer to report first-quarter results on Thursday", "neutral"),
    ("Insurer announces conference call to discuss results", "neutral"),
    ("Automaker to present at investor conference next week", "neutral"),
    ("Utility files annual report with regulators", "neutral"),
    ("Fund manager discusses outlook for emerging markets", "neutral"),
    ("Here is what to watch in markets this week", "neutral"),
    ("Company declares regular quarterly dividend of $0.25", "neutral"),
    ("Exchange lists new bond ETF", "neutral"),
]

TOPIC_SAMPLE = [
    ("Fed raises interest rates by a quarter point", "Fed | Central Banks"),
    ("ECB holds rates steady, signals cuts later this year", "Fed | Central Banks"),
    ("Apple reports record quarterly revenue and EPS", "Earnings"),
    ("Microsoft Q3 earnings beat expectations", "Earnings"),
    ("Oil prices jump as OPEC+ agrees to cut output", "Energy | Oil"),
    ("Brent crude falls on rising US inventories", "Energy | Oil"),
    ("Gold hits record high as dollar weakens", "Gold | Metals | Materials"),
    ("Startup files for IPO on Nasdaq", "IPO"),
    ("Tech giant to acquire rival in $10 billion deal", "M&A | Investments"),
    ("Treasury yields climb as bond selloff deepens", "Treasuries | Corporate Debt"),
    ("Dollar slides against yen and euro", "Currencies"),
    ("Company names new CEO as founder steps down", "Personnel Change"),
]


def _accuracy(predicted: list[str], truth: list[str]) -> float:
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def test_default_model_beats_the_majority_class_on_sentiment(default_scorer: Scorer) -> None:
    texts, truth = zip(*SENTIMENT_SAMPLE, strict=True)
    predicted = [s.sentiment for s in default_scorer.score(list(texts))]
    majority = Counter(truth).most_common(1)[0][1] / len(truth)
    accuracy = _accuracy(predicted, list(truth))
    assert accuracy > majority + 0.25, (accuracy, list(zip(texts, predicted, strict=True)))


def test_default_model_beats_the_majority_class_on_topic(default_scorer: Scorer) -> None:
    texts, truth = zip(*TOPIC_SAMPLE, strict=True)
    predicted = [s.topic for s in default_scorer.score(list(texts))]
    majority = Counter(truth).most_common(1)[0][1] / len(truth)
    accuracy = _accuracy(predicted, list(truth))
    assert accuracy > majority + 0.25, (accuracy, list(zip(texts, predicted, strict=True)))


# Our own two-company headlines: the first company's fortune is the first label.
OPPOSITE = [
    ("Apple shares jump on record iPhone sales while Amazon slumps", ("AAPL", "positive"), ("AMZN", "negative")),
    ("Microsoft beats estimates, Intel shares sink after weak forecast", ("MSFT", "positive"), ("INTC", "negative")),
    ("Pfizer tumbles on trial failure as Merck rallies on approval", ("PFE", "negative"), ("MRK", "positive")),
    ("Shell profit slumps while BP lifts dividend to record", ("SHEL", "negative"), ("BP", "positive")),
]  # fmt: skip


def _stored_ticker_rows(
    scorer: Scorer, tmp_path: Path, texts: list[tuple[str, str]]
) -> list[tuple[str, str, str, str]]:
    """Run (id, headline) items through the whole pipeline into SQLite; the stored
    (item_id, ticker, sentiment, basis) rows."""
    from finsentry.config import Settings
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run_files

    rows = [
        {"id": key, "published_at": f"2026-03-02T{10 + n // 60:02d}:{n % 60:02d}:00+00:00",
         "source": "wire", "headline": text}
        for n, (key, text) in enumerate(texts)
    ]  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    settings = Settings(db=str(tmp_path / "items.db"))
    pipe = Pipeline.from_settings(settings, scorer=scorer, deliver=False)
    run_files([path], settings, pipeline=pipe)
    stored: list[tuple[str, str, str, str]] = pipe.store._all(  # type: ignore[attr-defined]
        "SELECT item_id, ticker, sentiment, basis FROM item_tickers ORDER BY item_id, ticker"
    )
    pipe.close()
    return stored


def test_two_companies_of_opposite_fortune_are_stored_with_opposite_sentiment(
    default_scorer: Scorer, tmp_path: Path
) -> None:
    """Through the whole pipeline with the default model: each ticker's own sentiment is stored."""
    texts = [(f"o{i}", text) for i, (text, _, _) in enumerate(OPPOSITE)]
    stored = _stored_ticker_rows(default_scorer, tmp_path, texts)
    got = {(r[0], r[1]): (r[2], r[3]) for r in stored}
    right = 0
    for i, (text, (a, a_label), (b, b_label)) in enumerate(OPPOSITE):
        first, second = got.get((f"o{i}", a)), got.get((f"o{i}", b))
        assert first is not None and second is not None, (text, got)
        assert first[1] == "entity" and second[1] == "entity"
        right += (first[0], second[0]) == (a_label, b_label)
    assert right >= 3, got  # opposite sentiment towards the two companies, in most headlines


# Our own headlines (not from benchmarks/data/adverse_events.csv, not from the training templates):
# an adverse event told without market words, and a look-alike in the same vocabulary.
ADVERSE = [
    ("Boiler explosion at BASF chemical works leaves two workers dead", "BAS"),
    ("Nestle pulls infant milk from shops after bacteria found in batches", "NESN"),
    ("Hackers lock Boeing engineers out of design systems for three days", "BA"),
    ("Ford recalls 400,000 SUVs as fuel pumps can fail on motorways", "F"),
    ("Prosecutors charge former Siemens managers with paying bribes", "SIE"),
    ("Walmart drivers begin week-long walkout over unpaid overtime", "WMT"),
    ("Regulator orders Exxon to stop pumping at Gulf platform after leak", "XOM"),
    ("Visa payment network fails across Europe, shoppers stranded at tills", "V"),
]
LOOKALIKE = [
    ("BASF opens training centre for chemical plant safety engineers", "BAS"),
    ("Nestle adds new testing lab for infant milk in Switzerland", "NESN"),
    ("Boeing hires former hacker to lead its security research team", "BA"),
    ("Ford opens new fuel pump plant in Kentucky", "F"),
    ("Walmart drivers to vote on new overtime agreement next week", "WMT"),
    ("Exxon runs emergency drill at Gulf platform", "XOM"),
]


def test_adverse_events_without_market_words_are_stored_negative_for_the_company_hit(
    default_scorer: Scorer, tmp_path: Path
) -> None:
    """Through the whole pipeline: an explosion, a recall, a strike is bad news for the company it
    hits, though no share price is mentioned; the same words in a routine story are not."""
    texts = [(f"a{i}", t, tk) for i, (t, tk) in enumerate(ADVERSE)]
    texts += [(f"l{i}", t, tk) for i, (t, tk) in enumerate(LOOKALIKE)]
    stored = _stored_ticker_rows(default_scorer, tmp_path, [(k, t) for k, t, _ in texts])
    got = {(r[0], r[1]): r[2] for r in stored}
    # the tagger finds each company in the text, so its label is the entity head's, towards it
    assert {r[3] for r in stored} == {"entity"}, stored
    adverse = [got.get((key, ticker)) for key, _, ticker in texts if key.startswith("a")]
    lookalike = [got.get((key, ticker)) for key, _, ticker in texts if key.startswith("l")]
    assert None not in adverse + lookalike, got  # each company named is stored with its own row
    assert adverse.count("negative") >= 6, list(zip(ADVERSE, adverse, strict=True))
    assert lookalike.count("negative") <= 1, list(zip(LOOKALIKE, lookalike, strict=True))


# Our own sentences in the register of interim reports and stock-exchange releases (written for
# this test, apart from the training templates and from benchmarks/data/news_sentences.csv).
REPORT_SENTENCES = [
    ("Quarterly net sales climbed 18 percent to EUR 212 million on stronger export demand.", "positive"),
    ("The shipyard has signed a deal to build two ferries for a Baltic operator, worth EUR 300 mn.", "positive"),
    ("The group now sees full-year operating profit clearly above last year's level.", "positive"),
    ("Its operating loss narrowed to SEK 4.1 mn from SEK 19.6 mn in the same quarter of 2006.", "positive"),
    ("Pretax profit dropped to EUR 6.3 mn from EUR 15.8 mn as paper prices weakened.", "negative"),
    ("The mill in Kemi will be shut down for good and 210 employees will lose their jobs.", "negative"),
    ("The company no longer expects its net sales to grow this year.", "negative"),
    ("Higher energy and freight costs cut the gross margin by three percentage points.", "negative"),
    ("The company's interim report for January-March will be released on 28 April.", "neutral"),
    ("The retailer runs 43 stores in Latvia and Lithuania and has its head office in Riga.", "neutral"),
    ("The purchase price will be paid in cash at closing.", "neutral"),
    ("The shares will trade on the Nasdaq Helsinki main list under the symbol KOTKA.", "neutral"),
]  # fmt: skip


def test_report_sentences_are_read_as_an_investor_reads_them(default_scorer: Scorer) -> None:
    texts, truth = zip(*REPORT_SENTENCES, strict=True)
    predicted = [s.sentiment for s in default_scorer.score(list(texts))]
    pairs = list(zip(texts, predicted, strict=True))
    assert _accuracy(predicted, list(truth)) >= 0.75, pairs
    # good news told in a report's words is not taken for no news (2.1 read a third of it neutral)
    positives = [p for p, t in zip(predicted, truth, strict=True) if t == "positive"]
    assert positives.count("positive") >= 3, pairs
