"""Ticker tagging and duplicate detection throughput, each against a naive baseline in the same run.

- Tagging: ``EntityTagger`` (one Aho-Corasick automaton + word-boundary checks) vs a baseline that
  runs one compiled word-boundary regex per watchlist name over every headline.
- Dedup: ``Deduplicator`` (candidates from its word-combination index, exact Jaccard check) vs a
  baseline that compares each headline with every earlier one inside the horizon (exact Jaccard
  on the same word sets).
  Both must mark the same items as duplicates; the script checks that they agree.

Headlines come from ``finsentry simulate`` (written to a temporary directory).

    .venv/bin/python benchmarks/entities_dedup.py --hours 24 --names 5000
    .venv/bin/python benchmarks/entities_dedup.py --hours 12 --rate 800   # a denser horizon
"""

from __future__ import annotations

import argparse
import random
import re
import string
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.dedup import NEAR_THRESHOLD, Deduplicator, _same_companies, _same_names, fingerprint
from finsentry.entities import EntityTagger, WatchlistEntry, load_watchlist
from finsentry.schema import NewsItem
from finsentry.sources.files import FileSource
from finsentry.sources.validate import parse_records
from finsentry.store.base import Store


class NoStore:
    def stored_marks(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        return []


def load_items(hours: float, rate: float) -> list[NewsItem]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "news.jsonl"
        simulate(out, hours=hours, seed=1, incidents=0, rate_per_hour=rate)
        records = [r for b in FileSource([out]).batches() for r in b]
        items, _ = parse_records(records, Settings(), datetime.now(UTC))
    return items


def watchlist(extra_names: int) -> list[WatchlistEntry]:
    """The bundled watchlist plus invented companies, to reach the wanted size."""
    rng = random.Random(0)
    entries = load_watchlist()
    while len(entries) < extra_names:
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 10)))
        ticker = "".join(rng.choice(string.ascii_uppercase) for _ in range(5))
        entries.append(WatchlistEntry(ticker, f"{name.title()} Corp", (name.title(),)))
    return entries


def bench_tagging(items: list[NewsItem], entries: list[WatchlistEntry]) -> None:
    tagger = EntityTagger(entries)
    tagger.tag(items[:1])  # build the automaton outside the timing
    started = time.perf_counter()
    tagger.tag(items)
    fast = time.perf_counter() - started

    patterns = [
        (re.compile(rf"(?<!\w){re.escape(s)}(?!\w)"), e.ticker) for e in entries for s in e.surfaces
    ]
    sample = items[: max(50, len(items) // 20)]  # the baseline is slow: time a slice, scale up
    started = time.perf_counter()
    for item in sample:
        {t for p, t in patterns if p.search(item.headline)}
    naive = (time.perf_counter() - started) * len(items) / len(sample)
    print(
        f"tagging {len(items)} headlines against {len(entries)} companies ({len(patterns)} names):"
    )
    print(f"  EntityTagger          {len(items) / fast:12,.0f} items/s")
    print(f"  regex per name        {len(items) / naive:12,.0f} items/s (timed on {len(sample)})")
    print(f"  ratio                 {naive / fast:12.1f}x")


def bench_dedup(items: list[NewsItem], horizon: timedelta) -> None:
    tagger = EntityTagger()
    tags = tagger.tag(items)
    dedup = Deduplicator(cast(Store, NoStore()), horizon)
    dedup.mark(items[:1], tags[:1])  # imports outside the timing
    dedup = Deduplicator(cast(Store, NoStore()), horizon)
    started = time.perf_counter()
    marks = []
    for i in range(0, len(items), 256):
        marks += dedup.mark(items[i : i + 256], tags[i : i + 256])
    fast = time.perf_counter() - started

    order = sorted(range(len(items)), key=lambda i: (items[i].published_at, items[i].id))
    fps = [fingerprint(item.headline, t) for item, t in zip(items, tags, strict=True)]
    sets = [fp.shingles for fp in fps]
    novel: list[int] = []
    naive_dup: dict[int, bool] = {}
    started = time.perf_counter()
    for i in order:
        dup = False
        for j in novel:
            if abs(items[i].published_at - items[j].published_at) > horizon:
                continue
            same_text = fps[i].exact == fps[j].exact
            if not _same_companies(fps[i].tickers, fps[j].tickers):
                continue
            inter = len(sets[i] & sets[j])
            similar = inter / (len(sets[i]) + len(sets[j]) - inter or 1) >= NEAR_THRESHOLD
            if same_text or (similar and _same_names(fps[i].names, fps[j].names)):
                dup = True
                break
        naive_dup[i] = dup
        if not dup:
            novel.append(i)
    naive = time.perf_counter() - started
    agree = sum((not marks[i].novel) == naive_dup[i] for i in range(len(items)))
    print(f"dedup of {len(items)} headlines, horizon {horizon}:")
    print(
        f"  Deduplicator (index)  {len(items) / fast:12,.0f} items/s, "
        f"{sum(not m.novel for m in marks)} duplicates"
    )
    print(
        f"  all-pairs Jaccard     {len(items) / naive:12,.0f} items/s, "
        f"{sum(naive_dup.values())} duplicates"
    )
    print(f"  ratio                 {naive / fast:12.1f}x; marks agree on {agree / len(items):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24, help="hours of simulated news")
    parser.add_argument("--rate", type=float, default=90, help="simulated items per hour")
    parser.add_argument("--names", type=int, default=5000, help="watchlist size for tagging")
    args = parser.parse_args()
    items = load_items(args.hours, args.rate)
    bench_tagging(items, watchlist(args.names))
    bench_dedup(items, timedelta(hours=24))


if __name__ == "__main__":
    main()
