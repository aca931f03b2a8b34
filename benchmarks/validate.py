"""Validation alone (decode + validate + normalise): the current code against a baseline commit.

    .venv/bin/python benchmarks/validate.py --records 50000 --repeat 3

The baseline is the library as it was at ``--baseline`` (default: the commit before the orjson
fast paths), unpacked from git into a temporary folder. Each side runs in its own fresh process
(alternating, ``--repeat`` times, best rate of each kept) over the same records, cut into batches
of ``--batch`` as the consumer cuts them. Two record sets: ``wire`` (the Kafka benchmarks' plain
headlines) and ``messy`` (markup, entities, non-ASCII, cashtags, bad links and about 6 % records
that must be dead-lettered). Both sides must give the same items and the same dead letters (codes
and messages): the script fails if they differ. Rates are records per second of CPU time of the
validating process (the machine is shared; wall-clock rates there measure the neighbours).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_common import ROOT, TICKERS, news_stream  # noqa: E402

BASELINE_REV = "73a9496"  # the last commit before the orjson fast paths (issue 18 item 4)


def messy_stream(count: int, seed: int = 11) -> Iterator[bytes]:
    """Headlines as feeds and scrapers send them, with a share of records that must fail."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(seconds=count + 60)
    for i in range(count):
        ticker = rng.choice(TICKERS)
        row: dict[str, object] = {
            "id": f"m{seed}-{i}",
            "published_at": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "source": rng.choice(("Wire", "Börse Daily", "Street &amp; Co", "Ledger")),
            "headline": rng.choice((
                f"<b>{ticker}</b> beats estimates&nbsp;{i}",
                f"${ticker.lower()} rallies — analysts see upside {i}",
                f"{ticker} Q3: revenue up 12 %, see https://x.example/{i}",
                f"Café chain cuts outlook; {ticker} shares slide {i}",
                f"{ticker} unveils plan {i}",
            )),
            "body": rng.choice((None, "<p>Shares rose&hellip;</p><script>x()</script>",
                                "Plain body text about the quarter.", "&lt;p&gt;escaped&lt;/p&gt;")),
            "url": rng.choice((f"https://news.example/{i}?a=1#top", None, "javascript:alert(1)",
                               f"http://Example.COM:8080/{i}", "")),
            "tickers": rng.choice(([ticker], f"{ticker}|MSFT", [f"NASDAQ:{ticker}", "brk-b"], None)),
        }
        roll = rng.random()
        if roll < 0.02:
            yield b'{"id": "broken-' + str(i).encode() + b'", "headline": '
            continue
        if roll < 0.03:
            del row["headline"]
        elif roll < 0.04:
            row["published_at"] = "2026-01-02T03:04:05"
        elif roll < 0.05:
            row["tickers"] = 7
        elif roll < 0.06:
            yield b"\xef\xbb\xbf" + json.dumps(row).encode()  # a BOM: still valid
            continue
        yield json.dumps(row, ensure_ascii=rng.random() < 0.5).encode()


def worker(path: str, batch: int, now_iso: str) -> None:
    """Time parse_records over the lines of ``path``; print rate, path of the module and digest."""
    from finsentry import sources
    from finsentry.config import Settings
    from finsentry.schema import RawRecord
    from finsentry.sources.validate import parse_records

    settings = Settings()
    now = datetime.fromisoformat(now_iso)  # one "now" for both sides
    received = datetime(2026, 12, 1, tzinfo=UTC)
    lines = Path(path).read_bytes().split(b"\n")
    records = [RawRecord(line, "bench", "t/0", n, received_at=received) for n, line in enumerate(lines)]
    digest = hashlib.sha256()
    elapsed = 0.0
    processed = 0
    for i in range(0, len(records), batch):  # one batch held at a time, as in the consumer
        started = time.process_time()  # CPU time: the machine is shared, wall time is noise
        items, dead = parse_records(records[i : i + batch], settings, now)
        elapsed += time.process_time() - started
        processed += len(items)
        for item in items:
            digest.update(repr(item).encode("utf-8", "backslashreplace"))
        for letter in dead:
            digest.update(repr(letter).encode("utf-8", "backslashreplace"))
    print(json.dumps({"rate": len(records) / elapsed, "processed": processed,
                      "dead": len(records) - processed, "module": sources.__file__,
                      "digest": digest.hexdigest()}))


def run_side(src: Path, path: Path, batch: int, now: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(  # noqa: S603 - this script, with our own arguments
        [sys.executable, __file__, "--worker", str(path), "--batch", str(batch), "--now", now],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    if not str(result["module"]).startswith(str(src)):
        raise SystemExit(f"the worker imported finsentry from {result['module']}, not {src}")
    return result


def unpack(rev: str, into: Path) -> Path:
    archive = subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src/finsentry"],  # noqa: S607
        check=True, capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare with")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.batch, args.now)
        return
    with tempfile.TemporaryDirectory(prefix="finsentry-bench-validate-") as tmp:
        baseline_src = unpack(args.baseline, Path(tmp) / "baseline")
        now = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        for name, stream in (("wire", news_stream), ("messy", messy_stream)):
            path = Path(tmp) / f"{name}.jsonl"
            path.write_bytes(b"\n".join(stream(args.records)))
            old: list[float] = []
            new: list[float] = []
            for _ in range(args.repeat):
                before = run_side(baseline_src, path, args.batch, now)
                after = run_side(ROOT / "src", path, args.batch, now)
                if before["digest"] != after["digest"]:
                    raise SystemExit(f"{name}: the current code gives other items or dead "
                                     f"letters than {args.baseline}")
                old.append(float(before["rate"]))  # type: ignore[arg-type]
                new.append(float(after["rate"]))  # type: ignore[arg-type]
            print(f"{name}: {args.records} records ({after['processed']} items, {after['dead']} "
                  f"dead letters, identical on both sides); baseline {args.baseline} "
                  f"{max(old):,.0f} rec/s ({1e6 / max(old):.1f} us), current {max(new):,.0f} "
                  f"rec/s ({1e6 / max(new):.1f} us), ratio {max(new) / max(old):.2f}")


if __name__ == "__main__":
    main()
