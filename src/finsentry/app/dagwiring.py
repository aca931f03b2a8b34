"""Wiring shared by finsentry's Airflow DAGs (``dags/*.py``).

The DAG files run in Airflow's own environment, where finsentry is installed without its
dependencies (``infra/airflow/setup``): this module imports nothing beyond the standard library
when it is imported; the Airflow task SDK is imported inside the functions that run on a worker.
Nothing here reads a file, a Variable, a Connection or the network at parse time. Settings (see
docs/operations.md):

- the store: the Airflow Connection ``finsentry_store`` (type postgres), else the Variable
  ``finsentry_db``, else FINSENTRY_DB in the workers' environment;
- SMTP: the Airflow Connection ``finsentry_smtp`` (type smtp: host, port, login, password, extra
  ``from_email`` and ``security``), else FINSENTRY_SMTP_* / FINSENTRY_MAIL_FROM of the workers;
- finsentry's interpreter: the Variable ``finsentry_python``, else the environment variable
  ``FINSENTRY_PYTHON`` of the DAG processor, else ``.venv`` beside the DAGs folder;
- ``FINSENTRY_AIRFLOW_START_DATE`` (environment of the DAG processor, ISO date, default
  2026-01-01): the first day the DAGs (and the daily report's catch-up) cover.

Secrets: the store and SMTP settings reach finsentry's process as environment variables that
:func:`finsentry_environment` (a ``pre_execute`` hook) sets when the task starts, after its
templates were rendered. They are never in a templated field (``airflow tasks render`` and the
rendered-fields view cannot show them), an XCom or an argument, and the passwords and the store URL
are registered with Airflow's secrets masker, so a log line that contains them shows ``***``.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

STORE_CONNECTION = "finsentry_store"
SMTP_CONNECTION = "finsentry_smtp"
# Asset events of the ingest DAG: a UTC day (a week, Monday to Sunday) whose end the store's
# watermark has passed. Extra: {"days": [...], "watermark": ...} / {"weeks": [last days]}.
DAY_COMPLETE = "finsentry://store/day-complete"
WEEK_COMPLETE = "finsentry://store/week-complete"
MODEL_POOL = "finsentry_models"  # tasks that load the model: create it with `airflow pools set`


def variable(name: str, default: str = "") -> str:
    """A Jinja template that reads an Airflow Variable when the task runs."""
    return "{{ var.value.get('%s', '%s') }}" % (name, default)  # noqa: UP031 - Jinja braces


def start_date(environ: dict[str, str] | None = None) -> datetime:
    value = (environ if environ is not None else os.environ).get("FINSENTRY_AIRFLOW_START_DATE")
    day = date.fromisoformat(value) if value else date(2026, 1, 1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DagWiring:
    python: str
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

    def external(self, **kwargs: Any) -> dict[str, Any]:
        """Arguments of an ``@task.external_python`` task that runs finsentry: its interpreter, no
        Airflow inside, and the store and SMTP Connections handed over when the task starts."""
        return {
            "python": self.python,
            "expect_airflow": False,
            "pre_execute": finsentry_environment,
            **kwargs,
        }


def wiring(dag_file: str) -> DagWiring:
    """The wiring for a DAG file (see the module's settings for finsentry's interpreter)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(dag_file)))
    fallback = os.environ.get("FINSENTRY_PYTHON") or os.path.join(repo, ".venv", "bin", "python")
    return DagWiring(python=variable("finsentry_python", fallback))


# -- run time: Connections into finsentry's environment --------------------------------------------


def finsentry_environment(context: Any) -> None:
    """``pre_execute`` hook of the ``@task.external_python`` tasks: the store and SMTP settings,
    from their Connections (else the Variable ``finsentry_db``), as FINSENTRY_* environment
    variables of finsentry's process. Absent ones are left to the worker's own environment."""
    task = context["task"]
    task.env_vars = {**(task.env_vars or {}), **connection_environment()}


def connection_environment() -> dict[str, str]:
    """FINSENTRY_* variables from the ``finsentry_store`` and ``finsentry_smtp`` Connections."""
    from airflow.sdk import Variable
    from airflow.sdk.log import mask_secret

    env: dict[str, str] = {}
    store = _optional_connection(STORE_CONNECTION)
    db = store_dsn(store) if store is not None else Variable.get("finsentry_db", default="")
    if db:
        password = urllib.parse.urlsplit(db).password
        for secret in (db, password, password and urllib.parse.unquote(password)):
            if secret:
                mask_secret(secret)
        env["FINSENTRY_DB"] = db
    smtp = _optional_connection(SMTP_CONNECTION)
    if smtp is not None:
        env.update(smtp_environment(smtp))
        if smtp.password:
            mask_secret(smtp.password)
    return env


def _optional_connection(conn_id: str) -> Any:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def store_dsn(conn: Any) -> str:
    """A libpq URL for a postgres Connection: login and password URL-quoted, the extra (e.g.
    ``{"sslmode": "require"}``) as query parameters."""
    if conn.conn_type not in ("postgres", "postgresql"):
        raise ValueError(
            f"Connection {conn.conn_id} has type {conn.conn_type!r}; finsentry's store needs a "
            "postgres Connection (for SQLite use the Variable finsentry_db)"
        )
    quote = urllib.parse.quote
    auth = quote(conn.login or "", safe="")
    if conn.password:
        auth += ":" + quote(conn.password, safe="")
    netloc = (auth + "@" if auth else "") + (conn.host or "localhost")
    if conn.port:
        netloc += f":{conn.port}"
    query = urllib.parse.urlencode({k: str(v) for k, v in sorted(conn.extra_dejson.items())})
    return urllib.parse.urlunsplit(("postgresql", netloc, "/" + (conn.schema or ""), query, ""))


def smtp_environment(conn: Any) -> dict[str, str]:
    """FINSENTRY_SMTP_* / FINSENTRY_MAIL_FROM for an smtp Connection.

    The login is replaced as a whole (no login on the Connection: none, whatever the worker has).
    Security: the extra ``security`` (starttls, ssl, none), else the SMTP provider's flags
    ``disable_ssl``/``disable_tls`` when given, else the worker's FINSENTRY_SMTP_SECURITY.
    """
    extra = conn.extra_dejson
    env = {
        "FINSENTRY_SMTP_HOST": conn.host or "",
        "FINSENTRY_SMTP_USER": conn.login or "",
        "FINSENTRY_SMTP_PASSWORD": conn.password or "",
    }
    if conn.port:
        env["FINSENTRY_SMTP_PORT"] = str(conn.port)
    sender = extra.get("from_email") or extra.get("mail_from")
    if sender:
        env["FINSENTRY_MAIL_FROM"] = str(sender)
    security = extra.get("security")
    if security is None and ("disable_ssl" in extra or "disable_tls" in extra):
        if not _flag(extra.get("disable_ssl", False)):
            security = "ssl"
        else:
            security = "none" if _flag(extra.get("disable_tls", False)) else "starttls"
    if security is not None:
        env["FINSENTRY_SMTP_SECURITY"] = str(security)
    return env


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
