"""``finsentry pull``: RSS/Atom feeds and HTTP JSON endpoints, pulled once, through the pipeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from finsentry.cli.common import pipeline_options, settings_from
from finsentry.inert import for_terminal, redact_dsn


@click.command()
@click.argument("feeds", nargs=-1, metavar="[TICKER=]URL...")
@click.option(
    "--json", "json_urls", multiple=True, metavar="[TICKER=]URL",
    help="An HTTP JSON endpoint (a list of items, or NewsAPI/Finnhub-shaped answers); repeatable.",
)  # fmt: skip
@click.option(
    "--since", default="24h", show_default=True, metavar="DURATION|TIME|all",
    help="Keep the entries published since then (2h, 7d, an ISO time), or all of them.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Fetch and count, store nothing.")
@pipeline_options
@click.pass_context
def pull(
    ctx: click.Context,
    feeds: tuple[str, ...],
    json_urls: tuple[str, ...],
    since: str,
    dry_run: bool,
    db: str | None,
    model: str | None,
    device: str | None,
    backend: str | None,
    input_fields: tuple[str, ...],
) -> None:
    """Pull RSS/Atom feeds and JSON endpoints once and run their entries through the pipeline.

    What the hourly Airflow ingest does, from the command line: to try a feed before it goes into
    the finsentry_feeds variable, or to pull without Airflow (from cron, say). Entries are upserted
    by id, so pulling again adds only what is new. A feed about one company takes its ticker
    before the URL; every entry then carries it, named in its text or not. Examples:

    \b
      finsentry pull https://news.example/markets.rss
      finsentry pull AAPL=https://feeds.example/rss?s=AAPL --since 7d
      finsentry pull --json https://api.example/v2/news.json --dry-run
    """
    from finsentry.app.jobs import ingest_feeds
    from finsentry.cli.alerts import parse_since
    from finsentry.schema import utc_now
    from finsentry.sources.rss import feed_spec

    if not feeds and not json_urls:
        raise click.UsageError("give at least one feed URL (or --json URL)")
    for spec in (*feeds, *json_urls):
        try:
            feed_spec(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="URL") from None
    settings = settings_from(
        ctx, db=db, model=model, device=device, backend=backend,
        input_fields=input_fields or None,
    )  # fmt: skip
    now = utc_now()
    start = settings.earliest_published_at if since == "all" else parse_since(since, now)
    end = now + timedelta(seconds=settings.future_tolerance_s)
    try:
        summary = ingest_feeds(
            settings, feeds, json_urls, now, end, lookback=now - start, dry_run=dry_run
        )
    except RuntimeError as exc:  # some URLs failed; the others were ingested
        raise click.ClickException(for_terminal(str(exc))) from None
    _report(summary, len(feeds) + len(json_urls), start, None if dry_run else settings.db)


def _report(summary: dict[str, Any], urls: int, start: datetime, db: str | None) -> None:
    """What a pull fetched and did (``db`` None: a dry run, nothing stored)."""
    click.echo(
        f"fetched {summary['fetched']} entries from {urls} URLs; {summary['selected']} published "
        f"since {start:%Y-%m-%d %H:%M} UTC"
    )
    if db is None:
        click.echo("dry run: nothing stored")
        return
    click.echo(
        f"processed {summary['processed']}, dead-lettered {summary['dead_lettered']}, "
        f"new items: {summary['new_items']}, alerts: {summary['alerts']}"
    )
    click.echo(f"store: {redact_dsn(db)}")
