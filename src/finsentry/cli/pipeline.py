"""``finsentry ingest`` and ``finsentry demo``: files through the whole pipeline."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from finsentry.cli.common import (
    backend_option,
    db_option,
    device_option,
    fields_option,
    model_option,
    settings_from,
    worker_option,
)
from finsentry.inert import redact_dsn

if TYPE_CHECKING:
    from finsentry.config import Settings


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@db_option
@model_option
@device_option
@backend_option
@worker_option
@fields_option
@click.option("--batch-size", default=256, show_default=True, help="Records per micro-batch.")
@click.option("--no-detect", is_flag=True, help="Store and aggregate only; run no detectors.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--check", is_flag=True, help="Only validate (no store, no model): how many records pass, "
    "and why the others would be dead-lettered, one example each.",
)  # fmt: skip
@click.pass_context
def ingest(
    ctx: click.Context,
    files: tuple[str, ...],
    db: str | None,
    model: str | None,
    device: str | None,
    backend: str | None,
    worker_id: str | None,
    input_fields: tuple[str, ...],
    batch_size: int,
    no_detect: bool,
    quiet: bool,
    check: bool,
) -> None:
    """Run JSONL/CSV news files through the whole pipeline into the store.

    Each line is validated (bad lines go to the dead-letter table with their reason and original
    bytes), tagged with tickers, de-duplicated, scored, aggregated into event-time windows and
    checked by the detectors. Re-ingesting the same file changes nothing. FILES are JSONL (or
    .csv) files; '-' reads JSON lines from standard input. Files from other systems: name their
    fields with --field, e.g. --field headline=title --field published_at=date --field
    source=publisher --field id=@content.
    """
    from finsentry.app.summary import format_alerts, format_totals
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run_files
    from finsentry.sources.reader import InputError, check_input

    for name in files:
        try:
            check_input(name)
        except InputError as exc:
            raise click.BadParameter(str(exc), param_hint="FILES") from None
    settings = settings_from(
        ctx, db=db, model=model, device=device, backend=backend, worker_id=worker_id,
        input_fields=input_fields or None,
    )  # fmt: skip
    if check:
        _check(files, settings)
        return
    started = time.perf_counter()
    pipeline = Pipeline.from_settings(settings, detect=not no_detect)
    try:
        totals = run_files(files, settings, pipeline=pipeline, progress=not quiet, batch_size=batch_size)
    except InputError as exc:  # a file that breaks off while read (a truncated .gz)
        raise click.ClickException(str(exc)) from None
    finally:
        pipeline.close()
    elapsed = time.perf_counter() - started
    click.echo(format_totals(totals))
    click.echo(f"store: {redact_dsn(settings.db)}   time: {elapsed:.1f}s")
    click.echo(format_alerts(totals.alerts))


def _check(files: tuple[str, ...], settings: Settings) -> None:
    """``ingest --check``: validate every record of the files, store nothing."""
    from finsentry.inert import for_terminal
    from finsentry.sources.check import check_records
    from finsentry.sources.files import FileSource
    from finsentry.sources.reader import InputError

    source = FileSource(
        files, batch_size=1024, max_line_bytes=settings.max_line_bytes,
        keep_bytes=settings.dead_letter_raw_bytes,
    )  # fmt: skip
    try:
        check = check_records(source.batches(), settings)
    except InputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"read {check.passed + check.refused} records: {check.passed} pass validation, "
        f"{check.refused} would be dead-lettered"
    )
    for code, count in check.reasons.most_common():
        first = check.examples[code]
        where = for_terminal(f"{first.input}:{first.position}")
        click.echo(f"  {code} {count}, e.g. {where}: {for_terminal(first.reason)}")


@click.command()
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated stream.")
@click.option("--hours", default=48, show_default=True, help="Hours of news to simulate.")
@click.option("--incidents", default=3, show_default=True, help="Incidents to inject.")
@click.option(
    "--dir",
    "workdir",
    default="out/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the stream, its truth and the demo store are written.",
)
@model_option
@device_option
@backend_option
@click.pass_context
def demo(
    ctx: click.Context,
    seed: int,
    hours: int,
    incidents: int,
    workdir: str,
    model: str | None,
    device: str | None,
    backend: str | None,
) -> None:
    """Simulate a news stream with incidents, ingest it into a fresh embedded store, show alerts.

    Runs entirely on this machine (SQLite, CPU): simulate -> ingest -> alerts, then a summary of
    items, dead letters, tone per topic and per top tickers, and each alert with the headlines that
    drove it, checked against the injected incidents.
    """
    from finsentry.app.demo import run_demo

    out = Path(workdir)
    settings = settings_from(ctx, db=str(out / "demo.db"), model=model, device=device, backend=backend)
    report = run_demo(settings, out, seed=seed, hours=hours, incidents=incidents)
    click.echo(report.text)
    click.echo(f"\nFiles: {out}/ (stream, truth, store). Try: finsentry alerts --db {redact_dsn(settings.db)}")
    if report.missed:
        raise SystemExit(json.dumps({"missed_incidents": report.missed}))
