"""``finsentry demo``: simulate -> ingest -> alerts on a fresh embedded store, then a summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from finsentry.app.summary import format_alerts, format_tones, format_totals
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files

# A few records of every kind the validator rejects, so the demo shows dead letters at work.
MALFORMED_LINES: tuple[bytes, ...] = (
    b'{"id": "bad-json", "headline": "unterminated',
    b'["an array", "not an object"]',
    b'{"id": "no-time", "source": "demo", "headline": "Missing published_at"}',
    b'{"id": "naive", "published_at": "2026-01-05T10:00:00", "source": "demo", "headline": "Naive"}',
    b'{"id": "empty", "published_at": "2026-01-05T10:00:00Z", "source": "demo", "headline": "  "}',
    b'{"id": "utf8", "published_at": "2026-01-05T10:00:00Z", "source": "demo", "headline": "\xff\xfe"}',
)


@dataclass(slots=True)
class DemoReport:
    text: str
    missed: list[str] = field(default_factory=list)


def run_demo(settings: Settings, out: Path, *, seed: int, hours: int, incidents: int) -> DemoReport:
    from finsentry.app.backtest import match_incidents
    from finsentry.app.simulate import simulate

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("demo.db*"):
        stale.unlink()
    stream = out / "news.jsonl"
    sim = simulate(stream, hours=hours, seed=seed, incidents=incidents)
    malformed = out / "malformed.jsonl"
    malformed.write_bytes(b"\n".join(MALFORMED_LINES) + b"\n")
    print(f"simulated {sim.items} items over {hours} h with {incidents} incidents -> {stream}")

    pipeline = Pipeline.from_settings(settings)
    try:
        totals = run_files([stream, malformed], settings, pipeline=pipeline, progress=True)
        alerts = pipeline.store.alerts()
        tones = format_tones(pipeline.store, max(settings.window_sizes_s))
    finally:
        pipeline.close()

    truth = json.loads(Path(sim.truth_path).read_text(encoding="utf-8"))
    matched = match_incidents(alerts, truth, settings.detect_window_s)
    lines = [format_totals(totals), tones, format_alerts(alerts), "", "Injected incidents:"]
    missed: list[str] = []
    for m in matched.incidents:
        status = f"DETECTED after {(m.delay_s or 0) / 60:.0f} min" if m.detected else "MISSED"
        lines.append(f"  {m.kind:<15} {m.scope_value:<8} {m.start:%Y-%m-%d %H:%M} UTC  {status}")
        if not m.detected:
            missed.append(m.incident_id)
    lines.append(
        f"recall {matched.recall:.0%}, ticker-alert precision {matched.precision:.0%} "
        f"({matched.false_alerts} ticker alerts matched no incident)"
    )
    return DemoReport("\n".join(lines), missed)
