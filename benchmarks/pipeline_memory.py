"""Memory of the pipeline over a long stream, without Kafka and without the model.

The same synthetic stream as ``kafka_e2e.py`` goes through ``Pipeline.process`` in micro-batches
(SQLite store in a temporary directory, detectors on, a constant scorer), so what is measured is
everything around the model. RSS and the records per second of each interval (wall clock, and
per second of this process's CPU time, which other jobs on a shared machine disturb less) are
printed every ``--every`` records; at the end, the last interval's rates against the first's
(issue 12: >= 0.9 at 500k records). With ``--stages`` each interval also gives the CPU seconds
spent in validation, in tagging, in duplicate marking, in forgetting what fell behind the
watermark, in detection, in store writes and in garbage collection (which also counts inside
the others), and the size of the duplicate index, to see what grows with history without a
profiler's distortion. With ``--control`` each interval also times a fixed workload that keeps no state (validating the same
2,000 records 20 times), outside the pipeline's rates: when it slows down as well, the process
(its heap, the caches), not the pipeline's work per record, has become slower. With ``--fresh``
each interval is also set against a fresh pipeline (a new store, empty history) run over the
stream's first ``--every`` records right after it, in the same process, outside the rates: the
rate "at 10k" measured again beside each later one, so that a shared machine's drift (other
jobs, CPU clocks) moves both sides of the ratio, not one. ``--paired K`` does the same batch by
batch: every K-th interval (and the last) alternates one batch of the long-running pipeline with
one batch of a fresh pipeline over the first records, each timed on its own, so drift within an
interval cancels too; the run ends with the median over the paired intervals. With ``--trace``
the allocations that grew most between the last two thirds of the run are listed (tracemalloc,
by source line; it slows the run several times).

    .venv/bin/python benchmarks/pipeline_memory.py --records 500000 --step-s 5
    .venv/bin/python benchmarks/pipeline_memory.py --records 122880 --every 10240 --stages
    .venv/bin/python benchmarks/pipeline_memory.py --records 200000 --step-s 5 --trace
    .venv/bin/python benchmarks/pipeline_memory.py --records 500000 --every 10240 --fresh 5
    .venv/bin/python benchmarks/pipeline_memory.py --records 501760 --every 10240 --paired 4
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_common import news_stream, rss_mib  # noqa: E402

from finsentry.config import Settings  # noqa: E402
from finsentry.pipeline import Pipeline  # noqa: E402
from finsentry.schema import RawRecord, Target, TextScore  # noqa: E402
from finsentry.sources import validate  # noqa: E402
from finsentry.sources.validate import parse_records  # noqa: E402


class Meter:
    """Records per second over each interval, by the wall clock and by this process's CPU time."""

    def __init__(self) -> None:
        self.done = 0
        self.started = self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.intervals: list[tuple[int, float, float]] = []  # (records to, wall /s, cpu /s)

    def report(self, done: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        n = done - self.done
        rate, cpu_rate = n / (wall - self.wall), n / max(cpu - self.cpu, 1e-9)
        self.intervals.append((done, rate, cpu_rate))
        print(
            f"{done:>8} records  RSS {rss_mib():6.0f} MiB  "
            f"{done / (wall - self.started):7.0f} records/s  "
            f"(last {n}: {rate:7.0f}/s, {cpu_rate:7.0f} per CPU-s)",
            flush=True,
        )
        self.done, self.wall, self.cpu = done, wall, cpu

    def skip(self, wall_s: float, cpu_s: float) -> None:
        """Leave a measurement made in between out of the rates."""
        self.started += wall_s
        self.wall += wall_s
        self.cpu += cpu_s

    def summary(self) -> None:
        if len(self.intervals) < 2:
            return
        (a, wall_a, cpu_a), (b, wall_b, cpu_b) = self.intervals[0], self.intervals[-1]
        print(
            f"records/s to {b} vs to {a}: {wall_b:.0f} / {wall_a:.0f} = {wall_b / wall_a:.2f}x "
            f"(per CPU-s: {cpu_b:.0f} / {cpu_a:.0f} = {cpu_b / cpu_a:.2f}x)"
        )


class StageClock:
    """CPU seconds spent in a few stages of one pipeline (its own objects' methods, wrapped) and
    in garbage collection, since the last :meth:`line`."""

    def __init__(self, pipeline: Pipeline, shared: bool = True) -> None:
        """``shared``: also time validation and garbage collection, which are not one
        pipeline's own (the second clock of a paired run leaves them to the first)."""
        self.pipeline = pipeline
        self.shared = shared
        self.spent: dict[str, float] = defaultdict(float)
        self._gc_started = 0.0
        if shared:
            self._wrap(validate, "parse_records", "parse")  # the pipeline imports it per batch
            gc.callbacks.append(self._gc)
        self._wrap(pipeline.tagger, "tag_targets", "tag")
        self._wrap(pipeline.dedup, "mark", "dedup")
        self._wrap(pipeline.dedup, "forget_behind", "forget")
        self._wrap(pipeline.store, "write_batch", "store")
        if pipeline.engine is not None:
            self._wrap(pipeline.engine, "evaluate", "detect")

    def _wrap(self, owner: object, name: str, stage: str) -> None:
        method: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.spent[stage] += time.process_time() - started

        setattr(owner, name, timed)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.spent[f"gc{info['generation']}"] += time.process_time() - self._gc_started

    def line(self) -> str:
        stages = ("parse", "tag", "dedup", "forget", "detect", "store")
        parts = [f"{k} {self.spent[k]:.2f}" for k in stages[0 if self.shared else 1 :]]
        gcs = "/".join(f"{self.spent[f'gc{g}']:.2f}" for g in range(3))
        held = len(self.pipeline.dedup._by_id)  # a benchmark may look inside
        self.spent.clear()
        collected = f"  gc (gen 0/1/2) {gcs}" if self.shared else ""
        return f"    CPU s: {'  '.join(parts)}{collected}; duplicate index {held} items"


def control_workload(settings: Settings) -> float:
    """CPU seconds of a fixed, stateless workload: validating the same 2,000 records 20 times."""
    records = [RawRecord(d, "control", "control/0", i) for i, d in enumerate(news_stream(2000))]
    now = datetime.now(UTC)
    started = time.process_time()
    for _ in range(20):
        parse_records(records, settings, now)
    return time.process_time() - started


def new_pipeline(directory: str, detect: bool) -> Pipeline:
    """A pipeline with a new SQLite store in ``directory`` and the constant scorer."""
    return Pipeline.from_settings(
        Settings(db=str(Path(directory) / "fresh.db")),
        scorer=ConstantScorer(),  # type: ignore[arg-type]
        detect=detect,
    )


def fresh_rate(records: list[RawRecord], size: int, detect: bool) -> tuple[float, float, float]:
    """(records/s, per CPU-s, CPU s) of a new pipeline, with a new store, over ``records``."""
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = new_pipeline(tmp, detect)
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            for k in range(0, len(records), size):
                pipeline.process(records[k : k + size], "bench")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            pipeline.close()
    return len(records) / wall, len(records) / max(cpu, 1e-9), cpu


class Fresh:
    """Each interval's rate against a fresh pipeline's over the first records, run beside it."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.pairs: list[tuple[int, float, float, float, float]] = []  # done, rate, fresh (x2)

    def measure(self, meter: Meter, records: list[RawRecord], size: int, detect: bool) -> None:
        began = time.perf_counter()
        rate, cpu_rate, spent = fresh_rate(records, size, detect)
        meter.skip(time.perf_counter() - began, spent)
        done, last, last_cpu = meter.intervals[-1]
        self.pairs.append((done, last, last_cpu, rate, cpu_rate))
        print(
            f"    fresh pipeline, first {len(records)} records: {rate:7.0f}/s, "
            f"{cpu_rate:7.0f} per CPU-s; this interval against it {last / rate:.2f}x "
            f"(per CPU-s {last_cpu / cpu_rate:.2f}x)",
            flush=True,
        )

    def summary(self) -> None:
        if not self.pairs:
            return
        tail = self.pairs[-3:]
        wall = sorted(p[1] / p[3] for p in tail)[len(tail) // 2]
        cpu = sorted(p[2] / p[4] for p in tail)[len(tail) // 2]
        print(
            f"last {len(tail)} measured intervals against a fresh pipeline beside each, median: "
            f"{wall:.2f}x (per CPU-s {cpu:.2f}x)"
        )


class Paired:
    """One interval run batch by batch against a fresh pipeline over the stream's first records.

    Each batch of the long-running pipeline is followed (odd batches: preceded) by one batch of a
    new pipeline (new store, empty history) over the first ``every`` records, each timed on its
    own, so that a shared machine's drift, which moves single intervals by 10-25 % here, falls on
    both sides of the ratio within a tenth of a second instead of between intervals seconds apart.
    """

    def __init__(self, first: list[RawRecord], size: int, detect: bool, stages: bool) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.pipeline = new_pipeline(self.tmp.name, detect)
        self.stages = StageClock(self.pipeline, shared=False) if stages else None
        self.batches = [first[k : k + size] for k in range(0, len(first), size)]
        self.main = [0, 0.0, 0.0]  # records, wall s, CPU s
        self.fresh = [0, 0.0, 0.0]

    def _timed(self, side: list[Any], pipeline: Pipeline, batch: list[RawRecord]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        pipeline.process(batch, "bench")
        side[0] += len(batch)
        side[1] += time.perf_counter() - wall
        side[2] += time.process_time() - cpu

    def step(self, pipeline: Pipeline, batch: list[RawRecord], number: int) -> tuple[float, float]:
        """Process ``batch`` on ``pipeline`` and the next fresh batch, if any is left; (wall,
        CPU) s spent on the fresh one."""
        before = self.fresh[1], self.fresh[2]
        runs = [(self.main, pipeline, batch)]
        if number < len(self.batches):
            # after the long-running batch on even turns, before it on odd ones
            runs.insert(0 if number % 2 else 1, (self.fresh, self.pipeline, self.batches[number]))
        for side, which, records in runs:
            self._timed(side, which, records)
        return self.fresh[1] - before[0], self.fresh[2] - before[1]

    def close(self) -> tuple[float, float]:
        """Print and return the interval's rate against the fresh pipeline's (wall, per CPU-s)."""
        self.pipeline.close()
        self.tmp.cleanup()
        main_rate, fresh_rate_ = self.main[0] / self.main[1], self.fresh[0] / self.fresh[1]
        main_cpu, fresh_cpu = self.main[0] / self.main[2], self.fresh[0] / self.fresh[2]
        print(
            f"    paired with a fresh pipeline batch by batch: this interval {main_rate:7.0f}/s "
            f"({main_cpu:.0f} per CPU-s), fresh over the first {self.fresh[0]} records "
            f"{fresh_rate_:7.0f}/s ({fresh_cpu:.0f}); ratio {main_rate / fresh_rate_:.2f}x "
            f"(per CPU-s {main_cpu / fresh_cpu:.2f}x)",
            flush=True,
        )
        if self.stages is not None:
            print(self.stages.line().replace("CPU s:", "fresh pipeline's CPU s:"), flush=True)
        return main_rate / fresh_rate_, main_cpu / fresh_cpu


class ConstantScorer:
    """Not a model: the same scores for every text."""

    model_id = "constant-bench@0"

    def score(
        self, texts: list[str], targets: Sequence[Sequence[Target]] | None = None
    ) -> list[TextScore]:
        return [TextScore(0.2, 0.6, 0.2, "General News | Opinion", 0.5) for _ in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--step-s", type=float, default=5.0, help="event-time spacing")
    parser.add_argument("--batch", type=int, default=0, help="records per batch (0 = settings)")
    parser.add_argument("--every", type=int, default=10_000, help="print RSS this often")
    parser.add_argument("--trace", action="store_true", help="tracemalloc: what grew most")
    parser.add_argument(
        "--no-detect", action="store_true", help="without the alert engine (what it costs)"
    )
    parser.add_argument(
        "--stages", action="store_true", help="CPU seconds per stage and in GC, per interval"
    )
    parser.add_argument(
        "--control", action="store_true", help="time a fixed stateless workload per interval"
    )
    parser.add_argument(
        "--fresh",
        type=int,
        default=0,
        metavar="K",
        help="every K intervals (and at the end), time a fresh pipeline over the first records",
    )
    parser.add_argument(
        "--paired",
        type=int,
        default=0,
        metavar="K",
        help="every K-th interval (and the last) runs batch by batch beside a fresh pipeline",
    )
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument(
        "--profile-at",
        type=int,
        default=-1,
        help="cProfile (CPU time) the batches from this record on, for --every records",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=str(Path(tmp) / "memory.db"))
        pipeline = Pipeline.from_settings(
            settings,
            scorer=ConstantScorer(),  # type: ignore[arg-type]
            detect=not args.no_detect,
        )
        size = args.batch or settings.batch_max_items
        if args.trace:
            tracemalloc.start(1)
        snapshots: list[tuple[int, tracemalloc.Snapshot]] = []
        marks = {args.records // 3, 2 * args.records // 3, args.records}
        batch: list[RawRecord] = []
        done, meter = 0, Meter()
        profiler = cProfile.Profile(time.process_time)  # CPU time: less disturbed by other jobs
        stages = StageClock(pipeline) if args.stages else None
        fresh = Fresh(args.fresh) if args.fresh else None
        first: list[RawRecord] = []
        paired: Paired | None = None
        ratios: list[tuple[int, float, float]] = []
        number = 0
        print(f"batch {size}; RSS at start {rss_mib():.0f} MiB")
        for i, data in enumerate(news_stream(args.records, seed=1, step_s=args.step_s)):
            batch.append(RawRecord(data, "bench", "bench/0", i))
            if (fresh is not None or args.paired) and i < args.every:
                first.append(batch[-1])
            if len(batch) < size and i + 1 < args.records:
                continue
            profiling = 0 <= args.profile_at <= done < args.profile_at + args.every
            if profiling:
                profiler.enable()
            if args.paired and paired is None and done >= args.every:
                interval = done // args.every + 1
                last = done + args.every >= args.records
                if interval % args.paired == 0 or last:
                    began, spent = time.perf_counter(), time.process_time()
                    paired, number = Paired(first, size, not args.no_detect, args.stages), 0
                    meter.skip(time.perf_counter() - began, time.process_time() - spent)
            if paired is not None:
                meter.skip(*paired.step(pipeline, batch, number))
                number += 1
            else:
                pipeline.process(batch, "bench")
            if profiling:
                profiler.disable()
            done += len(batch)
            batch = []
            if done // args.every != (done - size) // args.every or done == args.records:
                meter.report(done)
                if paired is not None:
                    ratios.append((done, *paired.close()))
                    paired = None
                if stages is not None:
                    print(stages.line(), flush=True)
                if args.control:
                    began = time.perf_counter()
                    spent = control_workload(settings)
                    meter.skip(time.perf_counter() - began, spent)
                    print(f"    control workload: {spent:.3f} CPU s", flush=True)
                intervals = len(meter.intervals)
                if fresh is not None and (intervals % args.fresh == 0 or done == args.records):
                    fresh.measure(meter, first, size, not args.no_detect)
            if args.trace and any(done - size < m <= done for m in marks):
                gc.collect()
                snapshots.append((done, tracemalloc.take_snapshot()))
        pipeline.close()
        meter.summary()
        if fresh is not None:
            fresh.summary()
        if ratios:
            wall = statistics.median(r[1] for r in ratios)
            cpu = statistics.median(r[2] for r in ratios)
            print(
                "paired intervals against a fresh pipeline: "
                + ", ".join(f"to {d}: {w:.2f}x" for d, w, _ in ratios)
                + f"; median of the {len(ratios)}: {wall:.2f}x (per CPU-s {cpu:.2f}x)"
            )
        if args.profile_at >= 0:
            print(f"\nprofile of records {args.profile_at}-{args.profile_at + args.every}:")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top * 2)
        if args.trace and len(snapshots) >= 2:
            (a, first), (b, last) = snapshots[-2], snapshots[-1]
            print(f"\ngrowth between {a} and {b} records (traced Python allocations):")
            for stat in last.compare_to(first, "lineno")[: args.top]:
                print(
                    f"  {stat.size_diff / 2**20:+8.2f} MiB  {stat.count_diff:+9d} blocks  "
                    f"{stat.traceback}"
                )
            current, peak = tracemalloc.get_traced_memory()
            print(f"traced now {current / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
