"""``finsentry simulate``: write a synthetic news stream with injected incidents."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from finsentry.app.simulate import DEFAULT_START


def _parse_start(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO-8601, e.g. 2026-01-05T00:00:00Z") from None
    if start.tzinfo is None:
        raise click.BadParameter("give a UTC offset, e.g. 2026-01-05T00:00:00Z")
    return start


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    envvar="FINSENTRY_SIMULATE_OUT",
    show_envvar=True,
    help="JSONL file to write; the ground truth goes to FILE.truth.json beside it.",
)
@click.option(
    "--hours",
    default=48.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    envvar="FINSENTRY_SIMULATE_HOURS",
    show_envvar=True,
    help="Hours of news to simulate (about 90 items an hour).",
)
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=int,
    envvar="FINSENTRY_SIMULATE_SEED",
    show_envvar=True,
    help="Random seed: the same seed writes the same stream.",
)
@click.option(
    "--incidents",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    envvar="FINSENTRY_SIMULATE_INCIDENTS",
    show_envvar=True,
    help="Incidents to inject (negative bursts and volume spikes); 0 for a quiet stream.",
)
@click.option(
    "--start",
    default=None,
    callback=_parse_start,
    envvar="FINSENTRY_SIMULATE_START",
    show_envvar=True,
    help=f"Start of the stream, ISO-8601 with offset [default: {DEFAULT_START.isoformat()}].",
)
@click.option(
    "--profile",
    default="standard",
    show_default=True,
    type=click.Choice(["standard", "hard"]),
    envvar="FINSENTRY_SIMULATE_PROFILE",
    show_envvar=True,
    help="Incidents: standard (negative bursts, volume spikes) or hard (sustained runs, cold "
    "start, quiet hours, one story on two tickers, negative shifts at usual volume).",
)
@click.option(
    "--headlines",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="FINSENTRY_SIMULATE_HEADLINES",
    show_envvar=True,
    help="Real headlines instead of the templates' (repeatable): CSV with title and entities "
    "columns, as SEntFiN; each item takes one of the tone it needs, its company swapped in.",
)
@click.option(
    "--quiet",
    is_flag=True,
    envvar="FINSENTRY_SIMULATE_QUIET",
    show_envvar=True,
    help="Print nothing.",
)
def simulate(
    out: str,
    hours: float,
    seed: int,
    incidents: int,
    start: datetime | None,
    profile: str,
    headlines: tuple[Path, ...],
    quiet: bool,
) -> None:
    """Write a realistic synthetic news stream in the input format, with known incidents.

    Poisson arrivals with a daily rhythm, many tickers and all 20 topics, headlines in positive,
    neutral and negative tones, tickers given, named or cashtagged, and a few stories syndicated
    by several wires. After a warm-up (the first 40%), incidents are injected: bursts of negative
    news about one ticker, and volume spikes. The incidents and their item ids are written to
    FILE.truth.json, which `finsentry backtest` and `finsentry demo` compare alerts against.
    """
    from finsentry.app.simulate import simulate as run

    try:
        result = run(out, hours=hours, seed=seed, incidents=incidents, start=start, profile=profile)
        reused = _real_headlines(result.out, list(headlines), seed) if headlines else 0
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if quiet:
        return
    if reused:
        click.echo(
            f"the headlines ran out {reused} times and were reused: repeats within a day read "
            "as duplicates (give more headlines or fewer --hours)"
        )
    click.echo(
        f"wrote {result.items} items ({result.duplicates} syndicated copies) from "
        f"{result.start.isoformat()} to {result.end.isoformat()} -> {result.out}"
    )
    for incident in result.incidents:
        click.echo(
            f"  {incident.kind:<15} {incident.scope_value:<8} {incident.start:%Y-%m-%d %H:%M} "
            f"-{incident.end:%H:%M} UTC  {len(incident.item_ids)} items"
        )
    click.echo(f"ground truth -> {result.truth_path}")


def _real_headlines(stream: Path, headlines: list[Path], seed: int) -> int:
    from finsentry.app.realtext import rewrite_stream

    return rewrite_stream(stream, headlines, seed)
