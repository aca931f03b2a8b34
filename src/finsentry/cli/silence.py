"""``finsentry silence add|list|expire`` (and ``finsentry mute``, an alias of ``silence add``).

Silences work as in Alertmanager: one covers the alerts of one scope (and one rule, or all) raised
while it is active. Its times are wall-clock times; windows are in event time, so an alert raised
now for a window of last week is silenced by a silence active now.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime

import click

from finsentry.cli.alerts import parse_duration, parse_scope
from finsentry.cli.common import db_option, open_for_reading, settings_from
from finsentry.inert import for_terminal
from finsentry.schema import iso, utc_now
from finsentry.store.base import Silence


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without passwd entry)
        return "unknown"


@click.group()
def silence() -> None:
    """Silence alerts on a scope for a while, list silences, end one early.

    An alert raised inside an active silence is stored with status `silenced` and not sent.
    Silences use wall-clock time; alert windows use event time (the news' publication time).
    """


@silence.command("add")
@click.option("--scope", required=True, envvar="FINSENTRY_SILENCE_SCOPE", show_envvar=True,
              metavar="KIND:VALUE", help="What to silence: ticker:AAPL, topic:Earnings, "
                                         "source:NAME or all (the all-news alerts).")  # fmt: skip
@click.option("--for", "duration", required=True, envvar="FINSENTRY_SILENCE_FOR", show_envvar=True,
              metavar="DURATION", help="How long from now: 30m, 2h, 1d ...")  # fmt: skip
@click.option("--rule", envvar="FINSENTRY_SILENCE_RULE", show_envvar=True,
              help="Only this rule (volume_spike, negative_surge, tone_shift); default: all rules.")  # fmt: skip
@click.option("--comment", "--reason", "comment", default="", envvar="FINSENTRY_SILENCE_COMMENT",
              show_envvar=True, help="Why (shown by `finsentry silence list`).")  # fmt: skip
@click.option("--created-by", envvar="FINSENTRY_SILENCE_CREATED_BY", show_envvar=True,
              help="Who silenced it [default: your login name].")  # fmt: skip
@db_option
@click.pass_context
def add(
    ctx: click.Context, scope: str, duration: str, rule: str | None, comment: str,
    created_by: str | None, db: str | None,
) -> None:  # fmt: skip
    """Silence alerts on one scope from now for a while (they are stored as silenced, not sent)."""
    from finsentry.alerts.rules import default_rules, rule_names
    from finsentry.store import open_store
    from finsentry.store.silences import new_silence_id

    settings = settings_from(ctx, db=db)
    kind, value = parse_scope(scope)
    known = rule_names(default_rules(settings))
    if rule is not None and rule not in known:
        raise click.BadParameter(
            f"unknown rule {rule!r}: one of {', '.join(known)}", param_hint="--rule"
        )
    length = parse_duration(duration)
    if length.total_seconds() <= 0:
        raise click.BadParameter("give a positive duration, e.g. 2h", param_hint="--for")
    now = utc_now()
    entry = Silence(new_silence_id(), kind, value, rule, now, now + length, comment,
                    created_by or _login(), now)  # fmt: skip
    store = open_store(settings.db)
    try:
        seen = store.scope_seen(kind, value)
        store.add_silence(entry)
    finally:
        store.close()
    shown = for_terminal(f"{kind}:{value}")
    if not seen:
        click.echo(
            f"warning: this store has no news for {shown} yet; the silence is stored anyway "
            "(check the spelling: `finsentry alerts --scope` shows the scopes that alerted)",
            err=True,
        )
    click.echo(f"silence {entry.id}: {rule or 'all rules'} on {shown} until {iso(entry.ends_at)}")


def _line(entry: Silence, now: datetime) -> str:
    scope = for_terminal(f"{entry.scope_kind}:{entry.scope_value}")
    line = (
        f"{entry.id}  {entry.state(now):<7}  {scope}  {entry.rule or 'all rules'}  "
        f"{iso(entry.starts_at)} -> {iso(entry.end)}  by {for_terminal(entry.created_by)}"
    )
    return line + (f"  {for_terminal(entry.comment)}" if entry.comment else "")


def _json(entry: Silence, now: datetime) -> str:
    return json.dumps({
        "id": entry.id, "state": entry.state(now), "scope_kind": entry.scope_kind,
        "scope_value": entry.scope_value, "rule": entry.rule, "starts_at": iso(entry.starts_at),
        "ends_at": iso(entry.ends_at),
        "expired_at": iso(entry.expired_at) if entry.expired_at else None,
        "comment": entry.comment, "created_by": entry.created_by,
        "created_at": iso(entry.created_at) if entry.created_at else None,
    })  # fmt: skip


@silence.command("list")
@click.option("--all", "show_all", is_flag=True, envvar="FINSENTRY_SILENCE_ALL", show_envvar=True,
              help="Also the expired silences.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, envvar="FINSENTRY_JSON", show_envvar=True,
              help="One JSON object per line: id, state, scope_kind, scope_value, rule, starts_at, "
                   "ends_at, expired_at, comment, created_by, created_at.")  # fmt: skip
@db_option
@click.pass_context
def list_silences(ctx: click.Context, show_all: bool, as_json: bool, db: str | None) -> None:
    """The active silences (with --all, the expired ones too), by start time."""
    settings = settings_from(ctx, db=db)
    now = utc_now()
    store = open_for_reading(settings.db)
    try:
        found = store.silences(None if show_all else now)
    finally:
        store.close()
    for entry in found:
        click.echo(_json(entry, now) if as_json else _line(entry, now))
    if not found and not as_json:
        click.echo("no silences" if show_all else "no active silences (--all shows expired ones)")


@silence.command("expire")
@click.argument("silence_id", metavar="ID")
@db_option
@click.pass_context
def expire(ctx: click.Context, silence_id: str, db: str | None) -> None:
    """End a silence now (ID or a unique prefix of it): later alerts on its scope are sent."""
    settings = settings_from(ctx, db=db)
    now = utc_now()
    store = open_for_reading(settings.db)
    try:
        matches = [s for s in store.silences() if s.id.startswith(silence_id)]
        exact = [s for s in matches if s.id == silence_id]
        matches = exact or matches
        if len(matches) != 1:
            what = "no silence" if not matches else f"{len(matches)} silences match"
            raise click.ClickException(
                f"{what} {for_terminal(silence_id)!r}: `finsentry silence list --all` shows ids"
            )
        entry = matches[0]
        if not store.expire_silence(entry.id, now):
            raise click.ClickException(f"silence {entry.id} already ended at {iso(entry.end)}")
    finally:
        store.close()
    click.echo(f"silence {entry.id} expired at {iso(now)}")
