"""Synthetic training headlines: adverse corporate events told without market words.

The labelled news finsentry trains on (twitter-financial-news, SEntFiN) labels *market tone*:
"plant explosion" with no word about the share price is mostly labelled neutral there. A desk reads
an explosion, a data breach or an arrest as bad news for the company it hits, and finsentry's
alerts count negative items per ticker, so the model must too. This module writes such headlines,
and neutral look-alikes in the same vocabulary (a plant opening, a fire drill, a security product),
from templates written for finsentry, as an entity-level CSV (SEntFiN's shape: ``id,title,entities``)
that ``finsentry train`` reads like any other::

    python -m finsentry.training.synthetic --out events.csv --n 2400 --seed 7
    python -m finsentry.training.synthetic --out pairs.csv --n 1500 --seed 11 --contrast-share 1

The second writes headlines naming two companies of opposite fortune ("A gains as B slips",
"A misses estimates, whereas B raises its outlook"): the labels of a company depend on its own
clause, which the market-tone data sets rarely show.

Company names come from the bundled watchlist and a list of invented names. The evaluation set in
``benchmarks/data/adverse_events.csv`` was written separately, by hand, and is never read here.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path

from finsentry.entities import load_watchlist

# {co} is the company hit (negative); {other} a bystander (neutral); the rest are fillers.
ADVERSE = (
    "{co} {site} blast kills {n} workers",
    "Explosion rips through {co} {site} in {place}",
    "{n} injured as blast hits {co} {site}",
    "Fire guts {co} {site}; output halted",
    "Blaze at {co} {site} forces evacuation of nearby homes",
    "{co} halts production after fire at {place} {site}",
    "Ransomware attack cripples {co} systems",
    "Hackers shut {co} {service} for a {dur}",
    "{co} says cyber intrusion disrupted {service}",
    "{co} discloses breach exposing data of {n} million customers",
    "Personal records of {n} million {co} users leaked online",
    "{co} recalls {n}00,000 {product} over {defect}",
    "{regulator} orders {co} to recall {product} after {defect} reports",
    "{co} {product} pulled from shelves over {defect}",
    "{regulator} fines {co} {amount} for {misconduct}",
    "{co} hit with {amount} penalty over {misconduct}",
    "{co} sued by {plaintiffs} over {misconduct}",
    "{plaintiffs} file class action against {co} alleging {misconduct}",
    "{regulator} opens fraud probe into {co} accounts",
    "{co} under investigation for {misconduct}",
    "{co} auditor resigns citing accounting irregularities",
    "Auditor raises going-concern doubt over {co}",
    "{co} warns it may not survive without new funding",
    "{co} files for bankruptcy protection",
    "{co} enters administration after lenders pull support",
    "{co} defaults on bond payment",
    "{agency} cuts {co} credit rating to junk",
    "{agency} downgrades {co} debt on weak cash flow",
    "{co} chief executive arrested in {place}",
    "Police detain {co} finance chief over {misconduct}",
    "{co} founder charged with {misconduct}",
    "{n},000 {co} workers walk out in pay dispute",
    "Strike shuts {co} {site}s across {place}",
    "Unions at {co} call indefinite stoppage",
    "{co} {service} down for hours in nationwide outage",
    "Outage leaves {co} customers without {service}",
    "{regulator} bans {co} from {activity}",
    "{regulator} revokes {co} licence",
    "{co} barred from government contracts over {misconduct}",
    "{co} {site} shut by {regulator} after safety lapses",
    "Toxic leak at {co} {site} prompts {regulator} inquiry",
    "{co} {product} linked to {n} deaths, {regulator} says",
    "Whistleblower accuses {co} of {misconduct}",
    "{co} admits {misconduct} at {place} unit",
    "{co} hit by export ban to {place}",
    "Sanctions cut {co} off from key suppliers",
    "{co} loses its biggest customer",
    "{co} scraps flagship {product} after failed trials",
    "{regulator} rejects {co} {product} application",
    "{co} {product} trial halted after patient deaths",
    "Train derailment blamed on {co} signalling fault",
    "{co} jet grounded after engine failure",
    "Court orders {co} to pay {amount} in damages",
    "{co} faces criminal charges over {place} disaster",
    "{co} delays {product} launch again amid quality problems",
    "{co} to cut {n},000 jobs and close {site}s",
)
LOOKALIKE = (
    "{co} opens new {site} in {place}",
    "{co} holds annual fire drill at {place} {site}",
    "{co} launches {security} for business customers",
    "{co} hosts cybersecurity summit in {place}",
    "{co} appoints new chief information security officer",
    "{co} names {place} head of compliance",
    "{co} completes scheduled safety inspection at {site}",
    "{co} to publish annual report on {date}",
    "{co} sponsors local fire brigade training centre",
    "{co} expands data centre capacity in {place}",
    "{co} updates privacy policy for {service}",
    "{co} files routine annual return with {regulator}",
    "{co} schedules maintenance window for {service}",
    "{co} unveils redesigned {product}",
    "{co} signs supply agreement with {other}",
    "{co} and {other} to co-host industry conference",
    "{co} moves {place} office to new building",
    "{co} board to meet on {date}",
    "{co} to present at investor day on {date}",
    "{co} tests emergency response plan at {site}",
    "{co} trains staff on data protection rules",
    "{co} recalls former executive as adviser",
    "{co} renames {service} unit",
    "{regulator} publishes guidance that {co} helped draft",
    "{co} releases {product} software update",
    "{co} completes audit of {site} energy use",
)
# ``--extended`` (2.1): events the first set told in few ways: contamination and pollution,
# accidents, industrial action, operations stopped by an authority, sanctions; and look-alikes in
# their vocabulary. Written from the event list of issue 11, not from any evaluation headline.
ADVERSE_MORE = (
    "{contaminant} found in {co} {goods}",
    "{co} {goods} tainted with {contaminant}, tests show",
    "Health officials link {illness} outbreak to {co} {goods}",
    "{co} tells shoppers to throw away {goods} after {contaminant} scare",
    "{regulator} detects {contaminant} in batches of {co} {goods}",
    "{co} {site} leaked {pollutant} into local river, inspectors say",
    "Villagers fall ill near {co} {site} after chemical spill",
    "{co} blamed for {pollutant} contaminating {place} groundwater",
    "{n} dead as {co} {vehicle} crashes near {place}",
    "{co} {vehicle} derails outside {place}",
    "Roof collapse at {co} {site} traps {n} workers",
    "Gas leak at {co} {site} sends {n} to hospital",
    "{co} tanker spills oil off {place} coast",
    "Mine collapse at {co} leaves {n} miners missing",
    "Crane falls at {co} building site, {n} hurt",
    "{co} pilots strike, grounding hundreds of flights",
    "Walkout halts output at {co} {site} for a {dur}",
    "{co} staff stage {dur}-long strike over pensions",
    "Industrial action at {co} disrupts {service}",
    "{co} locks out {n},000 workers as wage talks collapse",
    "Unions reject {co} pay offer and set strike dates",
    "{regulator} orders {co} to halt operations at {site}",
    "Authorities seal {co} {site} over pollution breaches",
    "{co} forced to shut {site} on {regulator} order",
    "{regulator} suspends {co} operations in {place}",
    "Court orders closure of {co} {place} {site}",
    "{regulator} halts sales of {co} {product}",
    "{co} added to US sanctions list",
    "{place} freezes {co} assets under new sanctions",
    "US Treasury sanctions {co} and two of its executives",
    "{co} cut off from dollar payments after sanctions",
    "EU blacklists {co} over deals with sanctioned buyers",
)
LOOKALIKE_MORE = (
    "{co} updates allergen labels on {goods}",
    "{co} publishes water quality report for {place} {site}",
    "{co} runs oil spill response exercise off {place}",
    "{co} orders {n} new {vehicle}s",
    "Pay talks between {co} and unions to begin on {date}",
    "{co} signs three-year wage deal with unions",
    "{co} reviews sanctions compliance procedures",
    "{regulator} renews operating permit for {co} {site}",
    "{co} carries out evacuation exercise at {site}",
    "{co} adds lab testing for {contaminant} at {site}",
    "{co} {site} resumes normal shifts after planned maintenance",
    "{co} names new head of health and safety",
)
# ``--compound`` (2.2.1): headline-ese where the company names the event ("Maersk cyberattack
# paralyses systems", "BASF plant blast forces shutdown"), and the words cyberattack / cyber-attack
# / hack, which the first sets only told as "ransomware attack" or "cyber intrusion". Written after
# finsentry read issue 11's "Intuitive Surgical cyberattack paralyses systems worldwide" as neutral.
ADVERSE_COMPOUND = (
    "{co} cyberattack {cripples} systems worldwide",
    "{co} cyberattack {cripples} {service}",
    "{co} cyber-attack {cripples} operations in {place}",
    "Cyberattack {cripples} {co} operations",
    "{co} systems {paralysed} by cyberattack",
    "{co} shuts down systems after cyberattack",
    "{co} hack exposes data of {n} million customers",
    "{co} hacked; {service} offline for a {dur}",
    "{co} ransomware attack halts {service}",
    "{co} {site} explosion forces indefinite shutdown",
    "{co} {site} blast kills {n}",
    "{co} {site} fire halts output",
    "{co} data breach hits {n} million users",
    "{co} recall widens to {n} million {product}",
    "{co} outage leaves {service} users stranded",
    "{co} fraud probe widens to {place} unit",
    "{co} strike enters second week",
    "{co} {product} recall: {regulator} cites {defect}",
)
LOOKALIKE_COMPOUND = (
    "{co} cybersecurity unit wins {place} contract",
    "{co} launches cyberattack protection for {service}",
    "{co} runs cyberattack drill across {place} offices",
    "{co} buys cybersecurity start-up",
    "{co} rolls out new systems worldwide",
    "{co} systems upgrade completed on schedule",
    "{co} {site} expansion adds {n}00 jobs",
    "{co} data centre opens in {place}",
)
# two companies: the first is hit (negative), the second is mentioned neutrally
PAIRED = (
    "Fire at {co} {site} that supplies {other}",
    "{co} recalls {product} made for {other} over {defect}",
    "{co} data breach exposes records; partner {other} says its systems are unaffected",
    "{regulator} fines {co} {amount}; {other} not involved",
    "{co} files for bankruptcy owing money to {other}",
    "Strike at {co} {site}; {other} plant runs as normal",
)

# Two companies of opposite fortune in one headline: each clause decides its own company's label.
UP = ("gains", "rises", "climbs", "jumps", "advances", "rallies", "surges", "soars", "firms",
      "beats estimates", "raises its outlook", "lifts guidance", "posts record profit",
      "wins a major contract", "gets an upgrade", "hits a 52-week high", "adds 4%")
DOWN = ("slips", "falls", "drops", "declines", "slides", "sinks", "tumbles", "plunges", "eases",
        "misses estimates", "cuts its outlook", "lowers guidance", "swings to a loss",
        "loses a key contract", "gets a downgrade", "hits a 52-week low", "sheds 3%")
JOINS = ("{a} {x} as {b} {y}", "{a} {x} while {b} {y}", "{a} {x}, {b} {y}", "{a} {x}; {b} {y}",
         "{a} {x} but {b} {y}", "{a} {x}, whereas {b} {y}", "{a} {x} and {b} {y}")

FILLERS: dict[str, Sequence[str]] = {
    "site": ("plant", "refinery", "factory", "warehouse", "mine", "smelter", "depot", "facility"),
    "place": ("Texas", "Gujarat", "Bavaria", "Ohio", "Lyon", "Chennai", "Osaka", "Rotterdam",
              "Ontario", "Sao Paulo", "Seoul", "Milan", "Queensland", "Pune", "Wales"),
    "n": ("2", "3", "4", "5", "6", "8", "12", "15", "20", "40"),
    "service": ("online banking", "mobile network", "payment app", "cloud service", "booking system",
                "email service", "streaming platform", "card payments"),
    "dur": ("day", "week", "weekend", "second day"),
    "product": ("cars", "laptops", "baby formula", "insulin pens", "airbags", "heart monitors",
                "phones", "washing machines", "pet food", "e-bikes", "blood thinner", "tyres"),
    "defect": ("fire risk", "brake faults", "contamination", "battery overheating",
               "faulty wiring", "choking hazard", "software glitch"),
    "regulator": ("SEC", "FDA", "EPA", "FCA", "SEBI", "BaFin", "the EU Commission",
                  "the CMA", "the DOJ", "the FTC", "RBI", "the NHTSA"),
    "amount": ("$40 million", "$1.2 billion", "EUR 300 million", "Rs 500 crore", "GBP 90 million",
               "$7 billion", "$15 million"),
    "misconduct": ("bribery", "price fixing", "misleading customers", "money laundering",
                   "insider dealing", "emissions cheating", "safety violations",
                   "hiding defects", "wage theft", "tax evasion"),
    "plaintiffs": ("Shareholders", "Customers", "Pension funds", "Patients", "Former employees",
                   "Dealers"),
    "agency": ("Moody's", "S&P", "Fitch", "CRISIL", "ICRA"),
    "activity": ("selling new policies", "taking deposits", "lending", "opening accounts",
                 "issuing cards"),
    "security": ("threat detection service", "firewall suite", "password manager",
                 "fraud monitoring tool", "encryption service"),
    "date": ("March 3", "May 12", "June 30", "September 9", "November 18"),
}
# the fillers only the extended templates use (kept apart: 2.0's draws stay as they were)
FILLERS_MORE: dict[str, Sequence[str]] = {
    "goods": ("salads", "frozen meals", "bottled water", "infant cereal", "cough syrup",
              "eye drops", "peanut butter", "ice cream", "sunscreen", "dog food", "spices"),
    "contaminant": ("salmonella", "listeria", "E. coli", "benzene", "lead", "mould",
                    "glass fragments", "metal shards", "undeclared allergens", "pesticide residue"),
    "illness": ("salmonella", "food poisoning", "hepatitis A", "listeria", "E. coli"),
    "pollutant": ("cyanide", "mercury", "sulphuric acid", "diesel", "untreated sewage", "ammonia"),
    "vehicle": ("freight train", "passenger jet", "bus", "cargo ship", "helicopter",
                "tanker truck"),
}
# the fillers only the compound templates use
FILLERS_COMPOUND: dict[str, Sequence[str]] = {
    "cripples": ("cripples", "paralyses", "paralyzes", "knocks out", "shuts down", "disrupts",
                 "halts", "takes down"),
    "paralysed": ("paralysed", "paralyzed", "crippled", "knocked out", "frozen"),
}
INVENTED = ("Norvex Industries", "Calder Foods", "Brightline Telecom", "Halvorsen Chemicals",
            "Meridian Pharma", "Quayside Logistics", "Orbis Motors", "Tallis Bank",
            "Kestrel Airways", "Sundara Textiles", "Veltro Energy", "Ashgrove Mining")


_SUFFIXES = (" Inc.", " Inc", " Corp.", " Corp", " plc", " PLC", " AG", " SE", " SA", " S.A.",
             " SpA", " NV", " N.V.", " Ltd.", " Ltd", " AB", " ASA", " A/S", " Co.", " Oyj")


def companies() -> list[str]:
    """The watchlist's companies as headlines name them (short names, aliases), and invented ones."""
    names: set[str] = set()
    for entry in load_watchlist(core=True):
        for surface in entry.surfaces:
            for suffix in _SUFFIXES:
                surface = surface.removesuffix(suffix)
            if len(surface) > 2 and not surface.isupper():
                names.add(surface.strip().rstrip(" &,"))
    return sorted(names) + list(INVENTED)


def contrast(rng: random.Random, names: Sequence[str]) -> tuple[str, dict[str, str]]:
    """Two companies, one up and one down (or one moving and one flat), in either order."""
    a, b = rng.sample(names, 2)
    labels = ("positive", "negative") if rng.random() < 0.5 else ("negative", "positive")
    pools = {"positive": UP, "negative": DOWN}
    title = rng.choice(JOINS).format(
        a=a, b=b, x=rng.choice(pools[labels[0]]), y=rng.choice(pools[labels[1]])
    )
    return title, {a: labels[0], b: labels[1]}


def generate(
    n: int, seed: int, contrast_share: float = 0.0, extended: bool = False, compound: bool = False
) -> list[tuple[str, dict[str, str]]]:
    """``n`` distinct (title, {company: label}) pairs: ``contrast_share`` of two-company headlines
    of opposite fortune, and of the rest about 60 % adverse events, 30 % look-alikes, 10 %
    two-company event headlines. ``extended`` adds the 2.1 templates (``ADVERSE_MORE``,
    ``LOOKALIKE_MORE``), ``compound`` the 2.2.1 ones; without them the output for a seed is what
    2.0 was trained on."""
    rng = random.Random(seed)
    names = companies()
    adverse = ADVERSE + (ADVERSE_MORE if extended else ()) + (ADVERSE_COMPOUND if compound else ())
    lookalike = (
        LOOKALIKE + (LOOKALIKE_MORE if extended else ()) + (LOOKALIKE_COMPOUND if compound else ())
    )
    fillers = {**FILLERS, **(FILLERS_MORE if extended else {})}
    if compound:
        fillers.update(FILLERS_COMPOUND)
    out: dict[str, dict[str, str]] = {}
    attempts = 0
    while len(out) < n and attempts < 50 * n:
        attempts += 1
        if contrast_share > 0 and rng.random() < contrast_share:
            title, pair = contrast(rng, names)
            out.setdefault(title[0].upper() + title[1:], pair)
            continue
        draw = rng.random()
        kind = adverse if draw < 0.6 else lookalike if draw < 0.9 else PAIRED
        template = rng.choice(kind)
        company, other = rng.sample(names, 2)
        values = {key: rng.choice(choices) for key, choices in fillers.items()}
        title = template.format(co=company, other=other, **values)
        if kind is lookalike:
            labels = {company: "neutral"}
            if "{other}" in template:
                labels[other] = "neutral"
        else:
            labels = {company: "negative"}
            if "{other}" in template:
                labels[other] = "neutral"
        out.setdefault(title[0].upper() + title[1:], labels)
    return list(out.items())


def write_csv(path: Path, rows: Sequence[tuple[str, dict[str, str]]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "entities"])
        for i, (title, labels) in enumerate(rows, 1):
            writer.writerow([f"syn-{i:05d}", title, json.dumps(labels)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write.")
    parser.add_argument("--n", type=int, default=2400, help="How many headlines.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--contrast-share", type=float, default=0.0, help="share of opposite-fortune pairs"
    )
    parser.add_argument(
        "--extended",
        action="store_true",
        help="add the 2.1 templates (contamination, accidents, strikes, shutdowns, sanctions)",
    )
    parser.add_argument(
        "--compound",
        action="store_true",
        help="add the 2.2.1 templates (the company naming the event: 'X cyberattack cripples ...')",
    )
    args = parser.parse_args(argv)
    rows = generate(args.n, args.seed, args.contrast_share, args.extended, args.compound)
    write_csv(args.out, rows)
    print(f"wrote {len(rows)} headlines to {args.out}")


if __name__ == "__main__":
    main()
