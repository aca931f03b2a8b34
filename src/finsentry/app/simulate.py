"""A realistic synthetic news stream with injected incidents and their ground truth.

``simulate(out, hours, seed, incidents)`` writes JSONL in the input format (one news item per line)
and, beside it, ``<out>.truth.json`` with the incidents it injected. The same seed gives the same
bytes.

The stream:

- Poisson arrivals (about :data:`DEFAULT_RATE_PER_HOUR` items an hour on average) with a daily rhythm
  (busiest mid-afternoon UTC, when Europe and the US overlap; quiet at night) and quieter weekends.
- The 20 topics of the finance models, each with its own headline templates (``data/headlines.toml``,
  written for this project) in positive, neutral and negative tones; companies from the bundled
  watchlist, the large ones more often than the small ones.
- Tickers come in different ways: given in ``tickers``, only named in the headline ("Nestle"),
  as a cashtag ("$NESN"), or exchange-prefixed ("(NASDAQ: AAPL)"), so the tagger has work to do.
- Wire names invented for the project, with their own time zones; a few stories syndicated by a
  second wire minutes later (verbatim or lightly edited); bodies sometimes carry HTML and links.
- Records are written in arrival order: up to a few minutes out of event-time order.

Incidents (profiles ``standard`` and ``hard``) are planned and written by :mod:`finsentry.app.incidents`.
"""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from finsentry.app.headlines import (
    SLOT_NUMBERS,
    TONES,
    Wire,
    load_vocabulary,
)
from finsentry.app.incidents import Incident, inject
from finsentry.app.incidents import plan as incidents_plan
from finsentry.app.incidents import truth as incidents_truth
from finsentry.entities import WatchlistEntry, load_watchlist
from finsentry.schema import utc_now

T = TypeVar("T")
TWO_COMPANY_TAILS = (
    "; {other} also in focus",
    ", {other} named in the deal",
    " - {other} shares move too",
    " as {other} is drawn in",
    "; {other} responds",
)
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, midnight UTC
DEFAULT_RATE_PER_HOUR = 90.0
WARM_UP_SHARE = 0.4
SYNDICATION_SHARE = 0.04
TONE_WEIGHTS: tuple[float, ...] = (0.25, 0.42, 0.33)


@dataclass(frozen=True, slots=True)
class SimulationResult:
    out: Path
    truth_path: Path
    items: int
    duplicates: int
    incidents: tuple[Incident, ...]
    start: datetime
    end: datetime
    seed: int
    hours: float


@dataclass(slots=True)
class _Draft:
    published_at: datetime
    arrival: datetime
    wire: Wire
    headline: str
    body: str | None
    tickers: list[str] | None
    lang: bool
    incident: int | None = None
    copy: bool = False
    id: str = ""


def rate_factor(t: datetime) -> float:
    """Relative news rate at ``t``: a daily cycle peaking at 14:00 UTC, weekends at 45%."""
    hour = t.hour + t.minute / 60
    daily = 1.0 + 0.6 * math.cos(2 * math.pi * (hour - 14.0) / 24.0)
    return daily * (0.45 if t.weekday() >= 5 else 1.0)


class _Generator:
    def __init__(self, seed: int, rate_per_hour: float) -> None:
        self.rng = random.Random(seed)
        self.rate = rate_per_hour
        self.vocab = load_vocabulary()
        self.topics = list(self.vocab.topics)
        self.incident_templates = self.vocab.incident_negative
        self.companies = load_watchlist(core=True)
        # Popularity: the watchlist lists the largest companies first.
        self.weights = [1.0 / (rank + 8) for rank in range(len(self.companies))]
        self.formatter = string.Formatter()

    # --- companies and text ----------------------------------------------------------------

    def company(self, sector: str | None = None, exclude: str | None = None) -> WatchlistEntry:
        pool = [
            (c, w)
            for c, w in zip(self.companies, self.weights, strict=True)
            if (sector is None or c.ticker in self.vocab.sectors[sector]) and c.ticker != exclude
        ]
        return self.rng.choices([c for c, _ in pool], [w for _, w in pool])[0]

    def display(self, company: WatchlistEntry, fixed: bool = False) -> str:
        names = company.aliases or (company.name,)
        if fixed or len(names) == 1 or self.rng.random() < 0.75:
            return names[0]
        return self.rng.choice(names[1:])

    def render(self, template: str, values: dict[str, str]) -> str:
        for _, slot, _, _ in self.formatter.parse(template):
            if slot is None or slot in values:
                continue
            if slot in self.vocab.slots:
                values[slot] = self.rng.choice(self.vocab.slots[slot])
            elif slot in SLOT_NUMBERS:
                values[slot] = SLOT_NUMBERS[slot](self.rng)
            elif slot == "year":
                values[slot] = str(values.get("_year", "2026"))
            else:
                raise KeyError(f"headline template slot {{{slot}}} has no generator")
        text = template.format_map(values)
        return text[:1].upper() + text[1:]

    def body(self, tone: str, subject: str | None, company: bool = True) -> str | None:
        if self.rng.random() < 0.35:
            return None
        bodies = self.vocab.bodies["company" if company else "market"][tone]
        text = self.rng.choice(bodies).format(subject=subject or "The company")
        roll = self.rng.random()
        if roll < 0.10:
            text = f"<p>{text}</p>"
        elif roll < 0.15:
            text = f"{text} Read more at https://news.example/story/{self.rng.randrange(10**6)}"
        return text

    # --- items -----------------------------------------------------------------------------

    def wire(self) -> Wire:
        return self.rng.choice(self.vocab.wires)

    def arrival(self, published: datetime) -> datetime:
        return published + timedelta(seconds=min(self.rng.expovariate(1 / 20), 240.0))

    def base_item(self, t: datetime) -> _Draft:
        rng = self.rng
        topic = rng.choices(self.topics, [tp.weight for tp in self.topics])[0]
        tone = rng.choices(TONES, TONE_WEIGHTS)[0]
        template = rng.choice(topic.templates[tone])
        values: dict[str, str] = {"_year": str(t.year)}
        tickers: list[str] | None = None
        subject: str | None = None
        if "{name}" in template:
            company = self.company(topic.sector)
            name = self.display(company)
            mode = rng.random()
            given = [company.ticker]
            if "{other}" in template:
                other = self.company(exclude=company.ticker)
                values["other"] = self.display(other)
                given.append(other.ticker)
            if mode < 0.45:
                tickers = given
            elif mode < 0.80:
                pass  # the tagger must find the name
            elif mode < 0.95:
                name = f"${company.ticker}"
            elif company.ticker in self.vocab.nasdaq:
                template = template + f" (NASDAQ: {company.ticker})"
            else:
                tickers = given
            values["name"] = name
            subject = name if not name.startswith("$") else None
        elif rng.random() < 0.3:
            tickers = []
        headline = self.render(template, values)
        body = self.body(tone, subject, company="{name}" in template)
        return _Draft(t, self.arrival(t), self.wire(), headline, body, tickers, rng.random() < 0.5)

    def syndicated_copy(self, original: _Draft) -> _Draft:
        rng = self.rng
        t = original.published_at + timedelta(seconds=rng.randint(60, 2400))
        wire = rng.choice([w for w in self.vocab.wires if w != original.wire])
        roll = rng.random()
        headline = original.headline
        if roll < 0.3:
            headline = f"UPDATE 1-{headline}"
        elif roll < 0.55:
            headline = f"{headline} - sources"
        elif roll < 0.7:
            headline = f"EXCLUSIVE: {headline}"
        tickers = original.tickers if rng.random() < 0.5 else None
        return _Draft(
            t, self.arrival(t), wire, headline, original.body, tickers, original.lang, copy=True
        )

    def base_stream(self, start: datetime, end: datetime) -> list[_Draft]:
        """Non-homogeneous Poisson arrivals by thinning against the peak rate."""
        peak = self.rate * 1.6 / 3600.0  # items per second at the daily peak
        drafts: list[_Draft] = []
        recent: dict[str, datetime] = {}
        t = start
        while True:
            t += timedelta(seconds=self.rng.expovariate(peak))
            if t >= end:
                break
            if self.rng.random() * 1.6 <= rate_factor(t):
                stamp = t.replace(microsecond=0)
                for _ in range(6):  # a wire rarely runs the same headline twice in a day
                    draft = self.base_item(stamp)
                    last = recent.get(draft.headline)
                    if last is None or stamp - last > timedelta(hours=24):
                        break
                recent[draft.headline] = stamp
                drafts.append(draft)
        copies = [self.syndicated_copy(d) for d in drafts if self.rng.random() < SYNDICATION_SHARE]
        return drafts + [c for c in copies if c.published_at < end]

    # --- incidents (see finsentry.app.incidents) ------------------------------------------------

    def incident_companies(self, count: int) -> list[WatchlistEntry]:
        """Companies of middling popularity whose names are short enough to be distinctive."""
        pool = [
            c
            for c in self.companies[12:110]
            if c.aliases
            and len(c.aliases[0].split()) <= 2
            and not any(c.ticker in members for members in self.vocab.sectors.values())
        ]
        return self.rng.sample(pool, min(count, len(pool)))

    def busy_companies(self) -> list[WatchlistEntry]:
        """The most popular companies outside the sector lists, in a seeded order."""
        pool = [
            c
            for c in self.companies[:12]
            if c.aliases and not any(c.ticker in m for m in self.vocab.sectors.values())
        ]
        return self.rng.sample(pool, len(pool))

    def about(self, draft: _Draft, company: WatchlistEntry) -> bool:
        """Whether a draft names ``company`` (in its tickers, by a name or as a cashtag)."""
        if draft.tickers and company.ticker in draft.tickers:
            return True
        names = (*company.aliases, company.name, f"${company.ticker}", f": {company.ticker})")
        return any(name in draft.headline for name in names)

    def incident_items(
        self,
        companies: tuple[WatchlistEntry, ...],
        tone: str,
        count: int,
        start: datetime,
        end: datetime,
        index: int,
    ) -> list[_Draft]:
        """``count`` items about ``companies`` (negative, or of mixed tone) spread over a span."""
        rng = self.rng
        names = [self.display(c, fixed=True) for c in companies]
        two = len(companies) == 2
        if tone == "negative" and not two:
            picks = [("negative", tpl) for tpl in _distinct(rng, self.incident_templates, count)]
        else:
            pool = [
                (t, tpl)
                for tp in self.topics
                if tp.sector is None
                for t in (TONES if tone == "mixed" else ("negative",))
                for tpl in tp.templates[t]
                if "{name}" in tpl and "{other}" not in tpl
            ]
            picks = _distinct(rng, pool, count)
        seconds = (end - start).total_seconds()
        offsets = sorted(rng.uniform(0, seconds) for _ in range(count))
        drafts = []
        for (t, template), offset in zip(picks, offsets, strict=True):
            at = (start + timedelta(seconds=offset)).replace(microsecond=0)
            headline = self.render(template, {"name": names[0], "_year": str(at.year)})
            if two:  # the same story names the second company too
                headline += rng.choice(TWO_COMPANY_TAILS).format(other=names[1])
            tickers = [c.ticker for c in companies] if rng.random() < 0.5 else None
            body = self.body(t, names[0])
            draft = _Draft(at, self.arrival(at), self.wire(), headline, body, tickers,
                           rng.random() < 0.5, incident=index)  # fmt: skip
            drafts.append(draft)
        return drafts


def _distinct(rng: random.Random, pool: Sequence[T], count: int) -> list[T]:
    """``count`` picks, all different while the pool lasts (a wire does not repeat itself)."""
    picks = rng.sample(list(pool), min(count, len(pool)))
    return picks + [rng.choice(pool) for _ in range(count - len(picks))]


def _record(draft: _Draft) -> dict[str, Any]:
    wire = draft.wire
    local = draft.published_at.astimezone(timezone(timedelta(hours=wire.utc_offset_h)))
    stamp = local.isoformat()
    if wire.zulu and wire.utc_offset_h == 0:
        stamp = stamp.replace("+00:00", "Z")
    record: dict[str, Any] = {
        "id": draft.id,
        "published_at": stamp,
        "source": wire.name,
        "headline": draft.headline,
        "body": draft.body,
        "url": f"https://{wire.slug}.example/news/{draft.id}",
    }
    if draft.tickers is not None:
        record["tickers"] = draft.tickers
    if draft.lang:
        record["lang"] = "en"
    return record


def simulate(
    out: str | Path,
    hours: float = 48,
    seed: int = 7,
    incidents: int = 3,
    start: datetime | None = None,
    rate_per_hour: float = DEFAULT_RATE_PER_HOUR,
    profile: str = "standard",
) -> SimulationResult:
    """Write a synthetic stream to ``out`` (JSONL) and its ground truth to ``<out>.truth.json``."""
    if hours <= 0:
        raise ValueError("hours must be positive")
    if incidents < 0:
        raise ValueError("incidents must be 0 or more")
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None:
        raise ValueError("start needs a UTC offset, e.g. 2026-01-05T00:00:00+00:00")
    start = start.astimezone(UTC)
    end = start + timedelta(hours=hours)
    if end > utc_now():
        raise ValueError(
            f"the stream would end at {end.isoformat()}, in the future: validation would "
            "dead-letter those items; choose an earlier --start or fewer --hours"
        )
    warm_up_end = start + timedelta(hours=hours * WARM_UP_SHARE)
    gen = _Generator(seed, rate_per_hour)
    planned = incidents_plan(gen, profile, incidents, start, end, warm_up_end)
    drafts = inject(gen, gen.base_stream(start, end), planned)
    drafts.sort(key=lambda d: (d.published_at, d.headline))
    for number, draft in enumerate(drafts, start=1):
        draft.id = f"sim{seed}-{number:06d}"
    truth_incidents = incidents_truth(planned, drafts)
    drafts.sort(key=lambda d: (d.arrival, d.id))

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for draft in drafts:
            handle.write(json.dumps(_record(draft), ensure_ascii=False) + "\n")
    duplicates = sum(d.copy for d in drafts)
    truth_path = Path(f"{out}.truth.json")
    truth = {
        "seed": seed,
        "hours": int(hours) if float(hours).is_integer() else hours,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "items": len(drafts),
        "syndicated_copies": duplicates,
        "profile": profile,
        "incidents": [i.to_json() for i in truth_incidents],
    }
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return SimulationResult(
        out, truth_path, len(drafts), duplicates, truth_incidents, start, end, seed, hours
    )


def incident_headlines(result: SimulationResult) -> dict[str, Sequence[str]]:
    """Incident id -> the headlines of its items (for summaries and tests)."""
    wanted = {item_id: inc.id for inc in result.incidents for item_id in inc.item_ids}
    found: dict[str, list[str]] = {inc.id: [] for inc in result.incidents}
    with result.out.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["id"] in wanted:
                found[wanted[record["id"]]].append(record["headline"])
    return dict(found)
