"""Options and helpers shared by the ``finsentry`` sub-commands.

Each option that maps to a Settings field shows its environment variable in ``--help``; the value
given on the command line wins over the environment, which wins over the TOML config file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from finsentry.config import ENV_PREFIX, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def setting_option(*decls: str, field: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option bound to a Settings field: env var FINSENTRY_<FIELD>, help from the field."""
    info = Settings.model_fields[field]
    default = info.default
    kwargs.setdefault("help", f"{info.description} [default: {default}]")
    return click.option(
        *decls,
        field,
        envvar=f"{ENV_PREFIX}{field.upper()}",
        show_envvar=True,
        default=None,
        **kwargs,
    )


def env_option(*decls: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    """A command option with its own environment variable FINSENTRY_<ENV> (shown in --help)."""
    return click.option(*decls, envvar=f"{ENV_PREFIX}{env}", show_envvar=True, **kwargs)


db_option = setting_option("--db", field="db", metavar="PATH|DSN")
model_option = setting_option("--model", field="model", metavar="NAME|DIR")
device_option = setting_option("--device", field="device", type=click.Choice(["auto", "cuda", "cpu"]))
worker_option = setting_option("--worker-id", field="worker_id", metavar="NAME")
backend_option = setting_option(
    "--backend", field="backend", type=click.Choice(["auto", "onnx", "torch"])
)
fields_option = setting_option(
    "--field",
    field="input_fields",
    multiple=True,
    metavar="FIELD=NAME",
    help="Records from other systems: take FIELD (id, published_at, source, headline, body, url, "
    "tickers, lang) from their NAME field (repeat: --field headline=title --field "
    "published_at=date; dots read nested objects: headline=content.title); --field id=@content "
    "makes ids from the content, id=@key takes the Kafka message key, published_at=@timestamp "
    "the Kafka record timestamp, source=@topic its topic. Comma separated in the environment.",
)


def pipeline_options(command: F) -> F:
    """``--db``, ``--model``, ``--device``, ``--backend`` and ``--field``: what a command that runs
    records through the pipeline takes (in that order in its help)."""
    for option in (fields_option, backend_option, device_option, model_option, db_option):
        command = option(command)
    return command


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings for this invocation: config file, environment, then command-line overrides."""
    root = ctx.find_root()
    config = (root.obj or {}).get("config") if root.obj else None
    try:
        return load_settings(config, **overrides)
    except ValueError as exc:
        raise click.UsageError(f"invalid setting: {exc}") from exc


class MissingStore(click.ClickException):
    """A read-only command pointed at a store that does not exist: exit status 2."""

    exit_code = 2


def open_for_reading(url: str, *, migrate: bool = True) -> Any:
    """The store at ``url`` for a command that only reads; never creates one."""
    from finsentry.store import StoreNotFoundError, StoreUnavailableError, open_existing_store

    try:
        return open_existing_store(url, migrate=migrate)
    except StoreNotFoundError as exc:
        raise MissingStore(str(exc)) from None
    except StoreUnavailableError as exc:
        raise click.ClickException(str(exc)) from None
