from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner

from finsentry.app.headlines import load_topics
from finsentry.app.simulate import SimulationResult, rate_factor, simulate
from finsentry.cli.simulate import simulate as simulate_cmd
from finsentry.config import Settings
from finsentry.dedup import Deduplicator
from finsentry.entities import EntityTagger
from finsentry.schema import NewsItem
from finsentry.sources.files import FileSource
from finsentry.sources.validate import parse_records
from finsentry.store.base import Store

HOURS = 24


class NoStore:
    def stored_marks(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[str, str, datetime, bool, str | None]]:
        return []


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationResult, list[NewsItem]]:
    out = tmp_path_factory.mktemp("sim") / "news.jsonl"
    result = simulate(out, hours=HOURS, seed=3, incidents=3)
    records = [r for batch in FileSource([out]).batches() for r in batch]
    items, dead = parse_records(records, Settings(), datetime.now(UTC))
    assert dead == [], [d.reason for d in dead[:3]]
    return result, items


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = simulate(tmp_path / "a.jsonl", hours=6, seed=5, incidents=1)
    b = simulate(tmp_path / "b.jsonl", hours=6, seed=5, incidents=1)
    c = simulate(tmp_path / "c.jsonl", hours=6, seed=6, incidents=1)
    assert a.out.read_bytes() == b.out.read_bytes()
    assert a.truth_path.read_text() == b.truth_path.read_text()
    assert a.out.read_bytes() != c.out.read_bytes()


def test_every_line_is_a_valid_item_in_the_input_format(
    run: tuple[SimulationResult, list[NewsItem]],
) -> None:
    result, items = run
    assert len(items) == result.items
    lines = result.out.read_text(encoding="utf-8").splitlines()
    allowed = {"id", "published_at", "source", "headline", "body", "url", "tickers", "lang"}
    for line in lines:
        record = json.loads(line)
        assert {"id", "published_at", "source", "headline"} <= set(record) <= allowed
    assert len({i.id for i in items}) == len(items)
    assert all(result.start <= i.published_at < result.end for i in items)


def test_volume_and_daily_rhythm(run: tuple[SimulationResult, list[NewsItem]]) -> None:
    result, items = run
    per_hour = len(items) / HOURS
    assert 60 <= per_hour <= 130
    hours = Counter(i.published_at.hour for i in items)
    night = sum(hours[h] for h in range(0, 5))
    afternoon = sum(hours[h] for h in range(12, 17))
    assert afternoon > 2 * night
    assert rate_factor(datetime(2026, 1, 10, 14, tzinfo=UTC)) < rate_factor(
        datetime(2026, 1, 9, 14, tzinfo=UTC)
    )  # a Saturday is quieter than a Friday


def test_many_tickers_topics_and_ways_of_naming_them(
    run: tuple[SimulationResult, list[NewsItem]],
) -> None:
    result, items = run
    tags = EntityTagger().tag(items)
    tickers = Counter(t for ts in tags for t in ts)
    assert len(tickers) >= 100
    assert 0.2 < sum(1 for ts in tags if not ts) / len(items) < 0.6  # market-wide news too
    raw = [json.loads(line) for line in result.out.read_text(encoding="utf-8").splitlines()]
    assert sum(bool(r.get("tickers")) for r in raw) > 100
    assert sum("$" in r["headline"] and "tickers" not in r for r in raw) > 20
    assert sum("(NASDAQ:" in r["headline"] for r in raw) > 5
    named_only = sum(1 for r, ts in zip(raw, tags, strict=True) if ts and not r.get("tickers"))
    assert named_only > 300
    assert len({r["source"] for r in raw}) >= 8
    assert {r["published_at"][-6:] for r in raw} >= {"+00:00", "-05:00", "+01:00"}
    assert len(load_topics()) == 20


def test_syndicated_copies_are_found_by_the_deduplicator(
    run: tuple[SimulationResult, list[NewsItem]],
) -> None:
    result, items = run
    tags = EntityTagger().tag(items)
    marks = Deduplicator(cast(Store, NoStore()), timedelta(hours=24)).mark(items, tags)
    duplicates = sum(not m.novel for m in marks)
    assert result.duplicates > 20
    assert result.duplicates <= duplicates < 0.2 * len(items)
    incident_ids = {i for inc in result.incidents for i in inc.item_ids}
    by_id = {item.id: (ts, m) for item, ts, m in zip(items, tags, marks, strict=True)}
    for incident in result.incidents:
        for item_id in incident.item_ids:
            found, mark = by_id[item_id]
            assert incident.scope_value in found
            assert mark.novel, item_id
    assert incident_ids


def test_truth_describes_the_incidents(run: tuple[SimulationResult, list[NewsItem]]) -> None:
    result, items = run
    truth: dict[str, Any] = json.loads(result.truth_path.read_text())
    assert truth["seed"] == 3 and truth["hours"] == HOURS
    assert datetime.fromisoformat(truth["start"]) == result.start
    incidents = truth["incidents"]
    assert [i["kind"] for i in incidents] == ["negative_burst", "volume_spike", "negative_burst"]
    assert len({i["scope_value"] for i in incidents}) == 3
    warm_up_end = result.start + timedelta(hours=0.4 * HOURS)
    by_id = {item.id: item for item in items}
    for incident in incidents:
        assert incident["scope_kind"] == "ticker"
        start = datetime.fromisoformat(incident["start"])
        end = datetime.fromisoformat(incident["end"])
        assert warm_up_end <= start < end <= result.end
        members = [by_id[i] for i in incident["item_ids"]]
        assert all(start <= m.published_at <= end for m in members)
        minutes = (end - start).total_seconds() / 60
        if incident["kind"] == "negative_burst":
            assert 15 <= len(members) <= 30 and 10 <= minutes <= 20
        else:
            assert 20 <= len(members) <= 36 and 15 <= minutes <= 30
    # The incident tickers are otherwise quiet: a burst is many times their usual rate.
    tags = EntityTagger().tag(items)
    incident_ids = {i for inc in incidents for i in inc["item_ids"]}
    for incident in incidents:
        usual = sum(
            1
            for item, ts in zip(items, tags, strict=True)
            if incident["scope_value"] in ts and item.id not in incident_ids
        )
        assert usual / HOURS < 3


def test_quiet_stream_has_no_incidents(tmp_path: Path) -> None:
    result = simulate(tmp_path / "quiet.jsonl", hours=6, seed=2, incidents=0)
    truth = json.loads(result.truth_path.read_text())
    assert truth["incidents"] == [] and result.incidents == ()
    assert result.items > 200


def test_bad_arguments_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="future"):
        simulate(tmp_path / "f.jsonl", hours=2, start=datetime.now(UTC))
    with pytest.raises(ValueError, match="do not fit"):
        simulate(tmp_path / "f.jsonl", hours=3, incidents=5)
    with pytest.raises(ValueError, match="UTC offset"):
        simulate(tmp_path / "f.jsonl", hours=2, start=datetime(2026, 1, 1))  # noqa: DTZ001


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(
        simulate_cmd,
        [
            "--out",
            str(out),
            "--hours",
            "6",
            "--seed",
            "4",
            "--incidents",
            "1",
            "--start",
            "2026-02-02T00:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "negative_burst" in result.output and "truth" in result.output
    truth = json.loads(Path(f"{out}.truth.json").read_text())
    assert truth["start"] == "2026-02-02T00:00:00+00:00"
    quiet = CliRunner().invoke(
        simulate_cmd, ["--out", str(out), "--hours", "2", "--quiet", "--incidents", "0"]
    )
    assert quiet.exit_code == 0 and quiet.output == ""
    bad = CliRunner().invoke(simulate_cmd, ["--out", str(out), "--start", "2026-02-02"])
    assert bad.exit_code != 0 and "offset" in bad.output
    env = CliRunner().invoke(
        simulate_cmd,
        [],
        env={
            "FINSENTRY_SIMULATE_OUT": str(out),
            "FINSENTRY_SIMULATE_HOURS": "2",
            "FINSENTRY_SIMULATE_INCIDENTS": "0",
        },
    )
    assert env.exit_code == 0, env.output
    assert "--out" in CliRunner().invoke(simulate_cmd, ["--help"]).output


def test_hard_profile_plants_every_kind_where_it_belongs(tmp_path: Path) -> None:
    result = simulate(tmp_path / "hard.jsonl", hours=48, seed=4, incidents=5, profile="hard")
    by_kind: dict[str, list[Any]] = {}
    for incident in result.incidents:
        by_kind.setdefault(incident.kind, []).append(incident)
    assert set(by_kind) == {
        "sustained_burst", "cold_start", "quiet_hour", "two_tickers", "negative_shift",
    }  # fmt: skip
    assert all(len(i.item_ids) >= 10 for i in result.incidents)
    (cold,) = by_kind["cold_start"]
    assert timedelta(hours=1.5) <= cold.start - result.start <= timedelta(hours=3)
    (quiet,) = by_kind["quiet_hour"]
    assert 1 <= quiet.start.hour < 5
    (burst,) = by_kind["sustained_burst"]
    assert burst.end - burst.start >= timedelta(minutes=25)
    a, b = by_kind["two_tickers"]  # one story, one incident per ticker, the same items
    assert a.scope_value != b.scope_value and a.item_ids == b.item_ids
    records = {
        r["id"]: r for r in map(json.loads, result.out.read_text(encoding="utf-8").splitlines())
    }
    (shift,) = by_kind["negative_shift"]
    truth = json.loads(result.truth_path.read_text(encoding="utf-8"))
    assert truth["profile"] == "hard"
    ids = set(shift.item_ids)
    for record in records.values():  # its ordinary items in that time were replaced
        at = datetime.fromisoformat(record["published_at"].replace("Z", "+00:00"))
        if shift.start <= at < shift.end and shift.scope_value in record.get("tickers", ()):
            assert record["id"] in ids, record
    with pytest.raises(ValueError, match="unknown profile"):
        simulate(tmp_path / "x.jsonl", hours=48, seed=4, incidents=1, profile="easy")
