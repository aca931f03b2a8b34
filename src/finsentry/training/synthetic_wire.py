"""Synthetic training sentences in the register of company releases and wire copy.

Tweets and Indian market headlines, finsentry's labelled news, rarely read like a company's
interim report: "Operating profit fell to EUR 2.0 mn from EUR 5.6 mn", "The group will cut 150
jobs at its Oulu mill", "Its head office is in Espoo". A desk reads the first two as bad news and
the third as no news. This module writes such sentences, labelled as an investor would read them,
from templates written for finsentry:

* results: a figure where more is better (sales, profit, order intake) or worse (a loss, costs,
  net debt) moving up or down, in words ("rose by 12 %", "narrowed") or only in numbers
  ("EUR 64.4 mn (EUR 55.2 mn)", "against EUR 27.9 mn a year earlier"); a figure given without a
  comparison or at last year's level is neutral;
* events: orders won, raised or cut outlooks, job cuts and closures, cost pressure;
* plain corporate facts (head office, staff, listing, report dates, deal mechanics): neutral.

Half the sentences name a company (written as entity-level rows, SEntFiN's ``id,title,entities``
shape, so the entity head learns them too); the others speak of "the company" or of no subject
(written as ``text,label`` rows)::

    python -m finsentry.training.synthetic_wire --out wire.csv --named-out wire_named.csv \\
        --n 2400 --seed 23

The evaluation set ``benchmarks/data/news_sentences.csv`` was written separately and is never read
here.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path

from finsentry.training.synthetic import companies

GOOD_UP = ("operating profit", "net profit", "net sales", "revenue", "pretax profit",
           "profit before taxes", "EBITDA", "order intake", "order backlog", "comparable sales",
           "earnings per share", "net interest income", "operating cash flow", "turnover",
           "profit for the period", "gross profit")
BAD_UP = ("operating loss", "net loss", "pretax loss", "operating costs", "net debt",
          "credit losses", "impairment charges", "personnel expenses", "loss per share")
UP = ("rose", "increased", "grew", "climbed", "went up", "jumped", "was up")
DOWN = ("fell", "decreased", "declined", "dropped", "went down", "slipped", "was down", "contracted")
PERIODS = ("", " in the first quarter", " in the second quarter of 2008", " in January-June",
           " in the third quarter", " for the full year", " in the review period",
           " in January-September 2007", " in the fourth quarter of 2009", " year-on-year",
           " from the corresponding period a year earlier", " in 2006")
CURRENCIES = ("EUR", "USD", "SEK", "NOK", "DKK", "GBP", "EUR", "EUR")
UNITS = ("mn", "million", "m", "mln")
SUBJECTS = ("The company's ", "The group's ", "Its ", "", "The bank's ", "The division's ")

# Results in words: {metric} moves {verb}; the label follows the metric's direction of good.
MOVES = (
    "{subj}{metric} {verb} to {cur} {x} {unit} from {cur} {y} {unit}{period}.",
    "{subj}{metric} {verb} by {p} % to {cur} {x} {unit}{period}.",
    "{subj}{metric} {verb} by {p} percent{period}.",
    "{subj}{metric} {verb} {p} % to {cur} {x} {unit}.",
    "{subj}{metric}{period} {verb} to {cur} {x} {unit}, from {cur} {y} {unit}.",
)
# Results only in numbers: the label follows x against y.
FIGURES = (
    "{subj}{metric} was {cur} {x} {unit} ({cur} {y} {unit}){period}.",
    "{subj}{metric} totalled {cur} {x} {unit}, compared with {cur} {y} {unit} a year earlier.",
    "{subj}{metric} amounted to {cur} {x} {unit} against {cur} {y} {unit} in the previous year.",
    "{Subj}{metric}: {cur} {x} {unit} ({cur} {y} {unit}).",
)
# No comparison, or no change: neutral.
FLAT = (
    "{subj}{metric} totalled {cur} {x} {unit}{period}.",
    "{subj}{metric} amounted to {cur} {x} {unit}{period}.",
    "{subj}{metric} remained at the previous year's level.",
    "{subj}{metric} was unchanged at {cur} {x} {unit}.",
    "{subj}{metric} stood at {cur} {x} {unit} at the end of the period.",
)
# {co} is the company; sentences that do not name it say "The company" instead.
EVENTS = {
    "positive": (
        "{co} has won an order worth {cur} {x} {unit} from {client}.",
        "{co} will deliver {n} {kit} to {client} under a contract worth {cur} {x} {unit}.",
        "{co} raised its outlook for {year} and now expects net sales to grow by {p} %.",
        "{co} said demand for its {goods} picked up clearly in the quarter.",
        "{co}'s market share rose to {p} percent.",
        "{co} expects its operating profit to improve in {year}.",
        "{co} has been selected as the main supplier for {client}'s new {kit}.",
        "The board of {co} proposes a dividend of EUR {div_new} per share, up from EUR {div_old}.",
        "{co} returned to profit in the quarter.",
        "{co} signed a {n}-year framework agreement with {client} to supply {goods}.",
    ),
    "negative": (
        "{co} will cut {n}0 jobs at its {site} in {city}.",
        "{co} will start negotiations on temporary lay-offs concerning {n}0 employees.",
        "{co} will close its {site} in {city}, affecting {n}0 employees.",
        "{co} issued a profit warning, citing weak demand for {goods}.",
        "{co} lowered its outlook and now expects net sales to decrease in {year}.",
        "{co} said higher raw material prices squeezed its margins.",
        "Demand for {co}'s {goods} weakened in all market areas.",
        "{client} cancelled its order with {co}.",
        "{co} swung to an operating loss in the quarter.",
        "{co} booked impairment charges of {cur} {x} {unit} on its {site} in {city}.",
    ),
    "neutral": (
        "{co} is headquartered in {city} and employs about {n},{d1}00 people.",
        "{co} will publish its interim report on {date}.",
        "The value of the deal between {co} and {client} was not disclosed.",
        "{co} manufactures {goods} for industrial customers.",
        "{co}'s shares are listed on the {exchange}.",
        "The transaction between {co} and {client} is expected to be closed in {year}.",
        "{co} appointed a new chief financial officer, effective {date}.",
        "{co}'s annual general meeting will be held in {city} on {date}.",
        "{co} operates {n}{d1} stores in {country}.",
        "{co} will finance the acquisition with cash and a bank loan.",
        "{co} has about {n},{d2}00 shareholders.",
    ),
}
FILLERS: dict[str, Sequence[str]] = {
    "client": ("a Chinese paper mill", "Deutsche Bahn", "a Russian steel maker", "the port of Gdansk",
               "a US utility", "a Swedish retail chain", "the Finnish Defence Forces", "Statoil",
               "a Brazilian pulp producer", "an Indian telecom operator"),
    "kit": ("cranes", "paper machines", "engines", "network base stations", "elevators",
            "drilling rigs", "trams", "boilers", "forest machines", "container scanners"),
    "goods": ("packaging board", "mobile phones", "steel tubes", "elevators", "tyres", "software",
              "sawn timber", "machine tools", "medical devices", "consumer electronics"),
    "site": ("mill", "plant", "factory", "unit", "warehouse", "paper machine", "foundry"),
    "city": ("Oulu", "Tampere", "Espoo", "Gothenburg", "Tallinn", "Lahti", "St Petersburg",
             "Vaasa", "Turku", "Aarhus", "Bergen", "Pori"),
    "country": ("Finland", "Sweden", "Estonia", "Russia", "Poland", "Norway", "the Baltics"),
    "exchange": ("Helsinki Stock Exchange", "Nasdaq OMX Helsinki", "Stockholm Stock Exchange",
                 "Oslo Bors", "London Stock Exchange"),
    "date": ("24 April", "5 August", "30 October", "12 February", "15 March"),
    "year": ("2007", "2008", "2009", "2010"),
    "n": ("2", "3", "4", "5", "6", "7", "8", "9", "12", "15"),
    "d1": tuple("123456789"),
    "d2": tuple("123456789"),
}


def _figures(rng: random.Random, better: bool | None) -> dict[str, str]:
    """x and y in one currency and unit; x clearly above y when better, below when worse."""
    y = rng.uniform(1.0, 400.0)
    if better is None:
        x = y
    else:
        factor = rng.uniform(1.08, 2.4) if better else rng.uniform(0.35, 0.92)
        x = y * factor
    p = abs(x / y - 1) * 100 if better is not None else rng.uniform(1, 40)
    return {"x": f"{x:.1f}", "y": f"{y:.1f}", "p": f"{p:.1f}" if p < 10 else f"{p:.0f}",
            "cur": rng.choice(CURRENCIES), "unit": rng.choice(UNITS)}


def _subject(rng: random.Random, company: str | None) -> str:
    return f"{company}'s " if company else rng.choice(SUBJECTS)


def result(rng: random.Random, company: str | None) -> tuple[str, str]:
    """A results sentence and its label."""
    metric_good = rng.random() < 0.7
    metric = rng.choice(GOOD_UP if metric_good else BAD_UP)
    kind = rng.random()
    values = {"metric": metric, "period": rng.choice(PERIODS), "subj": _subject(rng, company)}
    if kind < 0.25:
        values.update(_figures(rng, None))
        template, label = rng.choice(FLAT), "neutral"
    else:
        up = rng.random() < 0.5
        # more of a good figure, or less of a bad one, is good news
        good = up == metric_good
        values.update(_figures(rng, up))
        if kind < 0.65:
            verbs: tuple[str, ...] = UP if up else DOWN
            if metric_good and up:
                verbs = verbs + ("improved",)
            if not metric_good and "loss" in metric:
                verbs = verbs + (("widened",) if up else ("narrowed",))
            values["verb"] = rng.choice(verbs)
            template = rng.choice(MOVES)
        else:
            template = rng.choice(FIGURES)
        label = "positive" if good else "negative"
    values["Subj"] = values["subj"][:1].upper() + values["subj"][1:]
    text = template.format(**values)
    return text[0].upper() + text[1:], label


def event(rng: random.Random, company: str | None) -> tuple[str, str]:
    """An event or fact sentence and its label."""
    label = rng.choice(("positive", "negative", "neutral"))
    values = {key: rng.choice(choices) for key, choices in FILLERS.items()}
    values.update(_figures(rng, True))
    values["p"] = str(rng.randint(3, 45))
    old = rng.randint(5, 80)
    values["div_old"], values["div_new"] = f"{old / 100:.2f}", f"{(old + rng.randint(2, 30)) / 100:.2f}"
    text = rng.choice(EVENTS[label]).format(co=company or "The company", **values)
    if not company:
        if rng.random() < 0.3 and text.startswith("The company's"):
            text = "Its" + text.removeprefix("The company's")
        text = text.replace(" The company", " the company")
    return text[0].upper() + text[1:], label


def generate(n: int, seed: int, named_share: float = 0.5) -> list[tuple[str, str, str | None]]:
    """``n`` distinct (text, label, company or None) rows: about 60 % results, 40 % events and
    facts; ``named_share`` of them name a company."""
    rng = random.Random(seed)
    names = companies()
    out: dict[str, tuple[str, str | None]] = {}
    attempts = 0
    while len(out) < n and attempts < 50 * n:
        attempts += 1
        company = rng.choice(names) if rng.random() < named_share else None
        text, label = (result if rng.random() < 0.6 else event)(rng, company)
        if company is not None and company not in text:
            company = None
        out.setdefault(text, (label, company))
    return [(text, label, company) for text, (label, company) in out.items()]


def write(rows: Sequence[tuple[str, str, str | None]], plain: Path, named: Path) -> tuple[int, int]:
    """Unnamed rows to ``plain`` (``text,label``), named ones to ``named`` (``id,title,entities``)."""
    n_plain = n_named = 0
    with plain.open("w", encoding="utf-8", newline="") as p, named.open(
        "w", encoding="utf-8", newline=""
    ) as q:
        plain_writer, named_writer = csv.writer(p), csv.writer(q)
        plain_writer.writerow(["text", "label"])
        named_writer.writerow(["id", "title", "entities"])
        for text, label, company in rows:
            if company is None:
                plain_writer.writerow([text, label])
                n_plain += 1
            else:
                n_named += 1
                named_writer.writerow([f"wire-{n_named:05d}", text, json.dumps({company: label})])
    return n_plain, n_named


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="text,label CSV (no company named)")
    parser.add_argument("--named-out", type=Path, required=True, help="entity-level CSV")
    parser.add_argument("--n", type=int, default=2400, help="How many sentences in all.")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--named-share", type=float, default=0.5)
    args = parser.parse_args(argv)
    n_plain, n_named = write(generate(args.n, args.seed, args.named_share), args.out, args.named_out)
    print(f"wrote {n_plain} sentences to {args.out} and {n_named} to {args.named_out}")


if __name__ == "__main__":
    main()
