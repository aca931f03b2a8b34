"""The incidents ``finsentry simulate`` injects, by profile, and their ground truth.

Profile ``standard`` (after the first 40% of the stream, a warm-up for the baselines), alternating:

- ``negative_burst``: 15-30 clearly negative headlines about one ticker within 10-20 minutes;
- ``volume_spike``: 20-36 headlines of mixed tone about one ticker within 15-30 minutes.

Profile ``hard`` cycles through incidents that are harder to catch:

- ``sustained_burst``: 18-26 items of mixed tone over 25-50 minutes (3-4 a window) on a quiet
  ticker, where no single window looks extreme;
- ``cold_start``: a negative burst 1.5-3 hours into the stream, when there is little history;
- ``quiet_hour``: 12-20 items in 15-25 minutes between 01:00 and 04:30 UTC;
- ``two_tickers``: one story about two companies (15-25 items naming both within 10-25 minutes);
  the truth holds one incident per ticker;
- ``negative_shift``: for 45-90 minutes everything about a busy ticker is negative, at its usual
  volume (its ordinary items in that time are replaced).

Incident companies are of middling popularity (quiet to normal), except for ``negative_shift``,
which needs a ticker busy enough for a share to mean something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from finsentry.entities import WatchlistEntry

if TYPE_CHECKING:
    from finsentry.app.simulate import _Draft, _Generator

__all__ = ["HARD_KINDS", "INCIDENT_KINDS", "PROFILES", "Incident", "Planned", "inject", "plan"]

PROFILES: tuple[str, ...] = ("standard", "hard")
INCIDENT_KINDS: tuple[str, ...] = ("negative_burst", "volume_spike")
HARD_KINDS: tuple[str, ...] = (
    "sustained_burst",
    "cold_start",
    "quiet_hour",
    "two_tickers",
    "negative_shift",
)
# (fewest, most items), (shortest, longest minutes), tone ("negative" or "mixed")
SHAPES: dict[str, tuple[tuple[int, int], tuple[int, int], str]] = {
    "negative_burst": ((15, 30), (10, 20), "negative"),
    "volume_spike": ((20, 36), (15, 30), "mixed"),
    "sustained_burst": ((18, 26), (25, 50), "mixed"),
    "cold_start": ((15, 25), (10, 20), "negative"),
    "quiet_hour": ((12, 20), (15, 25), "mixed"),
    "two_tickers": ((15, 25), (10, 25), "mixed"),
    "negative_shift": ((0, 0), (45, 90), "negative"),
}


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    kind: str
    scope_value: str
    start: datetime
    end: datetime
    item_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "scope_kind": "ticker",
            "scope_value": self.scope_value,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "item_ids": list(self.item_ids),
        }


@dataclass(frozen=True, slots=True)
class Planned:
    """One incident to inject: its kind, companies (two for ``two_tickers``) and time."""

    kind: str
    companies: tuple[WatchlistEntry, ...]
    start: datetime
    minutes: int


def _quiet_hour(begin: datetime, warm_up: datetime, end: datetime, gen: _Generator) -> datetime:
    """A time between 01:00 and 04:30 UTC after the warm-up, as near ``begin`` as there is."""
    day = begin.replace(hour=0, minute=0, second=0, microsecond=0)
    nights = [
        day + timedelta(days=d, hours=1, seconds=gen.rng.uniform(0, 3.5 * 3600))
        for d in range(-3, 4)
    ]
    fits = [at for at in nights if warm_up <= at and at + timedelta(minutes=30) < end]
    return min(fits, key=lambda at: abs(at - begin)) if fits else begin


def plan(
    gen: _Generator, profile: str, count: int, start: datetime, end: datetime, warm_up: datetime
) -> list[Planned]:
    """Where and on whom the incidents fall (one slot each after the warm-up)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    kinds = INCIDENT_KINDS if profile == "standard" else HARD_KINDS
    slot = (end - timedelta(minutes=45) - warm_up) / max(count, 1)
    if count and slot < timedelta(minutes=60):
        raise ValueError(
            f"{count} incidents do not fit in {(end - start).total_seconds() / 3600:g} h (each "
            "needs an hour after the 40% warm-up); simulate more hours or fewer incidents"
        )
    if profile == "hard" and count and end - start < timedelta(hours=12):
        raise ValueError("the hard profile needs at least 12 hours (its cold-start incidents)")
    pool = gen.incident_companies(2 * count)
    busy = gen.busy_companies()
    out: list[Planned] = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        (_, _), (low, high), _ = SHAPES[kind]
        minutes = gen.rng.randint(low, high)
        slack = max((slot - timedelta(minutes=minutes + 30)).total_seconds(), 0.0)
        begin = warm_up + index * slot + timedelta(seconds=gen.rng.uniform(0, slack))
        if kind == "cold_start":
            begin = start + timedelta(hours=gen.rng.uniform(1.5, 3.0))
        elif kind == "quiet_hour":
            begin = _quiet_hour(begin, warm_up, end, gen)
        companies = (pool[2 * index], pool[2 * index + 1]) if kind == "two_tickers" else (
            busy[index % len(busy)] if kind == "negative_shift" else pool[2 * index],
        )  # fmt: skip
        out.append(Planned(kind, companies, begin.replace(microsecond=0), minutes))
    return out


def inject(gen: _Generator, drafts: list[_Draft], planned: Sequence[Planned]) -> list[_Draft]:
    """The stream with the incidents' items added (and, for a negative shift, the company's
    ordinary items in that time removed)."""
    out = drafts
    for index, p in enumerate(planned):
        end = p.start + timedelta(minutes=p.minutes)
        if p.kind == "negative_shift":
            company = p.companies[0]
            usual = [d for d in out if p.start <= d.published_at < end and gen.about(d, company)]
            out = [
                d for d in out if not (p.start <= d.published_at < end and gen.about(d, company))
            ]
            count = max(len(usual), 10)
        else:
            (low, high), _, _ = SHAPES[p.kind]
            count = gen.rng.randint(low, high)
        tone = SHAPES[p.kind][2]
        out.extend(gen.incident_items(p.companies, tone, count, p.start, end, index))
    return out


def truth(planned: Sequence[Planned], drafts: Sequence[_Draft]) -> tuple[Incident, ...]:
    """One incident per planned incident and company, with the ids of its items."""
    ids: dict[int, list[str]] = {}
    for d in drafts:
        if d.incident is not None:
            ids.setdefault(d.incident, []).append(d.id)
    return tuple(
        Incident(
            f"inc{index + 1}-{p.kind}-{company.ticker}",
            p.kind,
            company.ticker,
            p.start,
            p.start + timedelta(minutes=p.minutes),
            tuple(ids.get(index, ())),
        )
        for index, p in enumerate(planned)
        for company in p.companies
    )
