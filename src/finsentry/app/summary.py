"""Readable summaries of a run and of what the store holds (used by ``ingest`` and ``demo``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from finsentry.pipeline import RunTotals
from finsentry.schema import Alert, ScopeKind, WindowStat, signed
from finsentry.store.base import Store

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ScopeTone:
    scope_kind: ScopeKind
    scope_value: str
    count: int
    negative: int
    positive: int
    mean_score: float

    @property
    def negative_share(self) -> float:
        return self.negative / self.count if self.count else 0.0


def scope_tones(store: Store, window_s: int) -> list[ScopeTone]:
    """Totals per scope over everything stored, from the window statistics of one size."""
    sums: dict[tuple[ScopeKind, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    stats: list[WindowStat] = store.window_stats(window_s, _EPOCH, _FAR)
    for stat in stats:
        acc = sums[(stat.scope_kind, stat.scope_value)]
        acc[0] += stat.count
        acc[1] += stat.negative
        acc[2] += stat.positive
        acc[3] += stat.score_sum
    return [
        ScopeTone(kind, value, int(a[0]), int(a[1]), int(a[2]), a[3] / a[0] if a[0] else 0.0)
        for (kind, value), a in sums.items()
    ]


def format_totals(totals: RunTotals) -> str:
    lines = [
        f"read {totals.consumed} records: {totals.processed} processed + "
        f"{totals.dead_lettered} dead-lettered"
        + ("" if totals.balanced else "  (MISMATCH: records were lost, please report)"),
        f"new items stored: {totals.new_items} (already stored: "
        f"{totals.processed - totals.new_items}); near-duplicates: {totals.duplicates}; "
        f"late: {totals.late}",
    ]
    if totals.dead_reasons:
        reasons = ", ".join(f"{code} {n}" for code, n in sorted(totals.dead_reasons.items()))
        lines.append(f"dead letters by reason: {reasons}")
    lines.append(f"new alerts: {totals.alert_count}")
    return "\n".join(lines)


def format_tones(store: Store, window_s: int, top_tickers: int = 10) -> str:
    tones = scope_tones(store, window_s)
    topics = sorted(
        (t for t in tones if t.scope_kind is ScopeKind.TOPIC), key=lambda t: -t.count
    )
    tickers = sorted(
        (t for t in tones if t.scope_kind is ScopeKind.TICKER), key=lambda t: -t.count
    )[:top_tickers]
    out = ["", "Tone per topic (items, negative share, mean score in [-1, 1]):"]
    out += [_tone_row(t) for t in topics]
    out += ["", f"Top {len(tickers)} tickers by volume:"]
    out += [_tone_row(t) for t in tickers]
    return "\n".join(out)


def _tone_row(tone: ScopeTone) -> str:
    bar = "#" * round(tone.negative_share * 20)
    return (
        f"  {tone.scope_value[:34]:<34} {tone.count:>6}  neg {tone.negative_share:6.1%} "
        f"{bar:<20} score {signed(tone.mean_score)}"
    )


def format_alerts(alerts: list[Alert], evidence: int = 3) -> str:
    if not alerts:
        return "\nNo alerts."
    out = ["", f"Alerts ({len(alerts)}):"]
    for alert in alerts:
        out.append(
            f"  [{alert.severity}] {alert.rule} {alert.scope_kind}:{alert.scope_value} "
            f"{alert.window_start:%Y-%m-%d %H:%M}-{alert.window_end:%H:%M} UTC  "
            f"{alert.metric} observed {alert.observed:.3g} vs expected {alert.expected:.3g}"
        )
        for ev in alert.evidence[:evidence]:
            out.append(f"      {signed(ev.score)}  {ev.headline[:100]}")
    return "\n".join(out)
