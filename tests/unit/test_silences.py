"""Silences: the CLI (add, list, expire, the mute alias), scope checks, the wall-clock semantics in
the engine (an alert for a past event-time window raised now is silenced while a silence is active
now), and the migration of old mutes."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from finsentry.alerts.engine import AlertEngine
from finsentry.cli import main
from finsentry.schema import AlertStatus
from finsentry.store import open_store
from finsentry.store.base import Silence
from tests.unit.test_alerts_engine import T0, load, settings, stream

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # the wall clock: long after the news
BURST = ("T05", T0 + timedelta(hours=6, minutes=1), 22)


def test_silence_add_list_expire_and_the_mute_alias(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    store = open_store(db)
    load(store, stream(1, 3, None))  # ticker T00 is known to the store, NOPE is not
    store.close()
    runner = CliRunner()
    ok = runner.invoke(main, ["silence", "add", "--db", db, "--scope", "ticker:t00", "--for", "2h",
                              "--comment", "earnings call", "--created-by", "ana"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "warning" not in ok.stderr and "on ticker:T00 until" in ok.stdout
    first = ok.stdout.split()[1].rstrip(":")
    typo = runner.invoke(main, ["mute", "--db", db, "--scope", "ticker:NOPE", "--for", "30m",
                                "--rule", "volume_spike", "--reason", "typo?"])  # fmt: skip
    assert typo.exit_code == 0 and "warning: this store has no news for ticker:NOPE" in typo.stderr
    bad = runner.invoke(
        main, ["silence", "add", "--db", db, "--scope", "tickr:AAPL", "--for", "1h"]
    )
    assert bad.exit_code == 2 and "use ticker:SYMBOL" in bad.stderr
    bad_rule = runner.invoke(main, ["silence", "add", "--db", db, "--scope", "all", "--for", "1h",
                                    "--rule", "nope"])  # fmt: skip
    assert bad_rule.exit_code == 2 and "unknown rule" in bad_rule.stderr

    listed = runner.invoke(main, ["silence", "list", "--db", db, "--json"]).stdout.splitlines()
    rows = [json.loads(line) for line in listed]
    assert [(r["scope_value"], r["state"], r["rule"]) for r in rows] == [
        ("T00", "active", None), ("NOPE", "active", "volume_spike")
    ]  # fmt: skip
    assert rows[0]["created_by"] == "ana" and rows[0]["comment"] == "earnings call"
    assert rows[1]["comment"] == "typo?"

    gone = runner.invoke(main, ["silence", "expire", "--db", db, first[:6]])
    assert gone.exit_code == 0 and f"silence {first} expired" in gone.stdout
    again = runner.invoke(main, ["silence", "expire", "--db", db, first])
    assert again.exit_code == 1 and "already ended" in again.stderr
    active = runner.invoke(main, ["silence", "list", "--db", db]).stdout
    assert "ticker:NOPE" in active and "ticker:T00" not in active
    everything = runner.invoke(main, ["silence", "list", "--db", db, "--all"]).stdout
    assert (
        f"{first}  expired  ticker:T00  all rules" in everything and "earnings call" in everything
    )
    missing = runner.invoke(main, ["silence", "expire", "--db", db, "zzzz"])
    assert missing.exit_code == 1 and "no silence 'zzzz'" in missing.stderr


def _engine_run(tmp_path: Path, name: str, silence: Silence | None) -> tuple[list, list]:
    s = settings(tmp_path, name, webhook_urls="http://127.0.0.1:9/hook")
    store = open_store(s.db)
    load(store, stream(8, 4, BURST))
    if silence is not None:
        store.add_silence(silence)
    alerts = AlertEngine(s, store, clock=lambda: NOW).evaluate(T0 + timedelta(hours=8))
    queued = store.due_notifications(NOW + timedelta(days=1), limit=1000)
    store.close()
    sent = [a["id"] for n in queued for a in n.payload["alerts"]]
    return [a for a in alerts if a.scope_value == "T05"], sent


def test_silences_use_wall_clock_time_and_windows_event_time(tmp_path: Path) -> None:
    """The burst's windows are nine months before NOW; only the silence's wall-clock span counts."""
    hour = timedelta(hours=1)
    active = Silence("a", "ticker", "T05", None, NOW - hour, NOW + hour, "desk knows")
    silenced, sent = _engine_run(tmp_path, "active.db", active)
    assert silenced and all(a.window_end < NOW - timedelta(days=200) for a in silenced)
    assert all(a.status == AlertStatus.SILENCED for a in silenced)
    assert not set(sent) & {a.id for a in silenced}

    expired = Silence("e", "ticker", "T05", None, NOW - 2 * hour, NOW + hour, "", "", None,
                      NOW - hour)  # fmt: skip
    pending = Silence("p", "ticker", "T05", None, NOW + hour, NOW + 2 * hour, "later")
    other_rule = Silence("r", "ticker", "T05", "tone_shift_never", NOW - hour, NOW + hour)
    # a silence over the burst's event time but ended on the wall clock covers nothing
    event_time = Silence("t", "ticker", "T05", None, T0, T0 + timedelta(days=1))
    for name, entry in [("x", expired), ("p", pending), ("r", other_rule), ("t", event_time)]:
        fired, sent = _engine_run(tmp_path, f"{name}.db", entry)
        assert [a.id for a in fired] == [a.id for a in silenced], name
        assert all(a.status != AlertStatus.SILENCED for a in fired), name
        assert {a.id for a in fired} & set(sent), name


def test_old_mutes_become_silences(tmp_path: Path) -> None:
    from finsentry.store.migration import migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_version "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for m in migrations("sqlite")[:2]:
        conn.executescript(m.sql)
        conn.execute(
            "INSERT INTO schema_version VALUES (?, ?, '2026-01-01T00:00:00+00:00')",
            (m.version, m.name),
        )
    until = "2099-01-01T00:00:00.000000+00:00"
    conn.execute(
        "INSERT INTO mutes (scope_kind, scope_value, rule, until, reason) "
        "VALUES ('ticker', 'ACME', NULL, ?, 'merger')",
        (until,),
    )
    conn.commit()
    conn.close()
    store = open_store(str(path))
    (entry,) = store.silences()
    assert (entry.id, entry.scope_value, entry.rule, entry.comment) == (
        "mute-1",
        "ACME",
        None,
        "merger",
    )
    assert entry.ends_at == datetime(2099, 1, 1, tzinfo=UTC)
    assert store.is_muted("ticker", "ACME", "volume_spike", datetime.now(UTC))
    store.close()
