"""The daily report worth opening: previous-day values, what changed, alerts by scope, footer,
the no-data hint, a complete text part, `--email` without SMTP; numbers checked against items."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.app.reports import build_report, render_html, render_plain
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import Alert, Evidence, ScopeKind, ScoredItem
from finsentry.store import open_store
from tests.fixtures.chromium import Rendered
from tests.fixtures.scorers import LexiconScorer
from tests.integration.test_reports import DAY, START, simulated_days

PREV = START - timedelta(days=1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"


def _with_duplicates_and_late(path: Path) -> Path:
    """The two simulated days, plus copies of the previous day's first headlines (duplicates)
    and, at the end of the file, items of the previous day that arrive late."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    prev_rows = [r for r in rows if r["published_at"] < START.isoformat()][:6]
    for k, row in enumerate(prev_rows):
        copy = dict(row, id=f"dup-{k}", source="blog")
        copy["published_at"] = row["published_at"].replace(":00+", ":30+", 1)
        rows.append(copy)
    rows.sort(key=lambda r: r["published_at"])
    for k in range(4):
        rows.append({
            "id": f"late-{k}", "published_at": (PREV + timedelta(hours=12, minutes=k)).isoformat(),
            "source": "wire", "headline": f"TSLA shares tumble after SEC probe, late copy {k} zz{k}q",
            "body": None, "url": None, "tickers": ["TSLA"],
        })  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("report-sections")
    stream = _with_duplicates_and_late(simulated_days(work / "news.jsonl"))
    settings = Settings(db=str(work / "r.db"))
    store = open_store(settings.db)
    pipe = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    try:
        run_files([stream], settings, pipeline=pipe)
        items = store.items_between(START, START + timedelta(days=1), ScopeKind.TICKER, "TSLA")
        evidence = tuple(
            Evidence(i.id, i.item.headline, i.published_at, i.scores.score, i.scores.sentiment,
                     i.item.url) for i in items[:2]
        )  # fmt: skip
        at = START + timedelta(hours=9)
        store.insert_alerts([
            Alert("negative_surge", ScopeKind.TICKER, "TSLA", "negative_share", at,
                  at + timedelta(minutes=5), at, "critical", 0.8, 0.2, evidence),
            Alert("volume_spike", ScopeKind.TICKER, "TSLA", "count", at + timedelta(hours=2),
                  at + timedelta(hours=2, minutes=5), at, "warning", 11.0, 0.3, evidence),
            Alert("volume_spike", ScopeKind.ALL, "*", "count", at, at + timedelta(minutes=5), at,
                  "warning", 30.0, 12.0, ()),
        ])  # fmt: skip
    finally:
        pipe.close()
    return settings.db


def _items(db: str, start: object, days: int = 1) -> list[ScoredItem]:
    store = open_store(db)
    try:
        return store.items_between(start, start + timedelta(days=days), limit=100_000)  # type: ignore[operator, arg-type]
    finally:
        store.close()


def _report(db: str, day: date = DAY):  # type: ignore[no-untyped-def]
    store = open_store(db)
    try:
        return build_report(store, day, (60, 300, 3600))
    finally:
        store.close()


def test_previous_day_values_match_the_items(store_db: str) -> None:
    report = _report(store_db)
    prev = _items(store_db, PREV)
    novel = [i for i in prev if i.novel]
    t = report.total
    assert t.prev_items == len(novel)
    assert t.prev_duplicates == sum(1 for i in prev if not i.novel) == 6
    assert t.prev_late == sum(1 for i in prev if i.late) >= 4
    negative = sum(1 for i in novel if i.scores.sentiment == "negative")
    assert t.prev_negative_share == pytest.approx(negative / len(novel))
    html, text = render_html(report), render_plain(report)
    for label, today, before in (
        ("Duplicates", t.duplicates, t.prev_duplicates),
        ("Late items", t.late, t.prev_late),
    ):
        assert f">{label}</td>" in html and f">{before:,}</td>" in html
        assert any(line.split()[-2:] == [f"{today:,}", f"{before:,}"]
                   for line in text.splitlines() if line.strip().startswith(label))  # fmt: skip
    share = f"{100 * negative / len(novel):.1f} %"
    assert share in html and share in text


def test_what_changed_against_the_previous_day_and_the_week(store_db: str) -> None:
    report = _report(store_db)
    assert report.changes and report.changes[0].kind == "ticker"
    assert report.changes[0].day.scope == "TSLA"  # the ticker that soured
    week = [i for i in _items(store_db, START - timedelta(days=7), 7) if i.novel]
    for change in report.changes:
        if change.kind != "ticker":
            continue
        scores = [i.towards(change.day.scope).score for i in week if change.day.scope in i.tickers]
        assert change.day.week_tone == pytest.approx(sum(scores) / len(scores), abs=1e-6)
        shown = f"{change.day.week_change:+.3f}"
        assert shown in render_plain(report)
    kinds = {c.kind for c in report.changes}
    assert kinds <= {"ticker", "topic"}
    assert all(c.size >= 0.05 for c in report.changes)
    assert 'id="changes"' in render_html(report)


def test_alerts_grouped_by_scope_with_human_titles_and_footer(store_db: str) -> None:
    report = _report(store_db)
    html, text = render_html(report), render_plain(report)
    assert "negative_surge" not in html and "negative_surge" not in text  # no raw rule ids
    assert html.count("<h3") >= 2 and html.index(">TSLA</h3>") < html.index(">all news</h3>")
    assert "negative news surge" in html and "news volume spike" in html
    assert "80 % negative vs 20 % usual" in html and "11 items vs 0.3 usual" in text
    assert "Tue 3 Mar, 09:00-09:05 UTC" in text
    for alert in report.alerts:
        for ev in alert.evidence:
            assert ev.headline in text  # the text part is complete
    models = {i.model for i in _items(store_db, START)}
    assert report.models and {m for m, _ in report.models} == models
    assert sum(n for _, n in report.models) == len(_items(store_db, START))
    for model in models:
        assert model in html and model in text
    assert "r.db" in html and report.generated_at.strftime("%Y-%m-%d %H:%M UTC") in text


def test_a_day_without_data_names_the_days_that_have(store_db: str) -> None:
    report = _report(store_db, date(2026, 3, 9))
    assert report.total.items == 0
    assert report.days_with_data == [PREV.date(), DAY]
    assert "Days with data: 2026-03-02 to 2026-03-03" in render_html(report)
    from finsentry.cli.report import report as report_cmd

    with CliRunner().isolated_filesystem():
        result = CliRunner().invoke(report_cmd, ["--date", "2026-03-09", "--db", store_db])
    assert result.exit_code == 0
    assert "days with data: 2026-03-02 to 2026-03-03" in result.output


def test_email_without_smtp_says_what_to_set(store_db: str, tmp_path: Path) -> None:
    from finsentry.cli.report import report as report_cmd

    result = CliRunner().invoke(
        report_cmd,
        ["--date", DAY.isoformat(), "--db", store_db, "--email", "ops@example.com",
         "--out", str(tmp_path / "r.html")],
        env={"FINSENTRY_SMTP_HOST": ""},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "FINSENTRY_SMTP_HOST" in result.output and "FINSENTRY_SMTP_PORT" in result.output
    assert not (tmp_path / "r.html").exists()  # said before any work


def test_report_renders_in_chromium_within_600_px(
    store_db: str, tmp_path: Path, chromium_render: Callable[[Path], Rendered]
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_report(store_db)), encoding="utf-8")
    rendered = chromium_render(page)
    images = rendered.probe["images"]
    assert len(images) == 3 and all(i["complete"] and i["width"] > 0 for i in images), images
    assert rendered.probe["widest"] <= 600, rendered.probe["widestTag"]
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):  # refresh the pictures of docs/operations.md
        DOCS.mkdir(exist_ok=True)
        shutil.copy(rendered.screenshot, DOCS / "daily-report.png")
