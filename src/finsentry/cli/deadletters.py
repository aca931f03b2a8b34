"""``finsentry dead-letters list|replay``: the records the pipeline could not read, and reading
them again once the cause is fixed (a ``--field`` mapping, ``FINSENTRY_NAIVE_TIMEZONE``, a limit).

A dead letter keeps its record's original bytes, so a replay runs exactly those bytes through the
whole pipeline again, as ``ingest`` would: the ones that now pass are stored (and marked replayed
in the dead-letter table, which keeps them for the record), the others stay dead letters, under
the same key. Items are keyed by id, so replaying twice stores nothing twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from finsentry.cli.alerts import parse_since
from finsentry.cli.common import db_option, open_for_reading, pipeline_options, settings_from
from finsentry.inert import for_terminal
from finsentry.schema import REPLAY_SOURCE, DeadLetter, RawRecord, iso, utc_now
from finsentry.sources.fields import inert_text
from finsentry.sources.files import kind_of

if TYPE_CHECKING:
    from finsentry.config import Settings

PREVIEW_BYTES = 160


def _preview(raw: bytes) -> str:
    """The record's first bytes as one inert line: control characters shown escaped."""
    text = raw[:PREVIEW_BYTES].decode("utf-8", errors="replace")
    return for_terminal(inert_text(text)) + (" ..." if len(raw) > PREVIEW_BYTES else "")


def _line(dead: DeadLetter, replayed_at: datetime | None) -> str:
    state = f"replayed {iso(replayed_at)}" if replayed_at is not None else "dead"
    where = for_terminal(f"{dead.input}:{dead.position}")
    return (
        f"{iso(dead.received_at)}  {for_terminal(dead.reason_code):<16} {state}  {where}  "
        f"({len(dead.raw)} bytes)\n    {for_terminal(dead.reason)}\n    {_preview(dead.raw)}"
    )


def _json(dead: DeadLetter, replayed_at: datetime | None) -> str:
    return json.dumps({
        "key": dead.key, "received_at": iso(dead.received_at), "reason_code": dead.reason_code,
        "reason": dead.reason, "source": dead.source, "input": dead.input,
        "position": dead.position, "bytes": len(dead.raw),
        "raw": dead.raw.decode("utf-8", errors="replace"),
        "replayed_at": iso(replayed_at) if replayed_at is not None else None,
    })  # fmt: skip


def replayable(dead: DeadLetter) -> str | None:
    """Why a dead letter cannot be read again from what the store kept, or None when it can:
    a CSV row needs its file's header, and a record cut to ``dead_letter_raw_bytes`` is gone."""
    if kind_of(Path(dead.input)) in (".csv", ".tsv"):
        return "a CSV row (its columns are in its file's header): re-ingest the file"
    if "bytes kept" in dead.reason:
        return "only the record's first bytes were kept: send it again whole"
    return None


@click.group("dead-letters")
def dead_letters() -> None:
    """The records the pipeline could not read: list them, and read them again once fixed.

    Each dead letter keeps the record's original bytes and the reason it was refused.
    """


@dead_letters.command("list")
@click.option("--reason", metavar="CODE", help="Only this reason code (missing_field, ...).")
@click.option("--since", metavar="TIME|DURATION", help="Received from this ISO time, or this long ago (7d).")
@click.option("--all", "show_all", is_flag=True, help="Replayed ones too.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many, oldest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with the raw record.")
@db_option
@click.pass_context
def list_dead(
    ctx: click.Context,
    reason: str | None,
    since: str | None,
    show_all: bool,
    limit: int,
    as_json: bool,
    db: str | None,
) -> None:
    """List dead letters, oldest first: reason, where they came from, the record's first bytes.
    The counts by reason close the list."""
    settings = settings_from(ctx, db=db)
    store = open_for_reading(settings.db)
    try:
        start = parse_since(since, utc_now()) if since else None
        rows = store.dead_letter_rows(reason, start, show_all, limit)
        counts = {} if as_json else store.dead_letter_counts(reason, start, show_all)
    finally:
        store.close()
    for dead, replayed_at in rows:
        click.echo(_json(dead, replayed_at) if as_json else _line(dead, replayed_at))
    if as_json:
        return
    total = sum(counts.values())
    if not total:
        click.echo("no dead letters" + ("" if show_all else " waiting (--all: replayed ones too)"))
        return
    shown = f"{len(rows)} of {total}" if len(rows) < total else f"{total}"
    click.echo(f"{shown} dead letters: " + ", ".join(f"{c} {n}" for c, n in counts.items()))


@dead_letters.command("replay")
@click.option("--reason", metavar="CODE", help="Only dead letters of this reason code.")
@click.option("--since", metavar="TIME|DURATION", help="Received from this ISO time, or this long ago.")
@click.option("--dry-run", is_flag=True, help="Only say how many would now pass validation.")
@click.option("--batch-size", default=256, show_default=True, help="Records per micro-batch.")
@click.option("--no-detect", is_flag=True, help="Store and aggregate only; run no detectors.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pipeline_options
@click.pass_context
def replay(
    ctx: click.Context,
    reason: str | None,
    since: str | None,
    dry_run: bool,
    batch_size: int,
    no_detect: bool,
    quiet: bool,
    db: str | None,
    model: str | None,
    device: str | None,
    backend: str | None,
    input_fields: tuple[str, ...],
) -> None:
    """Read the dead letters again through the whole pipeline, with today's settings.

    \b
    Examples:
      finsentry dead-letters replay --reason missing_field --field headline=title --field id=@content
      FINSENTRY_NAIVE_TIMEZONE=UTC finsentry dead-letters replay --reason naive_timestamp
    """
    settings = settings_from(
        ctx, db=db, model=model, device=device, backend=backend, input_fields=input_fields or None
    )
    store = open_for_reading(settings.db)
    try:
        start = parse_since(since, utc_now()) if since else None
        waiting = [dead for dead, _ in store.dead_letter_rows(reason, start)]
    finally:
        store.close()
    why_not = [replayable(dead) for dead in waiting]
    skipped = Counter(why for why in why_not if why is not None)
    ready = [dead for dead, why in zip(waiting, why_not, strict=True) if why is None]
    if dry_run:
        _dry_run(ready, settings)
    elif ready:
        _replay(ready, settings, batch_size, no_detect, quiet)
    else:
        click.echo("no dead letters to replay" + (f" of reason {reason}" if reason else ""))
    for why, count in skipped.items():
        click.echo(f"skipped {count}: {why}")


def _records(dead: Sequence[DeadLetter]) -> list[RawRecord]:
    return [RawRecord(d.raw, d.source, d.input, d.position) for d in dead]


def _dry_run(ready: Sequence[DeadLetter], settings: Settings) -> None:
    from finsentry.sources.check import check_records

    check = check_records([_records(ready)], settings)
    click.echo(
        f"{len(ready)} dead letters: {check.passed} would pass validation now, {check.refused} "
        "would not" + (f" ({check.counts()})" if check.refused else "")
    )


def _replay(
    ready: Sequence[DeadLetter], settings: Settings, batch_size: int, no_detect: bool, quiet: bool
) -> None:
    from tqdm import tqdm

    from finsentry.pipeline import Pipeline

    pipeline = Pipeline.from_settings(settings, detect=not no_detect)
    stored = replayed = 0
    still: Counter[str] = Counter()
    try:
        with tqdm(total=len(ready), unit="rec", desc="replay", disable=quiet) as bar:
            for at in range(0, len(ready), batch_size):
                part = ready[at : at + batch_size]
                report = pipeline.process(_records(part), source=REPLAY_SOURCE)
                failed = {d.key for d in report.dead_letters}
                still.update(d.reason_code for d in report.dead_letters)
                passed = [d.key for d in part if d.key not in failed]
                replayed += pipeline.store.mark_replayed(passed, utc_now())
                stored += report.new_items
                bar.update(len(part))
    finally:
        pipeline.close()
    rest = f" ({', '.join(f'{c} {n}' for c, n in still.most_common())})" if still else ""
    click.echo(
        f"replayed {len(ready)} dead letters: {replayed} read and stored "
        f"({stored} new items), {sum(still.values())} still dead{rest}"
    )
