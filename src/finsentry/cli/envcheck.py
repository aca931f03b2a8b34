"""Unknown ``FINSENTRY_*`` environment variables are errors, as unknown config-file keys are.

A variable is known when it sets a Settings field, an option of any ``finsentry`` command (each
option names its variable, shown in ``--help``), or is read by a part that runs outside the
command: Grafana's provisioning files, the Airflow wiring, the installer. A typo such as
``FINSENTRY_SMTP_HOTS`` would otherwise be ignored in silence, and mail would go nowhere.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping

import click

from finsentry.config import ENV_PREFIX, Settings

# Read by parts that are not finsentry commands (see the module docstring).
OUTSIDE_COMMANDS = frozenset(
    {
        "FINSENTRY_CONFIG",  # the root option --config
        "FINSENTRY_PYTHON",  # dagwiring: the interpreter the Airflow tasks run
        "FINSENTRY_AIRFLOW_START_DATE",  # dagwiring: the DAGs' start date
        "FINSENTRY_TORCH_VERSION",  # infra/setup: which torch wheel to install
        "FINSENTRY_ALERT_EMAILS",  # Grafana alerting provisioning file
        "FINSENTRY_PG_HOST",  # Grafana data source provisioning file, and the ones below
        "FINSENTRY_PG_PORT",
        "FINSENTRY_PG_USER",
        "FINSENTRY_PG_PASSWORD",
        "FINSENTRY_PG_DATABASE",
        "FINSENTRY_PG_SSLMODE",
    }
)


def settings_variables() -> frozenset[str]:
    return frozenset(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields)


def command_variables(group: click.Group, ctx: click.Context) -> frozenset[str]:
    """Every variable an option of ``group`` or of any of its sub-commands reads."""
    found: set[str] = set()
    pending: list[click.Command] = [group]
    while pending:
        command = pending.pop()
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if isinstance(envvar, str):
                found.add(envvar)
            elif isinstance(envvar, (list, tuple)):
                found.update(str(v) for v in envvar)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    pending.append(sub)
    return frozenset(found)


def unknown_variables(
    environ: Mapping[str, str], known: Iterable[str]
) -> list[tuple[str, str | None]]:
    """The ``FINSENTRY_*`` names in ``environ`` not in ``known``, each with a close known name."""
    known_list = sorted(set(known))
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known_list)
    return [(name, next(iter(difflib.get_close_matches(name, known_list, n=1)), None))
            for name in unknown]


def check_environment(ctx: click.Context, environ: Mapping[str, str] | None = None) -> None:
    """Raise a usage error (exit status 2) naming each unknown ``FINSENTRY_*`` variable."""
    env = os.environ if environ is None else environ
    cheap = settings_variables() | OUTSIDE_COMMANDS
    if all(k in cheap for k in env if k.startswith(ENV_PREFIX)):
        return
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    problems = unknown_variables(env, cheap | command_variables(root, ctx))
    if not problems:
        return
    lines = [
        f"{name} (from the environment): unknown variable"
        + (f"; did you mean {hint}?" if hint else "")
        for name, hint in problems
    ]
    raise click.UsageError(
        "; ".join(lines) + ". Unset it, or see `finsentry <command> --help` for the variables "
        "each option reads."
    )
