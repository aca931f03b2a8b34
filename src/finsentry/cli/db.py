"""``finsentry db``: schema upgrades, retention, re-aggregation, row counts and integrity checks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from finsentry.cli.common import db_option, open_for_reading, setting_option, settings_from
from finsentry.inert import for_terminal, redact_dsn
from finsentry.schema import iso, utc_now

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """An aware UTC time from ISO-8601 with offset, a date (UTC midnight) or a span ago (6h, 7d)."""
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not a time: use ISO-8601 with an offset (2026-01-02T03:00:00+00:00), "
            "a date (2026-01-02, UTC) or a span ago (30m, 6h, 7d)"
        ) from exc
    if parsed.tzinfo is None:
        if len(value) == 10:  # a bare date
            return parsed.replace(tzinfo=UTC)
        raise click.BadParameter(f"{text!r} has no UTC offset: add one, e.g. +00:00 or Z")
    return parsed.astimezone(UTC)


def _open(ctx: click.Context, db: str | None, *, migrate: bool = True) -> Any:
    from finsentry.store import StoreUnavailableError, open_sql_store

    settings = settings_from(ctx, db=db)
    store = open_sql_store(settings.db)
    try:
        if migrate:
            store.migrate()
    except StoreUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    return store


@click.group()
def db() -> None:
    """The store (SQLite file or PostgreSQL DSN): schema, retention, re-aggregation, counts."""


@db.command()
@db_option
@click.pass_context
def upgrade(ctx: click.Context, db: str | None) -> None:
    """Apply pending schema migrations (idempotent) and print the schema version."""
    store = _open(ctx, db, migrate=False)
    try:
        before = store.schema_version()
        after = store.migrate()
    finally:
        store.close()
    state = "up to date" if before == after else f"upgraded from {before}"
    click.echo(f"schema version {after} ({state}) at {redact_dsn(store.url)}")


@db.command()
@click.option(
    "--keep-days",
    type=click.FloatRange(min=0),
    required=True,
    envvar="FINSENTRY_RETENTION_KEEP_DAYS",
    show_envvar=True,
    help="Keep raw items published in the last N days; older ones are deleted.",
)
@db_option
@click.pass_context
def retention(ctx: click.Context, keep_days: float, db: str | None) -> None:
    """Delete raw items older than N days, and dead letters received before then; window
    statistics and alerts are kept.

    Items older than the cut-off that arrive later (a replay) are dead-lettered rather than
    counted again, and re-aggregation never rebuilds windows from before the cut-off.
    """
    cut = utc_now() - timedelta(days=keep_days)
    store = _open(ctx, db)
    try:
        deleted = store.delete_items_before(cut)
        dead = store.delete_dead_letters_before(cut)
    finally:
        store.close()
    click.echo(
        f"deleted {deleted} raw items published before {iso(cut)} and {dead} dead letters "
        "received before then; windows kept"
    )


@db.command()
@click.option(
    "--since",
    required=True,
    envvar="FINSENTRY_REAGGREGATE_SINCE",
    show_envvar=True,
    help="Rebuild windows from this time on: ISO-8601 with offset, a date, or a span ago (7d).",
)
@setting_option(
    "--window-sizes",
    field="window_sizes_s",
    help="Window sizes in seconds, comma separated [default: the configured sizes].",
)
@db_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def reaggregate(
    ctx: click.Context, since: str, window_sizes_s: str | None, db: str | None, quiet: bool
) -> None:
    """Rebuild window statistics from the stored items (folds in late items exactly once)."""
    from tqdm import tqdm

    settings = settings_from(ctx, db=db, window_sizes_s=_sizes(window_sizes_s))
    start = parse_since(since, utc_now())
    store = _open(ctx, settings.db)
    try:
        with tqdm(unit=" items", desc="re-aggregate", disable=quiet) as bar:
            written = store.reaggregate(start, settings.window_sizes_s, bar.update)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    sizes = ",".join(str(s) for s in settings.window_sizes_s)
    click.echo(f"rebuilt {written} windows (sizes {sizes} s) from {iso(start)} on")


@db.command()
@db_option
@click.option(
    "--json", "as_json", is_flag=True, envvar="FINSENTRY_JSON", show_envvar=True,
    help="Print one JSON object.",
)  # fmt: skip
@click.pass_context
def stats(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """Row counts, schema version and the time span of the stored items."""
    store = open_for_reading(settings_from(ctx, db=db).db, migrate=False)  # read-only role too
    try:
        if store.schema_version() == 0:
            raise click.ClickException(
                f"no finsentry schema in {redact_dsn(store.url)}: run finsentry db upgrade"
            )
        counts = store.counts()
        low, high = store.time_range()
        info: dict[str, Any] = {
            "store": redact_dsn(store.url),
            "backend": type(store).__name__.removesuffix("Store").lower(),
            "schema_version": store.schema_version(),
            **counts,
            "first_item": None if low is None else iso(low),
            "last_item": None if high is None else iso(high),
        }
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(info))
        return
    width = max(len(k) for k in info)
    for key, value in info.items():
        click.echo(f"{key:<{width}}  {value}")


@db.command()
@db_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True,
    envvar="FINSENTRY_CHECK_LIMIT", show_envvar=True,
    help="Print at most N problems of each check (all are counted).",
)  # fmt: skip
@click.pass_context
def check(ctx: click.Context, db: str | None, limit: int) -> None:
    """Check the store's integrity and print each problem; exit status 1 if there is any.

    Window statistics against the items they count (per window and scope), item_tickers against
    the items, saved watermarks (input times, open and closed inputs), and the outbox (states,
    attempts, alerts). Reads only.
    """
    store = open_for_reading(settings_from(ctx, db=db).db, migrate=False)
    try:
        if store.schema_version() == 0:
            raise click.ClickException(
                f"no finsentry schema in {redact_dsn(store.url)}: run finsentry db upgrade"
            )
        problems = store.check()
        counts = store.counts()
    finally:
        store.close()
    shown: dict[str, int] = {}
    for problem in problems:
        shown[problem.check] = shown.get(problem.check, 0) + 1
        if shown[problem.check] <= limit:
            click.echo(for_terminal(str(problem)))
    for name, found in shown.items():
        if found > limit:
            click.echo(f"{name}: ... and {found - limit} more (--limit)")
    if problems:
        click.echo(f"{len(problems)} problems in {redact_dsn(store.url)}", err=True)
        ctx.exit(1)
    click.echo(
        f"store consistent: {counts['items']} items, {counts['windows']} windows, "
        f"{counts['alerts']} alerts checked at {redact_dsn(store.url)}"
    )


def _sizes(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise click.BadParameter(
            f"window sizes must be whole seconds, e.g. 60,300: {text!r}"
        ) from exc
    if not sizes or min(sizes) <= 0:
        raise click.BadParameter(f"window sizes must be positive seconds, e.g. 60,300: {text!r}")
    return sizes
