"""Wiring shared by finsentry's Airflow DAGs (``dags/*.py``).

The DAG files run in Airflow's own environment, where finsentry is installed without its
dependencies (``infra/airflow/setup``): this module must import nothing beyond the standard library.
Nothing here reads a file, a Variable or the network at parse time: values are Jinja templates
rendered when a task runs. Airflow Variables (or ``AIRFLOW_VAR_<NAME>`` environment variables):
``finsentry_python`` (the Python of finsentry's virtualenv; default: ``.venv`` beside the DAGs
folder), ``finsentry_db`` (store URL; default FINSENTRY_DB), ``finsentry_config`` (TOML file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def variable(name: str, default: str = "") -> str:
    """A Jinja template that reads an Airflow Variable when the task runs."""
    return "{{ var.value.get('%s', '%s') }}" % (name, default)  # noqa: UP031 - Jinja braces


@dataclass(frozen=True, slots=True)
class DagWiring:
    python: str
    db: str = variable("finsentry_db")
    config: str = variable("finsentry_config")
    start_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    default_args: dict[str, Any] = field(
        default_factory=lambda: {
            "owner": "finsentry",
            "retries": 2,
            "retry_delay": timedelta(minutes=5),
        }
    )
    tags: tuple[str, ...] = ("finsentry",)


def wiring(dag_file: str) -> DagWiring:
    """The wiring for a DAG file: finsentry's Python defaults to ``.venv`` beside its folder."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(dag_file)))
    return DagWiring(python=variable("finsentry_python", os.path.join(repo, ".venv", "bin", "python")))
