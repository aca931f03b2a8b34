"""``finsentry deliver``: the outbox sender on its own, for deployments that ingest in batches.

The pipeline sends notifications from a background thread while it runs; between Airflow batches
nothing does. ``finsentry deliver`` drains the due notifications once (or, with ``--loop``, until
SIGTERM or Ctrl-C), with the same backoff, attempt limit and idempotency keys.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from finsentry.cli.common import db_option, settings_from
from finsentry.inert import for_terminal

if TYPE_CHECKING:
    from finsentry.alerts.outbox import DrainReport


def _summary(report: DrainReport) -> str:
    return (
        f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}, "
        f"waiting with their channel {report.deferred}"
    )


@click.command()
@click.option("--loop", is_flag=True, envvar="FINSENTRY_DELIVER_LOOP", show_envvar=True,
              help="Keep sending until SIGTERM or Ctrl-C instead of draining once.")  # fmt: skip
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              envvar="FINSENTRY_DELIVER_INTERVAL", show_envvar=True,
              help="With --loop: seconds between looks at the outbox.")  # fmt: skip
@click.option("--max-seconds", type=click.FloatRange(min=1), default=60.0, show_default=True,
              envvar="FINSENTRY_DELIVER_MAX_SECONDS", show_envvar=True,
              help="Longest one drain sends for; what is left waits for the next.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, envvar="FINSENTRY_JSON", show_envvar=True,
              help="Print each drain as one JSON object: attempted, delivered, retrying, failed, "
                   "deferred, errors.")  # fmt: skip
@db_option
@click.pass_context
def deliver(
    ctx: click.Context, loop: bool, interval: float, max_seconds: float, as_json: bool,
    db: str | None,
) -> None:  # fmt: skip
    """Send the due alert notifications (e-mail, webhooks) from the outbox, then exit.

    Failed sends are retried with exponential backoff per channel up to FINSENTRY_OUTBOX_MAX_ATTEMPTS
    times, then marked failed (`finsentry outbox list --status failed`; `finsentry outbox retry`).
    Every copy of a notification carries the same idempotency key, Message-ID and webhook-id.
    """
    from finsentry.alerts.delivery import drain_outbox
    from finsentry.shutdown import GracefulStop

    settings = settings_from(ctx, db=db)
    stop = GracefulStop()
    if loop:
        stop.install()
    while True:
        report = drain_outbox(settings, max_seconds)
        if as_json:
            click.echo(json.dumps(report.to_json()))
        elif report.attempted or report.failed or report.deferred or not loop:
            click.echo(_summary(report))
            for error in report.errors:
                click.echo(f"  {for_terminal(error)}", err=True)
        if not loop:
            return
        until = time.monotonic() + interval
        while not stop.requested and time.monotonic() < until:
            time.sleep(min(0.2, interval))
        if stop.requested:
            return
