"""Simulated streams in your own words: ``finsentry simulate --headlines FILE``.

The simulator writes its headlines from templates, which a model reads easily. To see how
detection does on news like yours, each simulated item can take a real headline instead: one from
a labelled file shaped like SEntFiN (columns ``title`` and ``entities``, the latter a JSON object
``{"name as written in the title": "negative|neutral|positive"}``, as ``finsentry evaluate --task
entity`` reads), with the tone the item needs and its company swapped in.

- The tone of an item: negative for the items of negative incidents (``negative_burst``,
  ``cold_start``, ``negative_shift``), else drawn with the simulator's shares, seeded.
- An item naming one company takes a headline with one named entity of that tone, an item
  naming two (``two_tickers``) one with two; the file's names are replaced by the simulated
  item's company as the simulator wrote it (name, alias or cashtag). An item naming none takes a
  one-entity headline as it is.
- Headlines are drawn without replacement while the file lasts; a syndicated copy ("UPDATE 1-",
  "EXCLUSIVE: ", "- sources") becomes a copy of its original's replacement. Bodies are dropped:
  the headline carries the tone. Timing, tickers and the ground truth are the simulator's.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsentry.app.headlines import TONES
from finsentry.app.incidents import SHAPES
from finsentry.app.simulate import TONE_WEIGHTS
from finsentry.entities import EntityTagger

__all__ = ["Headline", "HeadlineError", "Rewriter", "read_headlines", "rewrite_stream"]

COPY_MARKS = (("UPDATE 1-", ""), ("EXCLUSIVE: ", ""), ("", " - sources"))


class HeadlineError(ValueError):
    """A headlines file that cannot serve a stream; the message says what it lacks."""


@dataclass(frozen=True, slots=True)
class Headline:
    title: str
    entities: tuple[str, ...]  # the names to replace, longest first


def read_headlines(paths: list[Path]) -> dict[tuple[int, str], list[Headline]]:
    """(named entities, tone) -> the headlines whose one or two entities all carry that tone and
    are each written verbatim in the title (neither inside the other)."""
    pools: dict[tuple[int, str], list[Headline]] = {}
    for path in paths:
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except FileNotFoundError:
            raise HeadlineError(f"headlines file {path} does not exist") from None
        if rows and not {"title", "entities"} <= set(rows[0]):
            raise HeadlineError(
                f"{path}: needs columns title and entities (as SEntFiN: entities is a JSON object "
                'name -> label, e.g. {"Infosys": "positive"})'
            )
        for row in rows:
            found = _headline(row)
            if found is not None:
                pools.setdefault(found[0], []).append(found[1])
    return pools


def _headline(row: dict[str, str]) -> tuple[tuple[int, str], Headline] | None:
    try:
        labels = json.loads(row["entities"] or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(labels, dict) or len(labels) not in (1, 2):
        return None
    tones = {str(v).strip().lower() for v in labels.values()}
    title = " ".join(str(row["title"] or "").split())
    names = tuple(sorted((str(n) for n in labels), key=len, reverse=True))
    if len(tones) != 1 or not tones <= set(TONES) or not all(n and n in title for n in names):
        return None
    if len(names) == 2 and names[1] in names[0]:
        return None
    return (len(names), tones.pop()), Headline(title, names)


class Rewriter:
    """Replaces a simulated record's headline by a real one of the tone it needs."""

    def __init__(self, pools: dict[tuple[int, str], list[Headline]], seed: int) -> None:
        self.rng = random.Random(seed)
        self.pools = {k: self.rng.sample(v, len(v)) for k, v in sorted(pools.items())}
        self.taken = dict.fromkeys(self.pools, 0)
        self.tagger = EntityTagger()
        self.done: dict[str, str] = {}  # base simulated headline -> real headline
        self.reused = 0
        self.fallbacks = 0  # two-company items that took a one-company headline

    def draw(self, entities: int, tone: str, incident: bool = False) -> Headline:
        """The next headline naming ``entities`` companies in ``tone``. Outside incidents, a
        one-company headline stands in when the file has no two-company one of that tone."""
        key = (entities, tone)
        pool = self.pools.get(key)
        if not pool and entities == 2 and not incident and self.pools.get((1, tone)):
            self.fallbacks += 1
            return self.draw(1, tone)
        if not pool:
            what = "one company" if entities == 1 else "two companies"
            raise HeadlineError(
                f"the headlines file has no headline naming {what} with {tone} tone, which this "
                "stream needs (two companies: the hard profile's two-ticker incidents)"
            )
        if self.taken[key] >= len(pool):
            self.taken[key] = 0
            self.reused += 1
        self.taken[key] += 1
        return pool[self.taken[key] - 1]

    def surfaces(self, headline: str) -> list[str]:
        """The strings that name a company in a simulated headline, first mention of each."""
        found: dict[str, str] = {}
        for start, end, ticker in sorted(self.tagger.mentions_in(headline)):
            if end > start and ticker not in found:
                found[ticker] = headline[start:end]
        return list(found.values())[:2]

    def rewrite(self, record: dict[str, Any], tone: str, incident: bool = False) -> dict[str, Any]:
        headline = record["headline"]
        prefix, suffix = "", ""
        for p, s in COPY_MARKS:
            if (p and headline.startswith(p)) or (s and headline.endswith(s)):
                prefix, suffix = p, s
                headline = headline[len(p) :] if p else headline[: -len(s)]
                break
        real = self.done.get(headline)
        if real is None:
            names = self.surfaces(headline)
            pick = self.draw(max(len(names), 1), tone, incident)
            real = pick.title
            for entity, name in zip(pick.entities, names, strict=False):
                real = real.replace(entity, name)
            self.done[headline] = real
        return {**record, "headline": f"{prefix}{real}{suffix}", "body": None}


def tones_of(truth: dict[str, Any], records: list[dict[str, Any]], seed: int) -> Iterator[str]:
    """The tone each record needs: its incident's when negative, else drawn, seeded."""
    rng = random.Random(seed * 7919)
    tone_of_item = {
        item_id: SHAPES[inc["kind"]][2] for inc in truth["incidents"] for item_id in inc["item_ids"]
    }
    for record in records:
        tone = tone_of_item.get(record["id"], "mixed")
        yield tone if tone == "negative" else rng.choices(TONES, TONE_WEIGHTS)[0]


def rewrite_stream(stream: Path, headlines: list[Path], seed: int) -> int:
    """Rewrite a simulated stream (and keep its truth file) with real headlines, in place.
    Returns how many times a pool of headlines ran out and was reused."""
    truth = json.loads(Path(f"{stream}.truth.json").read_text(encoding="utf-8"))
    records = [json.loads(line) for line in stream.read_text(encoding="utf-8").splitlines()]
    rewriter = Rewriter(read_headlines(headlines), seed)
    incident = {item_id for inc in truth["incidents"] for item_id in inc["item_ids"]}
    rewritten = [
        rewriter.rewrite(record, tone, record["id"] in incident)
        for record, tone in zip(records, tones_of(truth, records, seed), strict=True)
    ]
    with stream.open("w", encoding="utf-8", newline="\n") as handle:
        for record in rewritten:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return rewriter.reused
