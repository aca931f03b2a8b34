"""``finsentry alerts`` / ``mute`` and the backtest on a small labelled stream (lexicon scorer)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from finsentry.app.backtest import format_backtest, run_backtest
from finsentry.cli import main
from finsentry.cli.alerts import parse_duration, parse_scope, parse_since
from finsentry.config import Settings
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "META", "JPM", "XOM", "PFE", "KO"]
CALM = ["{t} holds annual shareholder meeting", "{t} publishes sustainability report",
        "{t} names new board member", "{t} shares trade flat in quiet session"]  # fmt: skip
BAD = ["{t} shares plunge after fraud probe", "{t} slumps as regulator opens investigation",
       "{t} tumbles on profit warning", "{t} faces lawsuit, shares sink"]  # fmt: skip


FILLER = ("alpha beta gamma delta harbor orbit canyon meadow lantern copper velvet summit "
          "prairie glacier quartz ember willow falcon cobalt marble tundra saffron nimbus ridge "
          "beacon cedar dune fjord grove hollow island jasper kettle lagoon mesa north opal pebble "
          "quarry river spruce thicket upland valley wharf yarrow zephyr acorn birch crest").split()  # fmt: skip


def vary(rng: random.Random, text: str) -> str:
    return f"{text}: {' '.join(rng.sample(FILLER, 5))}"


def labelled_stream(path: Path, hours: int, incident_at: float | None) -> dict[str, object]:
    rng = random.Random(42)
    rows, t, n = [], T0, 0
    while t < T0 + timedelta(hours=hours):
        t += timedelta(seconds=rng.expovariate(60 / 3600))
        ticker = rng.choice(TICKERS)
        headline = vary(rng, rng.choice(CALM).format(t=ticker))
        rows.append((t, ticker, headline))
        n += 1
    incidents = []
    if incident_at is not None:
        start = T0 + timedelta(hours=incident_at)
        for _ in range(20):
            at = start + timedelta(seconds=rng.uniform(0, 900))
            rows.append((at, "TSLA", vary(rng, rng.choice(BAD).format(t="TSLA"))))
        incidents.append({"id": "inc-1", "kind": "negative_burst", "scope_value": "TSLA",
                          "start": start.isoformat(),
                          "end": (start + timedelta(minutes=15)).isoformat()})  # fmt: skip
    rows.sort()
    with path.open("w") as fh:
        for i, (at, ticker, headline) in enumerate(rows):
            fh.write(json.dumps({"id": f"n{i}", "published_at": at.isoformat(), "source": "wire",
                                 "headline": headline, "body": None,
                                 "url": f"https://news.example/{i}", "tickers": [ticker]}) + "\n")  # fmt: skip
    truth = {"incidents": incidents}
    Path(f"{path}.truth.json").write_text(json.dumps(truth))
    return truth


def test_parsers() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_scope("ticker:aapl") == ("ticker", "AAPL")
    assert parse_scope("all") == ("all", "*")
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("2026-01-01T10:00:00+00:00", now) == now - timedelta(hours=2)
    for bad in ("2 parsecs", "forever"):
        with pytest.raises(click.BadParameter):
            parse_duration(bad)
    with pytest.raises(click.BadParameter):
        parse_scope("planet:MARS")


def test_alerts_json_and_mute(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    store = open_store(db)
    ev = Evidence("n1", "ACME plunges", T0, -0.8, "negative", "https://x/1")
    alerts = [
        Alert("volume_spike", ScopeKind.TICKER, "ACME", "count", T0 + timedelta(minutes=5 * i),
              T0 + timedelta(minutes=5 * i + 5), T0 + timedelta(hours=1), "warning", 12.0, 1.0, (ev,))
        for i in range(3)
    ]  # fmt: skip
    store.insert_alerts(alerts)
    store.close()
    runner = CliRunner()
    out = runner.invoke(main, ["alerts", "--db", db, "--json"], catch_exceptions=False).output
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["id"] for x in lines] == [a.id for a in alerts]
    assert lines[0] == alerts[0].to_json()
    since = (T0 + timedelta(minutes=5)).isoformat()
    out = runner.invoke(main, ["alerts", "--db", db, "--json", "--since", since]).output
    assert len(out.splitlines()) == 2
    text = runner.invoke(main, ["alerts", "--db", db]).output
    assert "ACME: news volume spike" in text and "ACME plunges" in text

    result = runner.invoke(main, ["mute", "--db", db, "--scope", "ticker:acme", "--for", "2h",
                                  "--rule", "volume_spike", "--reason", "known"])  # fmt: skip
    assert result.exit_code == 0, result.output
    store = open_store(db)
    now = datetime.now(UTC)
    assert store.is_muted("ticker", "ACME", "volume_spike", now + timedelta(minutes=100))
    assert not store.is_muted("ticker", "ACME", "volume_spike", now + timedelta(minutes=130))
    assert not store.is_muted("ticker", "ACME", "negative_surge", now)
    store.close()
    bad = runner.invoke(main, ["mute", "--db", db, "--scope", "ticker:X", "--for", "1h",
                               "--rule", "nope"])  # fmt: skip
    assert bad.exit_code != 0 and "unknown rule" in bad.output


def test_backtest_finds_the_incident_and_reports(tmp_path: Path) -> None:
    stream = tmp_path / "labelled.jsonl"
    truth = labelled_stream(stream, 10, incident_at=7.05)
    settings = Settings(db=str(tmp_path / "unused.db"), webhook_urls="http://127.0.0.1:9/x")  # type: ignore[arg-type]
    result = run_backtest(stream, truth, settings, scorer=LexiconScorer())
    assert result.match.recall == 1.0, format_backtest(result)
    inc = result.match.incidents[0]
    assert inc.delay_s is not None and inc.delay_s <= 2 * 300 + 900
    assert result.match.false_alerts == 0, [a.to_json() for a in result.alerts]
    data = result.to_json()
    assert data["recall"] == 1.0 and data["incidents"][0]["delay_windows"] > 0
    assert "recall 100%" in format_backtest(result)
    assert not (tmp_path / "unused.db").exists()  # a temporary store was used


def test_backtest_on_a_quiet_stream_counts_false_alerts(tmp_path: Path) -> None:
    stream = tmp_path / "quiet.jsonl"
    truth = labelled_stream(stream, 8, incident_at=None)
    db = str(tmp_path / "kept.db")
    result = run_backtest(stream, truth, Settings(db=db), db=db, scorer=LexiconScorer())
    assert result.match.incidents == [] and result.match.false_alerts == 0
    assert result.alerts == []
    assert result.items > 400
    with pytest.raises(ValueError, match="not empty"):
        run_backtest(stream, truth, Settings(db=db), db=db, scorer=LexiconScorer())
