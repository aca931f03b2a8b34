"""Detection on real news sentences: the simulator's streams with every headline replaced by a real
one of the same tone, then ``finsentry backtest`` on both, seed by seed (issue 12).

The simulator (``finsentry simulate``) writes its headlines from templates, and the model reads
them easily. The rewriting is the product's (``finsentry simulate --headlines FILE``,
:mod:`finsentry.app.realtext`); this script runs it on SEntFiN and backtests both versions. A desk's news is not like that. Here each stream keeps the simulator's timing, its
tickers, its syndicated copies and its planted incidents (the ground truth), but every headline
becomes a real SEntFiN headline whose per-company label matches the tone the item needs, with the
company it names replaced by the simulated item's company (same surface: name, alias, cashtag).
So what changes is only the text the model, the tagger and the duplicate detector read.

- Tone of an item: an incident's (negative for ``negative_burst``, ``cold_start``,
  ``negative_shift``), else drawn with the simulator's shares (negative 0.25, neutral 0.42,
  positive 0.33), seeded.
- Items naming one company get a headline with one labelled entity of that tone, items naming
  two (``two_tickers``) one with two entities of that tone; items naming none get a one-entity
  headline as it is. Headlines are drawn without replacement (no accidental duplicates), and a
  syndicated copy ("UPDATE 1-", "EXCLUSIVE: ", "- sources") becomes a copy of its original's
  replacement. Bodies are dropped: the headline carries the tone.
- The SEntFiN files are read where they lie (``--sentfin DIR``) and nothing of them is written
  outside ``--out`` (default: a temporary directory, removed).

    .venv/bin/python benchmarks/real_news_stream.py --sentfin ../shared/data/sentfin \\
        --seeds 1,2,3,4,5 --profile hard --incidents 10

Prints, per seed and in total, recall, ticker-alert precision and median delay for the
simulator's own text (the baseline, same run) and for the real sentences.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from finsentry.app.backtest import load_truth, run_backtest
from finsentry.app.realtext import Headline, Rewriter, read_headlines, tones_of
from finsentry.app.simulate import simulate
from finsentry.config import Settings


def read_sentfin(folder: Path) -> dict[tuple[int, str], list[Headline]]:
    """The SEntFiN train and valid files as pools of headlines by (entities, tone)."""
    paths = [folder / "sentfin_train.csv", folder / "sentfin_valid.csv"]
    for path in paths:
        if not path.exists():
            sys.exit(f"{path} not found: pass --sentfin with the SEntFiN folder (shared data)")
    return read_headlines(paths)


def backtest(stream: Path, settings: Settings) -> dict[str, Any]:
    return run_backtest(stream, load_truth(f"{stream}.truth.json"), settings).to_json()


def ratio(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.2f}" if whole else f"{part}/{whole}"


def line(name: str, runs: list[dict[str, Any]]) -> str:
    found = sum(i["detected"] for r in runs for i in r["incidents"])
    total = sum(len(r["incidents"]) for r in runs)
    alerts = sum(r["ticker_alerts"] for r in runs)
    false = sum(r["false_alerts"] for r in runs)
    delays = [i["delay_s"] / 60 for r in runs for i in r["incidents"] if i["delay_s"] is not None]
    median = f"{statistics.median(delays):.1f} min" if delays else "-"
    scopes: dict[str, int] = {}
    for r in runs:
        for kind, n in r["alerts_by_scope_kind"].items():
            scopes[kind] = scopes.get(kind, 0) + n
    return (
        f"{name:<10} recall {ratio(found, total)}  ticker-alert precision "
        f"{ratio(alerts - false, alerts)}  median delay {median}  alerts by scope {scopes}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentfin", type=Path, required=True, help="folder of the SEntFiN csv")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--profile", choices=("standard", "hard"), default="hard")
    parser.add_argument("--incidents", type=int, default=10)
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--out", type=Path, help="keep the streams here (default: temporary)")
    args = parser.parse_args()
    pools = read_sentfin(args.sentfin)
    print(
        "real headlines by (entities, tone):",
        {f"{k[0]}/{k[1]}": len(v) for k, v in sorted(pools.items())},
    )
    settings = Settings()
    runs: dict[str, list[dict[str, Any]]] = {"simulated": [], "real": []}
    with tempfile.TemporaryDirectory(prefix="finsentry-real-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for seed in (int(s) for s in args.seeds.split(",")):
            sim = out / f"sim{seed}.jsonl"
            simulate(
                sim, hours=args.hours, seed=seed, incidents=args.incidents, profile=args.profile
            )
            truth = load_truth(f"{sim}.truth.json")
            records = [json.loads(x) for x in sim.read_text(encoding="utf-8").splitlines()]
            rewriter = Rewriter(pools, seed)
            real = out / f"real{seed}.jsonl"
            with real.open("w", encoding="utf-8") as handle:
                for record, tone in zip(records, tones_of(truth, records, seed), strict=True):
                    handle.write(
                        json.dumps(rewriter.rewrite(record, tone), ensure_ascii=False) + "\n"
                    )
            Path(f"{real}.truth.json").write_text(json.dumps(truth), encoding="utf-8")
            for name, stream in (("simulated", sim), ("real", real)):
                result = backtest(stream, settings)
                runs[name].append(result)
                missed = [i["id"] for i in result["incidents"] if not i["detected"]]
                print(f"seed {seed} {line(name, [result])}  missed {missed or '-'}", flush=True)
            if rewriter.reused:
                print(f"  (seed {seed}: a pool ran out {rewriter.reused} times; headlines reused)")
    print("\nall seeds:")
    for name, results in runs.items():
        print(line(name, results))
    kinds: dict[str, list[bool]] = {}
    for r in runs["real"]:
        for i in r["incidents"]:
            kinds.setdefault(i["kind"], []).append(i["detected"])
    print("real, recall by kind:", {k: f"{sum(v)}/{len(v)}" for k, v in sorted(kinds.items())})


if __name__ == "__main__":
    main()
