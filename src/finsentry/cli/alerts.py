"""``finsentry alerts`` and ``finsentry backtest`` (silences: ``cli/silence.py``)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import click

from finsentry.alerts import listing
from finsentry.cli.common import (
    backend_option,
    db_option,
    device_option,
    model_option,
    open_for_reading,
    settings_from,
)
from finsentry.inert import for_terminal
from finsentry.schema import Alert, AlertStatus, ScopeKind, as_utc, utc_now

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1w`` -> a timedelta."""
    match = DURATION.match(text.lower())
    if not match:
        raise click.BadParameter(f"{text!r}: use a number and a unit, e.g. 30m, 2h, 1d")
    return timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO-8601 time with offset, or a duration back from now (``2h`` = the last two hours)."""
    if DURATION.match(text.lower()):
        return now - parse_duration(text)
    try:
        value = datetime.fromisoformat(text)
        return as_utc(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r}: give an ISO time with offset (2026-03-02T09:00:00+00:00) or a duration (2h)"
        ) from exc


def parse_scope(text: str) -> tuple[str, str]:
    """``ticker:AAPL``, ``topic:Earnings``, ``all`` -> (scope kind, scope value)."""
    if text.strip().lower() in ("all", "all:*", "*"):
        return str(ScopeKind.ALL), "*"
    kind, sep, value = text.partition(":")
    kinds = {str(k) for k in (ScopeKind.TICKER, ScopeKind.TOPIC, ScopeKind.SOURCE)}
    if not sep or kind.lower() not in kinds or not value.strip():
        raise click.BadParameter(f"{text!r}: use ticker:SYMBOL, topic:NAME, source:NAME or all")
    value = value.strip()
    return kind.lower(), value.upper() if kind.lower() == "ticker" else value


STATUSES = tuple(str(s) for s in AlertStatus)


def _select(
    found: list[Alert], status: str | None, scope: tuple[str, str] | None, limit: int | None
) -> list[Alert]:
    """The alerts with ``status`` in ``scope`` (any when None), at most ``limit``, oldest first."""
    out = [
        a
        for a in found
        if (status is None or str(a.status) == status)
        and (scope is None or (str(a.scope_kind), a.scope_value) == scope)
    ]
    return out[:limit] if limit is not None else out


@click.group(invoke_without_command=True)
@db_option
@click.option("--format", "fmt", type=click.Choice(listing.FORMATS), default="table",
              show_default=True, envvar="FINSENTRY_ALERTS_FORMAT", show_envvar=True,
              help="table: one line per alert with its top headlines; json: one object per line "
                   "(the --json shape); csv: a header row and one row per alert.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, envvar="FINSENTRY_JSON", show_envvar=True,
              help="Same as --format json: one JSON object per line: id, rule, scope_kind, "
                   "scope_value, metric, window_start, window_end, fired_at, severity, observed, "
                   "expected, evidence.")  # fmt: skip
@click.option("--status", type=click.Choice(STATUSES), envvar="FINSENTRY_ALERTS_STATUS",
              show_envvar=True, help="Only alerts with this status.")  # fmt: skip
@click.option("--scope", "scope_text", envvar="FINSENTRY_ALERTS_SCOPE", show_envvar=True,
              metavar="KIND:VALUE", help="Only alerts on this scope: ticker:AAPL, topic:NAME, "
                                         "source:NAME or all.")  # fmt: skip
@click.option("--since", envvar="FINSENTRY_ALERTS_SINCE", show_envvar=True, metavar="TIME|DURATION",
              help="Only alerts whose window starts at or after this (ISO time, or e.g. 24h).")  # fmt: skip
@click.option("--limit", type=int, envvar="FINSENTRY_ALERTS_LIMIT", show_envvar=True,
              help="At most this many alerts (the oldest first).")  # fmt: skip
@click.pass_context
def alerts(
    ctx: click.Context, db: str | None, fmt: str, as_json: bool, status: str | None,
    scope_text: str | None, since: str | None, limit: int | None,
) -> None:  # fmt: skip
    """List stored alerts, oldest first, with the headlines that drove them.

    With --json (or --format json) each line is one alert in the documented, stable shape
    (timestamps ISO-8601 UTC). `finsentry alerts show ID` prints one alert in full, with its
    evidence and its delivery history.
    """
    ctx.meta["finsentry.alerts.db"] = db
    if ctx.invoked_subcommand is not None:
        return
    scope = parse_scope(scope_text) if scope_text else None
    settings = settings_from(ctx, db=db)
    start = parse_since(since, utc_now()) if since else None
    store = open_for_reading(settings.db)
    try:
        found = _select(store.alerts(since=start), status, scope, limit)
    finally:
        store.close()
    fmt = "json" if as_json else fmt
    if fmt == "json":
        for line in listing.json_lines(found):
            click.echo(line)
    elif fmt == "csv":
        click.echo(listing.csv_text(found), nl=False)
    elif not found:
        click.echo("no alerts")
    else:  # headlines, URLs and scope names come from the news: made inert
        for line in listing.table_lines(found):
            click.echo(line)


@alerts.command("show")
@click.argument("alert_id", metavar="ID")
@db_option
@click.pass_context
def show(ctx: click.Context, alert_id: str, db: str | None) -> None:
    """Print one alert (ID or a unique prefix of it) with its evidence and delivery history."""
    from finsentry.alerts.history import deliveries, find_alert

    parent = ctx.parent.meta.get("finsentry.alerts.db") if ctx.parent else None
    settings = settings_from(ctx, db=db or parent)
    store = open_for_reading(settings.db)
    try:
        found = find_alert(store, alert_id)
        if len(found) > 1:
            shown = ", ".join(a.id for a in found[:5])
            raise click.UsageError(
                f"{alert_id!r} matches {len(found)} alerts ({shown}): give more of the id"
            )
        if not found:
            raise click.ClickException(
                f"no alert {for_terminal(alert_id)!r}: `finsentry alerts` lists their ids"
            )
        history = deliveries(store, found[0])
    finally:
        store.close()
    for line in listing.detail_lines(found[0], history):
        click.echo(line)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--truth", type=click.Path(dir_okay=False), envvar="FINSENTRY_TRUTH", show_envvar=True,
              help="Ground truth JSON (default: FILE.truth.json, as finsentry simulate writes it).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, envvar="FINSENTRY_JSON", show_envvar=True,
              help="Print the report as one JSON object.")  # fmt: skip
@click.option("--db", envvar="FINSENTRY_BACKTEST_DB", show_envvar=True, metavar="PATH",
              help="Keep the backtest store here (a new file); default: a temporary one.")  # fmt: skip
@model_option
@device_option
@backend_option
@click.option("--quiet", is_flag=True, envvar="FINSENTRY_QUIET", show_envvar=True,
              help="No progress bar.")  # fmt: skip
@click.pass_context
def backtest(
    ctx: click.Context,
    file: str,
    truth: str | None,
    as_json: bool,
    db: str | None,
    model: str | None,
    device: str | None,
    backend: str | None,
    quiet: bool,
) -> None:
    """Run a labelled stream through the pipeline and score the alerts against its truth.

    Reports, per injected incident, whether an alert on its ticker came and after how long
    (from the incident's start to the end of the first alert window), then recall, precision of
    ticker alerts and the false alerts: the numbers to tune detection thresholds with.
    """
    from finsentry.app.backtest import format_backtest, load_truth, run_backtest

    settings = settings_from(ctx, model=model, device=device, backend=backend)
    try:
        labels = load_truth(truth or f"{file}.truth.json")
        result = run_backtest(file, labels, settings, db=db, progress=not quiet and not as_json)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        click.echo(format_backtest(result))
