from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from finsentry.cli.db import db, parse_since
from finsentry.inert import redact_dsn
from finsentry.schema import DeadLetter, ScoredItem, utc_now
from finsentry.store.base import BatchWrite
from finsentry.store.sqlite import SQLiteStore
from tests.unit.test_store_sqlite import scored


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(db, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_upgrade_stats_retention_reaggregate(tmp_path: Path) -> None:
    path = str(tmp_path / "cli.db")
    assert "upgraded from 0" in run("upgrade", "--db", path)
    assert "up to date" in run("upgrade", "--db", path)
    store = SQLiteStore(path)
    now = utc_now()

    def at(i: int, item_id: str, published: datetime) -> ScoredItem:
        s = scored(i)
        return replace(s, item=replace(s.item, id=item_id, published_at=published))

    old = [at(i, f"old{i}", now - timedelta(days=10)) for i in range(3)]
    fresh = [at(i, f"new{i}", now - timedelta(hours=1)) for i in range(3)]
    letters = [
        DeadLetter(f"x{n}".encode(), "bad_json", "bad", "file", "in.jsonl", n, now - timedelta(days=n))
        for n in (1, 9, 12)
    ]
    store.write_batch(BatchWrite(old + fresh, letters, (60, 3600)))
    windows_before = store.counts()["windows"]
    stats = json.loads(run("stats", "--json", env={"FINSENTRY_DB": path}))
    assert stats["items"] == 6 and stats["backend"] == "sqlite" and stats["schema_version"] >= 1
    assert datetime.fromisoformat(stats["first_item"]) < datetime.fromisoformat(stats["last_item"])

    out = run("retention", "--keep-days", "7", "--db", path)
    assert "deleted 3 raw items" in out and "and 2 dead letters received before then" in out
    assert store.counts()["items"] == 3 and store.counts()["windows"] == windows_before
    assert [d.raw for d in store.dead_letters()] == [b"x1"]

    out = run("reaggregate", "--since", "2d", "--window-sizes", "60,3600", "--db", path)
    assert "re-aggregate: 3 items" in out and "rebuilt " in out  # the progress bar, then the sum
    quiet = run("reaggregate", "--since", "2d", "--window-sizes", "60,3600", "--db", path, "--quiet")
    assert quiet.startswith("rebuilt ")
    refused = CliRunner().invoke(db, ["reaggregate", "--since", "30d", "--db", path])
    assert refused.exit_code != 0 and "retention" in refused.output
    store.close()


def test_parse_since() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_since("6h", now) == now - timedelta(hours=6)
    assert parse_since("2026-04-01", now) == datetime(2026, 4, 1, tzinfo=UTC)
    assert parse_since("2026-04-01T10:00:00+02:00", now) == datetime(2026, 4, 1, 8, tzinfo=UTC)
    assert parse_since("2026-04-01T10:00:00Z", now) == datetime(2026, 4, 1, 10, tzinfo=UTC)
    for bad in ("yesterday", "2026-04-01T10:00:00"):
        with pytest.raises(click.BadParameter):
            parse_since(bad, now)


def test_safe_url_hides_passwords() -> None:
    assert redact_dsn("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert "s3cret" not in redact_dsn("host=h user=u password=s3cret")
    assert redact_dsn("/tmp/x.db") == "/tmp/x.db"


@pytest.mark.parametrize(
    "args",
    [
        ["alerts"],
        ["alerts", "--json"],
        ["report", "--date", "2026-03-02"],
        ["db", "stats"],
        ["grafana", "provision", "--url", "http://127.0.0.1:9"],
    ],
)
def test_read_only_commands_never_create_a_store(tmp_path: Path, args: list[str]) -> None:
    """A typo in --db is a one-line error with exit status 2, not a new empty store."""
    from finsentry.cli import main

    missing = tmp_path / "no" / "such" / "dir" / "typo.db"
    result = CliRunner().invoke(main, [*args, "--db", str(missing)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert f"no finsentry store at {missing}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()
