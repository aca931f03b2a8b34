"""Wiring shared by finsentry's DAGs (Airflow puts the dags folder on sys.path).

Listed in .airflowignore: it defines no DAG.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum

# Nothing here reads a file, a Variable or the network at parse time: values are Jinja templates
# rendered when a task runs. Airflow Variables (or AIRFLOW_VAR_<NAME> environment variables):
# finsentry_python (absolute path of the Python in finsentry's virtualenv; default: .venv next to
# this dags/ folder), finsentry_db (store URL; default FINSENTRY_DB), finsentry_config (TOML file).
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def variable(name: str, default: str = "") -> str:
    """A Jinja template that reads an Airflow Variable when the task runs."""
    return "{{ var.value.get('%s', '%s') }}" % (name, default)  # noqa: UP031 - Jinja braces


FINSENTRY_PYTHON = variable("finsentry_python", os.path.join(_REPO, ".venv", "bin", "python"))
DB = variable("finsentry_db")
CONFIG = variable("finsentry_config")
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
DEFAULT_ARGS = {"owner": "finsentry", "retries": 2, "retry_delay": timedelta(minutes=5)}
TAGS = ["finsentry"]
