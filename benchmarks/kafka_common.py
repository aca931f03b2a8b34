"""Shared helpers of the Kafka benchmarks: a throw-away broker and a synthetic news stream."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROKER = ROOT / "infra" / "kafka" / "broker"

TICKERS = ("AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "JPM", "XOM", "PFE", "META", "GOOGL", "KO", "BA")
WORDS = (
    "supply chain margin guidance outlook dividend buyback factory plant contract cloud chips "
    "battery retail bank loan oil gas drug trial approval launch deal stake merger lawsuit probe "
    "earnings revenue profit loss forecast demand pricing tariff export union strike pilot plan "
    "network data center storage software hardware vehicle truck refinery pipeline vaccine patent "
    "quarter board chief officer hiring layoffs expansion asia europe india brazil canada mexico"
).split()
VERBS = ("surges", "slumps", "beats", "misses", "expands", "weighs", "reviews", "confirms",
         "delays", "unveils", "cuts", "raises", "tumbles", "rallies", "signs", "wins")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    """Use ``bootstrap`` if given, else start a throw-away local broker and stop it at the end."""
    if bootstrap:
        yield bootstrap
        return
    with tempfile.TemporaryDirectory(prefix="finsentry-bench-kafka-") as state:
        port = free_port()
        subprocess.run(  # noqa: S603 - our own script
            [str(BROKER), "start", "--port", str(port), "--state", state], check=True
        )
        try:
            yield f"127.0.0.1:{port}"
        finally:
            subprocess.run([str(BROKER), "stop", "--state", state], check=False)  # noqa: S603


def news_stream(count: int, seed: int = 7, step_s: float = 1.0) -> Iterator[bytes]:
    """Varied synthetic JSONL headlines in time order, ending about now (with a short body)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(seconds=count * step_s + 60)
    for i in range(count):
        ticker = rng.choice(TICKERS)
        words = rng.sample(WORDS, 6)
        row = {
            "id": f"b{seed}-{i}",
            "published_at": (start + timedelta(seconds=i * step_s)).isoformat(),
            "source": rng.choice(("Wire", "Daily", "Street", "Ledger")),
            "headline": f"{ticker} {rng.choice(VERBS)} {' '.join(words[:4])} {i}",
            "body": f"The company said {' '.join(words[2:])} would matter for the quarter.",
            "url": f"https://news.example/{seed}/{i}",
            "tickers": [ticker],
        }
        yield json.dumps(row).encode()


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
