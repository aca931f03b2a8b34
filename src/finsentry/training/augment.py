"""Name swapping: copies of entity-labelled headlines with each company replaced by another.

A headline's labels are about what happens to a company, not about which company it is; a model
trained on a few hundred Indian listed companies can learn their names instead ("Infosys" reads
positive). A copy with every named company swapped for a name drawn from the other companies of the
data and the watchlist keeps the sentence, the labels and the mention positions, and takes the names
away as a cue. The copies are added to the training examples only, never to validation.

The draw for a headline depends on the seed and on the headline alone, so the copies do not depend
on the order of the examples.
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from collections.abc import Sequence

from finsentry.entities import load_watchlist
from finsentry.schema import Span
from finsentry.training.data import Example

MIN_NAME = 3  # shorter names ("LT", "M&M") are mostly abbreviations: not drawn as replacements


def name_pool(examples: Sequence[Example]) -> list[str]:
    """Replacement names, sorted: the watchlist's companies and the names the data's entity labels
    give (capitalised ones: "midcap pharma" or "gold" are not companies to lend a name to)."""
    names = {e.target for e in examples if e.task == "entity" and e.spans}
    names.update(entry.name for entry in load_watchlist(core=True))
    return sorted(n for n in names if len(n) >= MIN_NAME and n[0].isupper())


def _swapped(
    text: str, group: Sequence[Example], rng: random.Random, pool: Sequence[str]
) -> list[Example] | None:
    """One copy of ``text``'s examples with new names, or ``None`` where the mentions overlap."""
    targets = sorted({e.target for e in group if e.task == "entity"})
    originals = {t.casefold() for t in targets}
    choices = [n for n in pool if n.casefold() not in originals]
    if len(choices) < len(targets):
        return None
    renamed = dict(zip(targets, rng.sample(choices, len(targets)), strict=True))
    edits = sorted(
        {(a, b, e.target) for e in group if e.task == "entity" for a, b in e.spans}
    )
    if any(edits[i][1] > edits[i + 1][0] for i in range(len(edits) - 1)):
        return None  # "Tata" inside "Tata Motors": no clean swap
    new_text = ""
    spans: dict[str, list[Span]] = defaultdict(list)
    cursor = 0
    for start, end, target in edits:
        new_text += text[cursor:start]
        spans[target].append((len(new_text), len(new_text) + len(renamed[target])))
        new_text += renamed[target]
        cursor = end
    new_text += text[cursor:]
    return [
        Example(new_text, e.task, e.label, renamed[e.target], tuple(spans[e.target]))
        if e.task == "entity"
        else Example(new_text, e.task, e.label)
        for e in group
    ]


def swap_names(
    examples: Sequence[Example], share: float, seed: int, pool: Sequence[str] | None = None
) -> list[Example]:
    """Name-swapped copies of about ``share`` of the headlines whose every entity label has a
    mention in the text (with their agreed headline label, if any)."""
    if share <= 0.0:
        return []
    pool = list(pool) if pool is not None else name_pool(examples)
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        groups[example.text].append(example)
    added: list[Example] = []
    for text, group in groups.items():
        entity = [e for e in group if e.task == "entity"]
        if not entity or any(not e.spans for e in entity):
            continue
        if any(e.task not in ("entity", "sentiment") for e in group):
            continue
        rng = random.Random(zlib.crc32(f"{seed}|{text}".encode()))
        if rng.random() >= share:
            continue
        copy = _swapped(text, group, rng, pool)
        if copy is not None:
            added.extend(copy)
    return added
