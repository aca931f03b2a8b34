"""Wiring shared by finsentry's Airflow DAGs (``dags/*.py``).

The DAG files run in Airflow's own environment, where finsentry is installed without its
dependencies (``infra/airflow/setup``): this module must import nothing beyond the standard library.
Nothing here reads a file, a Variable, a Connection or the network at parse time: values are Jinja
templates rendered when a task runs. Settings (see docs/operations.md):

- the store: the Airflow Connection ``finsentry_store`` (a postgres connection, turned into a DSN
  when the task runs; Airflow masks its password in logs), else the Variable ``finsentry_db``,
  else FINSENTRY_DB in the workers' environment;
- finsentry's interpreter: the Variable ``finsentry_python``, else the environment variable
  ``FINSENTRY_PYTHON`` of the DAG processor, else ``.venv`` beside the DAGs folder;
- ``FINSENTRY_AIRFLOW_START_DATE`` (environment of the DAG processor, ISO date, default
  2026-01-01): the first day the DAGs (and the daily report's catch-up) cover.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

STORE_CONNECTION = "finsentry_store"
MODEL_POOL = "finsentry_models"  # tasks that load the model: create it with `airflow pools set`


def variable(name: str, default: str = "") -> str:
    """A Jinja template that reads an Airflow Variable when the task runs."""
    return "{{ var.value.get('%s', '%s') }}" % (name, default)  # noqa: UP031 - Jinja braces


def store_template() -> str:
    """The store URL when the task runs: the ``finsentry_store`` Connection's URI, else the
    ``finsentry_db`` Variable (else the task's FINSENTRY_DB)."""
    lookup = "{% set c = conn.get('" + STORE_CONNECTION + "') %}"
    return lookup + "{{ c.get_uri() if c else var.value.get('finsentry_db', '') }}"


def start_date(environ: dict[str, str] | None = None) -> datetime:
    value = (environ if environ is not None else os.environ).get("FINSENTRY_AIRFLOW_START_DATE")
    day = date.fromisoformat(value) if value else date(2026, 1, 1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DagWiring:
    python: str
    db: str = field(default_factory=store_template)
    config: str = variable("finsentry_config")
    start_date: datetime = field(default_factory=start_date)
    default_args: dict[str, Any] = field(
        default_factory=lambda: {
            "owner": "finsentry",
            "retries": 2,
            "retry_delay": timedelta(minutes=5),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
            "execution_timeout": timedelta(minutes=30),
        }
    )
    tags: tuple[str, ...] = ("finsentry",)


def wiring(dag_file: str) -> DagWiring:
    """The wiring for a DAG file (see the module's settings for finsentry's interpreter)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(dag_file)))
    fallback = os.environ.get("FINSENTRY_PYTHON") or os.path.join(repo, ".venv", "bin", "python")
    return DagWiring(python=variable("finsentry_python", fallback))
