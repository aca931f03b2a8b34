"""Unknown FINSENTRY_* variables are errors naming the variable; known ones of any command pass."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from finsentry.cli import main
from finsentry.cli.envcheck import OUTSIDE_COMMANDS, command_variables, unknown_variables


def test_a_misspelt_variable_is_an_error_naming_it_and_the_close_name() -> None:
    result = CliRunner().invoke(
        main, ["alerts", "--help"], env={"FINSENTRY_SMTP_HOTS": "mail.example"}
    )
    assert result.exit_code == 2
    assert "FINSENTRY_SMTP_HOTS (from the environment): unknown variable" in result.output
    assert "did you mean FINSENTRY_SMTP_HOST?" in result.output


def test_variables_of_other_commands_and_of_outside_parts_are_known() -> None:
    env = {
        "FINSENTRY_SMTP_HOST": "127.0.0.1",  # a Settings field
        "FINSENTRY_REPORT_DATE": "2026-03-02",  # an option of `report`, set while `db` runs
        "FINSENTRY_PG_PASSWORD": "x",  # Grafana's provisioning file
        "FINSENTRY_PYTHON": "/usr/bin/python3",  # the Airflow wiring
    }
    result = CliRunner().invoke(main, ["db", "--help"], env=env)
    assert result.exit_code == 0, result.output


def test_every_command_option_variable_is_found() -> None:
    with click.Context(main) as ctx:
        found = command_variables(main, ctx)
    for name in ("FINSENTRY_REPORT_DATE", "FINSENTRY_SIMULATE_SEED", "FINSENTRY_DB",
                 "FINSENTRY_CONFIG", "FINSENTRY_METRICS_ADDR"):
        assert name in found


@pytest.mark.parametrize("name", sorted(OUTSIDE_COMMANDS))
def test_outside_variables_are_not_reported(name: str) -> None:
    problems = unknown_variables({name: "1", "FINSENTRY_NOPE": "1", "HOME": "/"}, OUTSIDE_COMMANDS)
    assert [found for found, _hint in problems] == ["FINSENTRY_NOPE"]
