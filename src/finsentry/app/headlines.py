"""The words of the simulated stream: headline templates, slot words, bodies and wires.

Everything comes from ``data/headlines.toml`` (written for this project): the 20 topics of the
finance models with positive, neutral and negative templates, the words that fill their slots, the
bodies, the invented wires with their time zones, and the sector lists.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

__all__ = ["TONES", "Topic", "Vocabulary", "Wire", "load_topics", "load_vocabulary"]

TONES: tuple[str, ...] = ("negative", "neutral", "positive")

SLOT_NUMBERS: dict[str, Callable[[random.Random], str]] = {
    "pct": lambda r: f"{r.uniform(1.0, 9.9):.1f}",
    "bigpct": lambda r: str(r.randint(10, 40)),
    "smallpct": lambda r: f"{r.uniform(0.2, 1.8):.1f}",
    "bn": lambda r: f"{r.uniform(1.0, 45.0):.1f}",
    "mn": lambda r: str(r.randrange(40, 950, 10)),
    "eps": lambda r: f"{r.uniform(0.2, 6.0):.2f}",
    "target": lambda r: str(r.randrange(20, 900, 5)),
    "bps": lambda r: r.choice(("25", "50")),
    "rate": lambda r: f"{r.choice((1.5, 2.0, 2.25, 2.5, 3.0, 3.25, 3.5, 4.0, 4.25, 4.5)):.2f}",
    "price": lambda r: f"{r.uniform(58.0, 95.0):.2f}",
    "div": lambda r: f"{r.uniform(0.1, 2.5):.2f}",
    "jobs": lambda r: f"{r.randrange(300, 15000, 100):,}",
    "days": lambda r: str(r.randint(2, 28)),
    "weeks": lambda r: str(r.randint(4, 52)),
}


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    weight: float
    sector: str | None
    templates: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Wire:
    name: str
    slug: str
    utc_offset_h: int
    zulu: bool  # writes "Z" rather than "+00:00"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Everything ``data/headlines.toml`` holds: templates, slot words, bodies, wires, sectors."""

    topics: tuple[Topic, ...]
    incident_negative: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    bodies: dict[str, dict[str, tuple[str, ...]]]  # "company" | "market" -> tone -> bodies
    wires: tuple[Wire, ...]
    sectors: dict[str, frozenset[str]]
    nasdaq: frozenset[str]


def load_vocabulary() -> Vocabulary:
    text = resources.files("finsentry").joinpath("data/headlines.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    topics = tuple(
        Topic(
            name,
            float(spec["weight"]),
            spec.get("sector"),
            {tone: tuple(spec.get(tone, ())) for tone in TONES},
        )
        for name, spec in data["topics"].items()
    )
    return Vocabulary(
        topics=topics,
        incident_negative=tuple(data["incident"]["negative"]),
        slots={k: tuple(v) for k, v in data["slots"].items()},
        bodies={
            kind: {tone: tuple(data["bodies"][kind][tone]) for tone in TONES}
            for kind in ("company", "market")
        },
        wires=tuple(Wire(**w) for w in data["wires"]),
        sectors={k: frozenset(v) for k, v in data["sectors"].items()},
        nasdaq=frozenset(data["listings"]["nasdaq"]),
    )


def load_topics() -> list[Topic]:
    return list(load_vocabulary().topics)
