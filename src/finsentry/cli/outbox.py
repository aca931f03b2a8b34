"""``finsentry outbox list|retry|purge``: the notifications waiting, sent and given up on."""

from __future__ import annotations

import json
from datetime import datetime

import click

from finsentry.cli.alerts import parse_duration
from finsentry.cli.common import db_option, open_for_reading, settings_from
from finsentry.inert import for_terminal
from finsentry.schema import iso, utc_now
from finsentry.store.base import OutboxEntry
from finsentry.store.columns import NOTIFICATION_STATES


def _when(value: datetime | None) -> str:
    return iso(value) if value is not None else "-"


def _line(entry: OutboxEntry) -> str:
    n = entry.notification
    if n.status == "delivered":
        when = f"delivered {_when(entry.delivered_at)}"
    elif n.status == "pending":
        when = f"next attempt {_when(n.next_attempt_at) if n.next_attempt_at else 'now'}"
    else:
        when = "given up"
    line = (
        f"{n.key}  {n.status:<9}  attempts {n.attempts}  created {_when(entry.created_at)}  {when}"
    )
    title = n.payload.get("title") if isinstance(n.payload, dict) else None
    if title:
        line += f"\n    {for_terminal(str(title))}"
    if n.last_error:
        line += f"\n    last error: {for_terminal(n.last_error)}"
    return line


def _json(entry: OutboxEntry) -> str:
    n = entry.notification
    return json.dumps({
        "key": n.key, "alert_id": n.alert_id, "channel": n.channel, "status": n.status,
        "attempts": n.attempts, "next_attempt_at": iso(n.next_attempt_at) if n.next_attempt_at
        else None, "last_error": n.last_error, "created_at": _when(entry.created_at),
        "delivered_at": iso(entry.delivered_at) if entry.delivered_at else None,
    })  # fmt: skip


@click.group()
def outbox() -> None:
    """The alert notifications to send (pending), sent (delivered) and given up on (failed).

    `finsentry deliver` sends the due ones; the pipeline does too while it runs.
    """


@outbox.command("list")
@click.option("--status", type=click.Choice(NOTIFICATION_STATES), envvar="FINSENTRY_OUTBOX_STATUS",
              show_envvar=True, help="Only notifications with this status.")  # fmt: skip
@click.option("--limit", type=int, envvar="FINSENTRY_OUTBOX_LIMIT", show_envvar=True,
              help="At most this many (the oldest first).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, envvar="FINSENTRY_JSON", show_envvar=True,
              help="One JSON object per line: key, alert_id, channel, status, attempts, "
                   "next_attempt_at, last_error, created_at, delivered_at.")  # fmt: skip
@db_option
@click.pass_context
def list_outbox(
    ctx: click.Context, status: str | None, limit: int | None, as_json: bool, db: str | None
) -> None:
    """List notifications, oldest first, with their attempts and last error."""
    settings = settings_from(ctx, db=db)
    store = open_for_reading(settings.db)
    try:
        found = store.outbox(status, limit)
    finally:
        store.close()
    for entry in found:
        click.echo(_json(entry) if as_json else _line(entry))
    if not found and not as_json:
        click.echo(f"no {status} notifications" if status else "the outbox is empty")


@outbox.command("retry")
@click.argument("key", metavar="[ID]", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every failed notification.")
@db_option
@click.pass_context
def retry(ctx: click.Context, key: str | None, retry_all: bool, db: str | None) -> None:
    """Send a failed notification again (ID: its key or a unique prefix), or --all of them.

    The notification is due at once with a fresh count of attempts; `finsentry deliver` (or the
    running pipeline) sends it, with the same idempotency key as before.
    """
    if (key is None) == (not retry_all):
        raise click.UsageError("give one notification ID or --all (`finsentry outbox list`)")
    settings = settings_from(ctx, db=db)
    store = open_for_reading(settings.db)
    try:
        if retry_all:
            count = store.retry_notifications(None)
        else:
            count = store.retry_notifications(_one_key(store.outbox(), key or ""))
    finally:
        store.close()
    click.echo(f"{count} notification(s) due now: `finsentry deliver` sends them")


def _one_key(entries: list[OutboxEntry], wanted: str) -> str:
    """The key of the one notification whose key is ``wanted`` or starts with it."""
    matches = [e.notification for e in entries if e.notification.key.startswith(wanted)]
    matches = [n for n in matches if n.key == wanted] or matches
    if len(matches) != 1:
        shown = ", ".join(n.key for n in matches[:5])
        what = f"{len(matches)} notifications match ({shown})" if matches else "no notification"
        raise click.ClickException(
            f"{what} {for_terminal(wanted)!r}: `finsentry outbox list` shows the keys"
        )
    if matches[0].status == "delivered":
        raise click.ClickException(f"{matches[0].key} was delivered already")
    return matches[0].key


@outbox.command("purge")
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              envvar="FINSENTRY_OUTBOX_PURGE_OLDER_THAN", show_envvar=True,
              help="Delete delivered and failed notifications created longer ago than this "
                   "(e.g. 30d); pending ones are kept.")  # fmt: skip
@db_option
@click.pass_context
def purge(ctx: click.Context, older_than: str, db: str | None) -> None:
    """Delete old delivered and failed notifications (pending ones are never purged)."""
    cutoff = utc_now() - parse_duration(older_than)
    settings = settings_from(ctx, db=db)
    store = open_for_reading(settings.db)
    try:
        count = store.purge_notifications(cutoff)
    finally:
        store.close()
    click.echo(f"purged {count} notification(s) created before {iso(cutoff)}")
