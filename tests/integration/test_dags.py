"""The Airflow DAGs, run by Airflow itself from its own virtualenv (.venv-airflow).

Airflow runs as a subprocess of this pytest (``infra/airflow/setup`` creates its environment), with
a fresh AIRFLOW_HOME and a SQLite metadata database. The DAG tasks call finsentry in this very
environment (``@task.external_python`` with this interpreter), against real stores, with feeds
served from a local HTTP server on loopback and e-mail to a local SMTP server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import ScopeKind
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer
from tests.integration.test_email import notification as alert_mail
from tests.integration.test_reports import START, simulated_days

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
DAY_COMPLETE = "finsentry://store/day-complete"
WEEK_COMPLETE = "finsentry://store/week-complete"
DAG_IDS = {
    "finsentry_ingest",
    "finsentry_daily_report",
    "finsentry_model_eval",
    "finsentry_retention",
    "finsentry_outbox",
}

IMPORT_CHECK = r"""
import builtins, importlib.util, io, json, os, socket, subprocess, sys, urllib.request
from pathlib import Path

folder = Path(sys.argv[1])
# Warm up Airflow itself (config, logging, providers) first: only the DAG files are under test.
import pendulum
import airflow.sdk
from airflow.sdk import Variable
from airflow.providers.standard.decorators import external_python  # noqa: F401
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.definitions._internal.contextmanager import DagContext

violations = []

def deny(what):
    def guard(*args, **kwargs):
        violations.append(f"{what} {args[:2]!r}")
        raise RuntimeError(f"I/O at DAG parse time: {what}")
    return guard

real_open = builtins.open

def guarded_open(file, mode="r", *args, **kwargs):
    if any(flag in mode for flag in "wax+"):
        deny("open for writing")(file, mode)
    return real_open(file, mode, *args, **kwargs)

patches = [
    (socket.socket, "connect", deny("socket.connect")),
    (socket.socket, "connect_ex", deny("socket.connect_ex")),
    (socket, "create_connection", deny("socket.create_connection")),
    (socket, "getaddrinfo", deny("socket.getaddrinfo")),
    (urllib.request, "urlopen", deny("urlopen")),
    (subprocess, "Popen", deny("subprocess")),
    (os, "system", deny("os.system")),
    (builtins, "open", guarded_open),
    (io, "open", guarded_open),
    (Variable, "get", deny("Variable.get")),
]
saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
found, errors = {}, {}
for obj, name, fake in patches:
    setattr(obj, name, fake)
try:
    for path in sorted(folder.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"dagcheck_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        DagContext.autoregistered_dags.clear()
        DagContext.current_autoregister_module_name = spec.name
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            errors[path.name] = f"{type(exc).__name__}: {exc}"
            continue
        finally:
            DagContext.current_autoregister_module_name = None
        found[path.name] = sorted(d.dag_id for d, _ in DagContext.autoregistered_dags)
finally:
    for obj, name, real in saved:
        setattr(obj, name, real)

bag = DagBag(dag_folder=str(folder))
print("FINSENTRY_RESULT " + json.dumps({
    "violations": violations,
    "errors": errors,
    "found": found,
    "bag_errors": {Path(k).name: str(v)[-500:] for k, v in bag.import_errors.items()},
    "bag_dags": sorted(bag.dag_ids),
    "tasks": {d: sorted(t.task_id for t in bag.dags[d].tasks) for d in bag.dag_ids},
    "schedules": {
        d: str(getattr(getattr(bag.dags[d].timetable, "timetable", bag.dags[d].timetable),
                       "expression", ""))
        for d in bag.dag_ids
    },
    "assets": {
        d: sorted(a.uri for a in getattr(bag.dags[d].timetable.asset_condition, "objects", ()))
        for d in bag.dag_ids if getattr(bag.dags[d].timetable, "asset_condition", None) is not None
    },
    "outlets": {
        f"{d}.{t.task_id}": sorted(o.uri for o in t.outlets)
        for d in bag.dag_ids for t in bag.dags[d].tasks if t.outlets
    },
    "catchup": {d: bag.dags[d].catchup for d in bag.dag_ids},
    "params": {d: sorted(bag.dags[d].params.keys()) for d in bag.dag_ids},
    "task_settings": {
        f"{d}.{t.task_id}": {
            "timeout_s": t.execution_timeout.total_seconds() if t.execution_timeout else None,
            "retries": t.retries,
            "pool": t.pool,
        }
        for d in bag.dag_ids for t in bag.dags[d].tasks
    },
}))
"""

DAG_TEST = r"""
import json, sys
import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.models.asset import AssetEvent
from airflow.utils.session import create_session

folder, plan_file = sys.argv[1:3]
bag = DagBag(dag_folder=folder)
assert not bag.import_errors, bag.import_errors
for run in json.loads(open(plan_file).read()):
    for path, content in run.get("write", {}).items():  # the world changes between runs
        with open(path, "w") as fh:
            fh.write(content)
    dag = bag.get_dag(run["dag_id"])
    dr = dag.test(logical_date=pendulum.parse(run["logical_date"]), run_conf=run.get("conf"),
                  variable_file_path=run["variables"])
    with create_session() as session:
        events = [
            {"uri": e.asset.uri, "extra": e.extra}
            for e in session.query(AssetEvent).filter(AssetEvent.source_run_id == dr.run_id)
        ]
    print("FINSENTRY_RESULT " + json.dumps({
        "run_id": dr.run_id,
        "asset_events": events,
        "name": run["name"],
        "state": str(getattr(dr.state, "value", dr.state)),
        "tasks": {ti.task_id: str(getattr(ti.state, "value", ti.state))
                  for ti in dr.get_task_instances()},
        "tries": {ti.task_id: ti.try_number for ti in dr.get_task_instances()},
        "interval": [dr.data_interval_start.isoformat(), dr.data_interval_end.isoformat()],
    }), flush=True)
"""


def _results(output: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.split("FINSENTRY_RESULT ", 1)[1])
        for line in output.splitlines()
        if line.startswith("FINSENTRY_RESULT ")
    ]


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for Airflow subprocesses: a fresh AIRFLOW_HOME with a migrated SQLite DB."""
    if not AIRFLOW_PYTHON.exists():
        pytest.fail(
            f"{AIRFLOW_PYTHON} not found: create Airflow's environment with infra/airflow/setup",
            pytrace=False,
        )
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINSENTRY_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        FINSENTRY_DEVICE="cpu",
        FINSENTRY_CPU_THREADS="1",
        PYTHONPATH="",
    )
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-m", "airflow", "db", "migrate"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    pool = subprocess.run(
        [str(AIRFLOW_PYTHON), "-m", "airflow", "pools", "set", "finsentry_models", "1",
         "finsentry: concurrent model loads"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pool.returncode == 0, pool.stdout[-2000:] + pool.stderr[-2000:]
    return env


def _run_airflow(env: dict[str, str], script: str, *args: str, timeout: int = 1500) -> str:
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", script, *args],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT),
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"Airflow subprocess failed ({proc.returncode}):\n{output[-6000:]}"
    return output


# -- parse-time checks -------------------------------------------------------------------------


def test_every_dag_imports_without_io(airflow_env: dict[str, str]) -> None:
    (result,) = _results(_run_airflow(airflow_env, IMPORT_CHECK, str(ROOT / "dags")))
    assert result["violations"] == [], result
    assert result["errors"] == {} and result["bag_errors"] == {}, result
    assert set(result["bag_dags"]) == DAG_IDS
    assert {name: len(ids) for name, ids in result["found"].items()} == {
        f"{d}.py": 1 for d in DAG_IDS
    }, result["found"]  # one DAG per file, named like the file
    assert result["tasks"]["finsentry_model_eval"] == ["check_accuracy", "evaluate"]
    assert result["tasks"]["finsentry_ingest"] == [
        "announce_days", "announce_week", "find_complete_days", "pull_feeds"
    ]  # fmt: skip
    # the ingest announces complete days and weeks; the report and the evaluation follow them
    assert result["outlets"] == {
        "finsentry_ingest.announce_days": [DAY_COMPLETE],
        "finsentry_ingest.announce_week": [WEEK_COMPLETE],
    }
    assert result["assets"] == {
        "finsentry_daily_report": [DAY_COMPLETE],
        "finsentry_model_eval": [WEEK_COMPLETE],
    }
    # ... or, for the report, a daily cron (its runs catch up every pending day themselves)
    assert result["schedules"]["finsentry_daily_report"] == "0 6 * * *"
    assert result["catchup"]["finsentry_daily_report"] is False
    assert result["params"]["finsentry_daily_report"] == ["dry_run", "report_date"]
    assert result["params"]["finsentry_ingest"] == ["dry_run", "feeds"]
    settings = result["task_settings"]
    for name, task in settings.items():  # nothing can hang forever
        assert task["timeout_s"] and task["timeout_s"] <= 2 * 3600, (name, task)
    assert settings["finsentry_ingest.pull_feeds"]["timeout_s"] < 3600  # the next hour runs
    assert settings["finsentry_ingest.pull_feeds"]["pool"] == "finsentry_models"
    assert settings["finsentry_model_eval.evaluate"]["pool"] == "finsentry_models"
    assert settings["finsentry_model_eval.check_accuracy"]["retries"] == 0


def test_the_import_check_catches_io(airflow_env: dict[str, str], tmp_path: Path) -> None:
    """The guard itself: a DAG file that writes a file or opens a socket at parse time is caught."""
    (tmp_path / "bad_dag.py").write_text(
        "from airflow.sdk import dag\n"
        "import socket\n"
        "open('/tmp/finsentry-parse-time-write', 'w').write('x')\n",
        encoding="utf-8",
    )
    (tmp_path / "bad_net_dag.py").write_text(
        "import socket\nsocket.create_connection(('127.0.0.1', 9))\n", encoding="utf-8"
    )
    (result,) = _results(_run_airflow(airflow_env, IMPORT_CHECK, str(tmp_path)))
    assert any("open for writing" in v for v in result["violations"]), result
    assert any("create_connection" in v for v in result["violations"]), result
    assert set(result["errors"]) == {"bad_dag.py", "bad_net_dag.py"}


# -- end-to-end runs ---------------------------------------------------------------------------

HOUR = START + timedelta(hours=9)  # the ingest run for 10:00 covers [09:00, 10:00)


def _feed_items() -> list[tuple[str, datetime, str]]:
    rows = [
        ("Apple beats estimates as iPhone revenue surges", timedelta(minutes=15)),
        ("Microsoft shares tumble after SEC probe into cloud deals", timedelta(minutes=20)),
        ("Nvidia wins approval for new Shanghai research campus", timedelta(minutes=41)),
        ("Tesla recall widens to forty thousand vehicles", timedelta(minutes=-30)),  # 08:30
        ("JPMorgan raises dividend after record quarter", timedelta(minutes=-10)),  # 08:50
        ("Amazon opens three fulfilment centres in Texas", timedelta(minutes=80)),  # 10:20
    ]
    return [(f"rss-{i}", HOUR + delta, title) for i, (title, delta) in enumerate(rows)]


def _json_items() -> list[dict[str, Any]]:
    return [
        {"guid": "api-1", "title": "Visa misses earnings as fraud losses mount",
         "published": (HOUR + timedelta(minutes=33)).isoformat(), "tickers": ["V"]},
        {"guid": "api-2", "title": "Mastercard upgrades guidance on travel growth",
         "published": int((HOUR - timedelta(minutes=5)).timestamp())},
    ]  # fmt: skip


def _rss() -> bytes:
    entries = "".join(
        f"<item><guid>{gid}</guid><title>{title}</title><link>https://news.example/{gid}</link>"
        f"<pubDate>{at.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for gid, at, title in _feed_items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test Wire</title><link>https://news.example</link>{entries}</channel></rss>"
    ).encode()


class _FeedHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if self.path == "/feed.xml":
            body, kind = _rss(), "application/rss+xml"
        elif self.path == "/news.json":
            body, kind = json.dumps({"items": _json_items()}).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def feed_server() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.hits  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def smtp_inbox() -> Iterator[tuple[int, list[Message]]]:
    from aiosmtpd.controller import Controller

    received: list[Message] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


LABELLED = [
    ("Company shares plunge after profit warning and fraud probe", "negative"),
    ("Stock tumbles as quarterly loss widens and guidance is cut", "negative"),
    ("Bankruptcy filing wipes out shareholders", "negative"),
    ("Profit soars to a record as revenue beats forecasts", "positive"),
    ("Shares rally after strong earnings and raised outlook", "positive"),
    ("Company raises dividend after record sales growth", "positive"),
    ("Company to hold annual general meeting on May 5", "neutral"),
    ("Board appoints new company secretary", "neutral"),
]
FLIPPED = {"negative": "positive", "positive": "negative", "neutral": "negative"}


def _labelled_csv(flip: bool = False) -> str:
    rows = [(text, FLIPPED[label] if flip else label) for text, label in LABELLED]
    return "text,label\n" + "".join(f'"{text}",{label}\n' for text, label in rows)


@pytest.fixture(scope="module")
def dag_runs(
    airflow_env: dict[str, str],
    feed_server: tuple[str, list[str]],
    smtp_inbox: tuple[int, list[Message]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Run every DAG with ``dag.test()``, in order, in one Airflow process, on one store.

    The store starts with two simulated days (``before.db`` keeps a copy), so its watermark has
    passed the end of the first (03-02) and the report's catch-up starts a day earlier (03-01, a
    day with no news); the runs: the scheduled daily report, the same again (nothing left), a
    manual report of the incomplete day 03-03, the ingest of [09:00, 10:00), the same interval
    again, the backfill of [08:00, 09:00), a model evaluation, a second one after the labelled file
    changed, one with an empty labelled file, and retention; first of all, the outbox drain.
    """
    work = tmp_path_factory.mktemp("dag-runs")
    base_url, _ = feed_server
    smtp_port, _ = smtp_inbox
    store_db = work / "store.db"
    settings = Settings(db=str(store_db))
    pipe = Pipeline.from_settings(settings, store=open_store(settings.db), scorer=LexiconScorer())
    try:
        run_files([simulated_days(work / "news.jsonl")], settings, pipeline=pipe)
    finally:
        pipe.close()
    shutil.copy(store_db, work / "before.db")
    queued = alert_mail()  # an alert e-mail left in the outbox: finsentry_outbox sends it
    store = open_store(settings.db)
    store.enqueue_notifications([queued])
    store.close()
    labelled = work / "labelled.csv"
    labelled.write_text(_labelled_csv(), encoding="utf-8")
    variables = {
        "finsentry_python": sys.executable,
        "finsentry_db": str(store_db),
        "finsentry_feeds": f"{base_url}/feed.xml",
        "finsentry_json_urls": json.dumps([f"{base_url}/news.json"]),
        "finsentry_ingest_lookback_h": "0",
        "finsentry_report_dir": str(work / "reports"),
        "finsentry_report_to": "desk@example.com",
        "finsentry_eval_data": str(labelled),
        "finsentry_eval_dir": str(work / "eval"),
        "finsentry_retention_days": "1",
    }
    var_file = work / "variables.json"
    var_file.write_text(json.dumps(variables), encoding="utf-8")
    after_hour = (HOUR + timedelta(hours=1)).isoformat()
    next_day = (START + timedelta(days=1)).isoformat()
    plan = [
        {"name": "outbox", "dag_id": "finsentry_outbox", "logical_date": next_day},
        {"name": "report", "dag_id": "finsentry_daily_report", "logical_date": next_day},
        {"name": "report_again", "dag_id": "finsentry_daily_report",
         "logical_date": (START + timedelta(days=1, hours=6)).isoformat()},
        {"name": "report_manual", "dag_id": "finsentry_daily_report",
         "logical_date": (START + timedelta(days=1, hours=7)).isoformat(),
         "conf": {"report_date": START.date().isoformat()}},
        {"name": "ingest", "dag_id": "finsentry_ingest", "logical_date": after_hour},
        {"name": "ingest_again", "dag_id": "finsentry_ingest", "logical_date": after_hour},
        {"name": "ingest_backfill", "dag_id": "finsentry_ingest", "logical_date": HOUR.isoformat()},
        {"name": "eval", "dag_id": "finsentry_model_eval", "logical_date": "2026-03-09T03:00:00+00:00"},
        {"name": "eval_drop", "dag_id": "finsentry_model_eval",
         "logical_date": "2026-03-16T03:00:00+00:00",
         "write": {str(labelled): _labelled_csv(flip=True)}},
        {"name": "eval_nodata", "dag_id": "finsentry_model_eval",
         "logical_date": "2026-03-23T03:00:00+00:00", "write": {str(labelled): "text,label\n"}},
        {"name": "retention", "dag_id": "finsentry_retention", "logical_date": next_day},
    ]  # fmt: skip
    for run in plan:
        run["variables"] = str(var_file)
    (work / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    env = {
        **airflow_env,
        "FINSENTRY_SMTP_HOST": "127.0.0.1",
        "FINSENTRY_SMTP_PORT": str(smtp_port),
        "FINSENTRY_SMTP_SECURITY": "none",
        "FINSENTRY_MAIL_TO": "models@example.com",
        "FINSENTRY_AIRFLOW_START_DATE": (START - timedelta(days=2)).date().isoformat(),
    }
    started = datetime.now(UTC)
    output = _run_airflow(env, DAG_TEST, str(ROOT / "dags"), str(work / "plan.json"))
    results = {r["name"]: r for r in _results(output)}
    assert set(results) == {r["name"] for r in plan}, output[-6000:]
    return {
        "results": results,
        "work": work,
        "store_db": store_db,
        "before_db": work / "before.db",
        "queued": queued,
        "seconds": (datetime.now(UTC) - started).total_seconds(),
        "output": output,
    }


def _items(db: Path, start: datetime, end: datetime) -> dict[str, bool]:
    """Item id -> novel, for items published in [start, end)."""
    store = open_store(str(db))
    try:
        return {i.id: i.novel for i in store.items_between(start, end, limit=100_000)}
    finally:
        store.close()


def _hour_count(db: Path, hour: datetime) -> int:
    store = open_store(str(db))
    try:
        return sum(
            w.count
            for w in store.window_stats(3600, hour, hour + timedelta(hours=1), ScopeKind.ALL)
        )
    finally:
        store.close()


FEED_IDS = {"rss-0", "rss-1", "rss-2", "api-1", "rss-3", "rss-4", "api-2"}


def test_outbox_dag_sends_the_queued_alert_mail_once(
    dag_runs: dict[str, Any], smtp_inbox: tuple[int, list[Message]]
) -> None:
    from finsentry.alerts.email import message_id

    run = dag_runs["results"]["outbox"]
    assert run["state"] == "success" and run["tasks"] == {"drain_outbox": "success"}
    queued = dag_runs["queued"]
    _, inbox = smtp_inbox
    sent = [m for m in inbox if m["To"] == "models@example.com" and "ACME" in m["Subject"]]
    assert [m["Message-ID"] for m in sent] == [message_id(queued.key)]
    store = open_store(str(dag_runs["store_db"]))
    try:
        (row,) = [e for e in store.outbox() if e.notification.key == queued.key]
    finally:
        store.close()
    assert (row.notification.status, row.notification.attempts) == ("delivered", 1)


def test_ingest_pulls_feeds_idempotently_per_interval(
    dag_runs: dict[str, Any], feed_server
) -> None:
    results = dag_runs["results"]
    for name in ("ingest", "ingest_again", "ingest_backfill"):
        assert results[name]["state"] == "success", (results[name], dag_runs["output"][-4000:])
    assert results["ingest"]["interval"][0].startswith(HOUR.isoformat()[:19])
    _, hits = feed_server
    assert hits.count("/feed.xml") == 3 and hits.count("/news.json") == 3
    wide = (START - timedelta(days=2), START + timedelta(days=2))
    fed = {
        k: v
        for k, v in _items(dag_runs["store_db"], *wide).items()
        if k.startswith(("rss-", "api-"))
    }
    # [09:00, 10:00): rss-0, rss-1, rss-2 and api-1; the backfill of [08:00, 09:00) adds
    # rss-3, rss-4 and api-2; rss-5 (10:20) belongs to an interval that never ran
    assert set(fed) == FEED_IDS
    # the repeated run of [09:00, 10:00) counted nothing twice: each hour's window grew by
    # exactly the novel feed items published in it
    for hour, ids in ((HOUR, {"rss-0", "rss-1", "rss-2", "api-1"}),
                      (HOUR - timedelta(hours=1), {"rss-3", "rss-4", "api-2"})):  # fmt: skip
        grown = _hour_count(dag_runs["store_db"], hour) - _hour_count(dag_runs["before_db"], hour)
        assert grown == sum(fed[i] for i in ids) >= 3
    store = open_store(str(dag_runs["store_db"]))
    try:
        (msft,) = [
            i for i in store.items_between(HOUR, HOUR + timedelta(hours=1)) if i.id == "rss-1"
        ]
    finally:
        store.close()
    assert msft.scores.sentiment == "negative" and "MSFT" in msft.tickers  # the real model
    assert msft.model.startswith("finsentry")


def test_daily_report_catches_up_complete_days_once(dag_runs: dict[str, Any], smtp_inbox) -> None:
    from finsentry.app.reports import build_report

    results = dag_runs["results"]
    for name in ("report", "report_again", "report_manual"):
        assert results[name]["state"] == "success", (name, dag_runs["output"][-4000:])
    reports = dag_runs["work"] / "reports"
    complete, start = (START - timedelta(days=1)).date(), (START - timedelta(days=2)).date()
    # the scheduled run reported every complete day from the start date (03-01 had no news); the
    # next one found nothing left; the manual run reported the day it was given (not complete)
    for day in (start, complete, START.date()):
        assert (reports / f"finsentry-report-{day.isoformat()}.html").exists(), day
        charts = len(list(reports.glob(f"finsentry-report-{day.isoformat()}.*.png")))
        assert charts == (1 if day == start else 3), (day, charts)  # no news: the volume chart
    assert len(list(reports.glob("finsentry-report-*.html"))) == 3
    _, inbox = smtp_inbox
    subjects = sorted(m["Subject"] for m in inbox if m["To"] == "desk@example.com")
    assert len(subjects) == 3  # each day once: the second scheduled run sent nothing
    for day in (start, complete, START.date()):
        assert sum(day.isoformat() in subject for subject in subjects) == 1, subjects
    store = open_store(str(dag_runs["store_db"]))
    try:
        assert store.get_state("airflow_days_reported")["last_day"] == complete.isoformat()
    finally:
        store.close()
    text = (reports / f"finsentry-report-{START.date().isoformat()}.html").read_text("utf-8")
    assert f"finsentry daily report: {START.date().isoformat()}" in text and 'id="movers"' in text
    store = open_store(str(dag_runs["before_db"]))  # the reports ran before the ingest runs
    try:
        expected = build_report(store, START.date(), (3600,))
    finally:
        store.close()
    assert expected.total.items > 100
    assert f">{expected.total.items:,}</td>" in text


def test_ingest_announces_complete_days_as_asset_events(dag_runs: dict[str, Any]) -> None:
    first, again = dag_runs["results"]["ingest"], dag_runs["results"]["ingest_again"]
    complete = (START - timedelta(days=1)).date().isoformat()
    assert first["tasks"]["find_complete_days"] == "success"
    assert first["tasks"]["announce_days"] == "success", first
    assert first["tasks"]["announce_week"] == "skipped"  # 03-02 is a Monday
    (event,) = first["asset_events"]
    assert event["uri"] == DAY_COMPLETE and event["extra"]["days"] == [complete]
    assert event["extra"]["watermark"].startswith(START.date().isoformat())
    # the same hour again: nothing new completed, so no event
    assert again["tasks"]["announce_days"] == again["tasks"]["announce_week"] == "skipped"
    assert again["asset_events"] == []


def test_model_eval_stores_metrics_and_fails_on_a_drop(
    dag_runs: dict[str, Any], smtp_inbox
) -> None:
    ok, drop = dag_runs["results"]["eval"], dag_runs["results"]["eval_drop"]
    assert ok["state"] == "success" and ok["tasks"] == {
        "evaluate": "success", "check_accuracy": "success"
    }, dag_runs["output"][-4000:]  # fmt: skip
    assert drop["state"] == "failed" and drop["tasks"]["evaluate"] == "success"
    assert drop["tasks"]["check_accuracy"] == "failed"
    store = open_store(str(dag_runs["store_db"]))
    try:
        history = store.get_state("model_eval")
    finally:
        store.close()
    assert [e["date"] for e in history] == ["2026-03-09", "2026-03-16"]
    nodata = dag_runs["results"]["eval_nodata"]  # a data error fails at once, no retry
    assert nodata["state"] == "failed" and nodata["tasks"]["check_accuracy"] == "failed"
    assert nodata["tries"]["check_accuracy"] == 1, nodata
    first, second = (e["accuracy"]["sentiment"] for e in history)
    assert first - second > 0.02 and all(e["examples"] == len(LABELLED) for e in history)
    assert all(0.0 <= e["ece"]["sentiment"] <= 1.0 for e in history)  # calibration kept too
    assert (dag_runs["work"] / "eval" / "model-eval-2026-03-09.json").exists()
    _, inbox = smtp_inbox
    # the same recipients also get the alert e-mail the finsentry_outbox run drains
    alerts = [m for m in inbox if m["To"] == "models@example.com" and "ACME" not in m["Subject"]]
    assert len(alerts) == 1 and "accuracy dropped" in alerts[0]["Subject"]


def test_retention_deletes_old_raw_items_only(dag_runs: dict[str, Any]) -> None:
    result = dag_runs["results"]["retention"]
    assert result["state"] == "success", dag_runs["output"][-4000:]
    cutoff = datetime.fromisoformat(result["interval"][1]) - timedelta(days=1)
    wide = (START - timedelta(days=2), START + timedelta(days=2))
    before = set(_items(dag_runs["before_db"], *wide))
    old = set(_items(dag_runs["before_db"], wide[0], cutoff))
    after = set(_items(dag_runs["store_db"], *wide))
    assert old and after == (before - old) | FEED_IDS
    day_before = START - timedelta(days=1)
    assert (
        _hour_count(dag_runs["store_db"], day_before)
        == _hour_count(dag_runs["before_db"], day_before)
        > 0
    )
    print(f"all DAG runs took {dag_runs['seconds']:.0f}s")


# -- the store and SMTP from Airflow Connections -----------------------------------------------

# characters that must be URL-quoted in a DSN; the test cluster trusts loopback, so the password
# is a marker here (login, host, port and database are what reach PostgreSQL)
STORE_PASSWORD = "pg-S3cret/9f1c@x:y"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def connection_runs(
    airflow_env: dict[str, str],
    feed_server: tuple[str, list[str]],
    postgres_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """The ingest and the daily report under ``dag.test()`` with the store and SMTP given only as
    Airflow Connections: ``AIRFLOW_CONN_FINSENTRY_STORE`` (JSON form) naming a PostgreSQL database
    that starts with the two simulated days, ``AIRFLOW_CONN_FINSENTRY_SMTP`` (URI form) naming an
    SMTP server that requires a login. Decoys show that the Connections win: the Variable
    ``finsentry_db`` names a SQLite file, and the workers' FINSENTRY_SMTP_* a closed port. Then
    ``airflow tasks render`` of both tasks, and the rendered fields Airflow stored for them."""
    from urllib.parse import urlsplit

    from tests.integration.test_email import PASSWORD, USER, Inbox, start

    work = tmp_path_factory.mktemp("dag-connections")
    base_url, _ = feed_server
    dsn = postgres_server.create_database()
    settings = Settings(db=dsn)
    pipe = Pipeline.from_settings(settings, store=open_store(dsn), scorer=LexiconScorer())
    try:
        run_files([simulated_days(work / "news.jsonl")], settings, pipeline=pipe)
    finally:
        pipe.close()
    before = {h: _hour_count_at(dsn, h) for h in (HOUR,)}
    parts = urlsplit(dsn)
    store_conn = {
        "conn_type": "postgres", "host": parts.hostname, "port": parts.port,
        "login": parts.username, "password": STORE_PASSWORD, "schema": parts.path.lstrip("/"),
    }  # fmt: skip
    variables = {
        "finsentry_python": sys.executable,
        "finsentry_db": str(work / "decoy.db"),
        "finsentry_feeds": f"{base_url}/feed.xml",
        "finsentry_json_urls": json.dumps([f"{base_url}/news.json"]),
        "finsentry_ingest_lookback_h": "0",
        "finsentry_report_dir": str(work / "reports"),
        "finsentry_report_to": "desk@example.com",
    }
    (work / "variables.json").write_text(json.dumps(variables), encoding="utf-8")
    plan = [
        {"name": "ingest", "dag_id": "finsentry_ingest",
         "logical_date": (HOUR + timedelta(hours=1)).isoformat()},
        {"name": "report", "dag_id": "finsentry_daily_report",
         "logical_date": (START + timedelta(days=1)).isoformat()},
    ]  # fmt: skip
    for run in plan:
        run["variables"] = str(work / "variables.json")
    (work / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    inbox = Inbox()
    controller = start(inbox, auth_require_tls=False)
    try:
        env = {
            **airflow_env,
            "AIRFLOW_CONN_FINSENTRY_STORE": json.dumps(store_conn),
            "AIRFLOW_CONN_FINSENTRY_SMTP": (
                f"smtp://{USER}:{PASSWORD}@127.0.0.1:{controller.port}"
                "?from_email=airflow%40finsentry.example&security=none"
            ),
            "FINSENTRY_SMTP_HOST": "127.0.0.1",
            "FINSENTRY_SMTP_PORT": str(_closed_port()),
            "FINSENTRY_SMTP_SECURITY": "none",
            "FINSENTRY_MAIL_FROM": "worker@example.com",
            "FINSENTRY_AIRFLOW_START_DATE": (START - timedelta(days=1)).date().isoformat(),
        }
        output = _run_airflow(env, DAG_TEST, str(ROOT / "dags"), str(work / "plan.json"))
        results = {r["name"]: r for r in _results(output)}
        assert set(results) == {"ingest", "report"}, output[-6000:]
        # the render is a process of its own: the Variables come as AIRFLOW_VAR_* there
        render_env = {**env, **{f"AIRFLOW_VAR_{k.upper()}": v for k, v in variables.items()}}
        renders = {}
        for name, task_id in (("ingest", "pull_feeds"), ("report", "build_and_send")):
            run = results[name]
            proc = subprocess.run(
                [str(AIRFLOW_PYTHON), "-m", "airflow", "tasks", "render",
                 plan[0 if name == "ingest" else 1]["dag_id"], task_id, run["run_id"]],
                env=render_env, capture_output=True, text=True, timeout=600, cwd=str(ROOT),
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            renders[task_id] = proc.stdout + proc.stderr
    finally:
        controller.stop()
    import sqlite3

    with contextlib.closing(
        sqlite3.connect(Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db")
    ) as db:
        rendered = {
            f"{dag_id}.{task_id}": fields
            for dag_id, task_id, fields in db.execute(
                "SELECT dag_id, task_id, rendered_fields FROM rendered_task_instance_fields "
                "WHERE run_id IN (?, ?)",
                (results["ingest"]["run_id"], results["report"]["run_id"]),
            )
        }
    yield {
        "results": results, "output": output, "renders": renders, "rendered": rendered,
        "dsn": dsn, "work": work, "inbox": inbox, "before": before,
        "secrets": (STORE_PASSWORD, quote(STORE_PASSWORD, safe=""), PASSWORD),
        "login": (USER.encode(), PASSWORD.encode()),
    }  # fmt: skip


def _hour_count_at(db: str, hour: datetime) -> int:
    store = open_store(db)
    try:
        return sum(
            w.count
            for w in store.window_stats(3600, hour, hour + timedelta(hours=1), ScopeKind.ALL)
        )
    finally:
        store.close()


@pytest.mark.postgres
def test_store_connection_is_used_and_its_password_never_shown(
    connection_runs: dict[str, Any],
) -> None:
    runs = connection_runs
    ingest = runs["results"]["ingest"]
    assert ingest["state"] == "success", runs["output"][-4000:]
    # the DAG wrote to the Connection's PostgreSQL database, not to the Variable's SQLite file
    store = open_store(runs["dsn"])
    try:
        fed = {i.id for i in store.items_between(HOUR, HOUR + timedelta(hours=1))}
    finally:
        store.close()
    assert {"rss-0", "rss-1", "rss-2", "api-1"} <= fed
    assert _hour_count_at(runs["dsn"], HOUR) > runs["before"][HOUR]
    assert not (runs["work"] / "decoy.db").exists()
    # what Airflow shows of the tasks: the rendered templates are there, the secrets are not
    assert "/feed.xml" in runs["renders"]["pull_feeds"], runs["renders"]["pull_feeds"]
    assert HOUR.isoformat()[:19] in runs["renders"]["pull_feeds"]  # the interval's start
    assert "desk@example.com" in runs["renders"]["build_and_send"], runs["renders"]
    assert set(runs["rendered"]) >= {
        "finsentry_ingest.pull_feeds", "finsentry_daily_report.build_and_send"
    }  # fmt: skip
    assert "/feed.xml" in runs["rendered"]["finsentry_ingest.pull_feeds"]
    for secret in runs["secrets"]:
        assert secret not in runs["output"], "a password is in the task logs"
        for task_id, text in runs["renders"].items():
            assert secret not in text, f"a password is in `airflow tasks render` of {task_id}"
        for key, fields in runs["rendered"].items():
            assert secret not in fields, f"a password is in the rendered fields of {key}"


@pytest.mark.postgres
def test_smtp_connection_sends_the_report(connection_runs: dict[str, Any]) -> None:
    runs = connection_runs
    report = runs["results"]["report"]
    assert report["state"] == "success", runs["output"][-4000:]
    complete = (START - timedelta(days=1)).date().isoformat()
    # the Connection's server, login and sender; the workers' FINSENTRY_SMTP_PORT is closed
    assert runs["inbox"].logins == [runs["login"]]
    ((rcpts, raw),) = runs["inbox"].messages
    mail = message_from_bytes(raw)
    assert rcpts == ["desk@example.com"] and complete in mail["Subject"]
    assert mail["From"] == "airflow@finsentry.example"
    assert (runs["work"] / "reports" / f"finsentry-report-{complete}.html").exists()
