"""``finsentry report``: the daily HTML report, written to a file and optionally e-mailed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import click

from finsentry.cli.common import db_option, open_for_reading, settings_from


def _yesterday() -> date:
    from finsentry.schema import utc_now

    return (utc_now() - timedelta(days=1)).date()


@click.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    envvar="FINSENTRY_REPORT_DATE",
    show_envvar=True,
    help="UTC day to report on, YYYY-MM-DD [default: yesterday].",
)
@db_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FINSENTRY_REPORT_OUT",
    show_envvar=True,
    help="HTML file to write; PNG charts go beside it [default: report-<date>.html].",
)
@click.option(
    "--email",
    "emails",
    multiple=True,
    envvar="FINSENTRY_REPORT_EMAIL",
    show_envvar=True,
    metavar="ADDRESS",
    help="E-mail the report to these addresses (repeat or comma-separate) via FINSENTRY_SMTP_*.",
)
@click.option(
    "--top",
    type=int,
    default=10,
    show_default=True,
    envvar="FINSENTRY_REPORT_TOP",
    show_envvar=True,
    help="Tickers and movers to list.",
)
@click.pass_context
def report(
    ctx: click.Context,
    day: datetime | None,
    db: str | None,
    out: Path | None,
    emails: tuple[str, ...],
    top: int,
) -> None:
    """Write the daily report for a UTC day: headline numbers, tone per topic and top tickers
    with charts, the biggest movers against the previous day, and the alerts with their evidence.

    The HTML is self-contained (charts embedded), readable in an e-mail client.
    """
    from finsentry.app.reports import build_report, check_mail_settings, send_report, write_report

    settings = settings_from(ctx, db=db)
    recipients = [a.strip() for value in emails for a in value.split(",") if a.strip()]
    if recipients:  # before any work: say what to set
        try:
            check_mail_settings(settings, recipients)
        except ValueError as exc:
            raise click.UsageError(f"--email: {exc}") from exc
    the_day = day.date() if day else _yesterday()
    target = out or Path(f"report-{the_day.isoformat()}.html")
    store = open_for_reading(settings.db)
    try:
        result = build_report(store, the_day, settings.window_sizes_s, top=top)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        store.close()
    for path in write_report(result, target):
        click.echo(f"wrote {path}")
    t = result.total
    click.echo(
        f"{the_day}: {t.items:,} novel items, {len(result.alerts)} alerts, "
        f"{len(result.topics)} topics, {len(result.tickers)} tickers listed"
    )
    if t.items == 0:
        click.echo(_no_data_hint(the_day, result.days_with_data), err=True)
    if recipients:
        try:
            send_report(result, settings, recipients)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"could not e-mail the report: {exc}") from exc
        click.echo(f"e-mailed to {', '.join(recipients)}")


def _no_data_hint(day: date, days: list[date]) -> str:
    from finsentry.app.reports.queries import day_ranges

    if not days:
        return f"hint: the store holds no news at all; nothing to report for {day}"
    shown = [a.isoformat() if a == b else f"{a} to {b}" for a, b in day_ranges(days)][-10:]
    return f"hint: no news stored for {day}; days with data: {', '.join(shown)} (use --date)"
