"""The daily report: numbers against the store, sections, charts, Chromium rendering, e-mail."""

from __future__ import annotations

import json
import random
import socket
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.app.reports import build_report, email_message, render_html, write_report
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer

DAY = date(2026, 3, 3)
START = datetime(2026, 3, 3, tzinfo=UTC)
TICKERS = ("AAPL", "MSFT", "NVDA", "TSLA", "JPM", "AMZN")
GOOD = ("{t} beats estimates as quarter revenue surges", "Analyst upgrades {t} on record growth")
BAD = ("{t} shares tumble after SEC probe", "{t} misses earnings, cuts outlook")
FLAT = ("{t} to hold annual meeting in May", "{t} names new board member")
SYLLABLES = ("ka", "lo", "mer", "tin", "vas", "qui", "dor", "pel", "sun", "rad", "fey", "bo")


def _detail(rng: random.Random) -> str:
    """A few made-up words so that headlines are distinct (not near-duplicates)."""
    words = ("".join(rng.choice(SYLLABLES) for _ in range(3)) for _ in range(5))
    return " ".join(words)


def simulated_days(path: Path, seed: int = 5) -> Path:
    """Two days of news (the day before and the day), hourly bursts, TSLA souring on the day."""
    rng = random.Random(seed)
    rows = []
    for day in (START - timedelta(days=1), START):
        for hour in range(24):
            for k in range(rng.randint(3, 9)):
                ticker = rng.choice(TICKERS)
                bad_bias = 0.95 if (ticker == "TSLA" and day == START) else 0.25
                r = rng.random()
                pool = BAD if r < bad_bias else GOOD if r < bad_bias + 0.35 else FLAT
                published = day + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=k)
                rows.append({
                    "id": f"{published:%Y%m%d%H%M%S}-{k}-{ticker}",
                    "published_at": published.isoformat(),
                    "source": rng.choice(["wire", "blog"]),
                    "headline": rng.choice(pool).format(t=ticker) + ", " + _detail(rng),
                    "body": None,
                    "url": f"https://news.example/{hour}/{k}",
                    "tickers": [ticker],
                })  # fmt: skip
    rows.sort(key=lambda r: r["published_at"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def day_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("report")
    stream = simulated_days(work / "news.jsonl")
    settings = Settings(db=str(work / "report.db"))
    store = open_store(settings.db)
    pipe = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    try:
        run_files([stream], settings, pipeline=pipe)
        evidence = tuple(
            Evidence(
                i.id,
                i.item.headline,
                i.published_at,
                i.scores.score,
                i.scores.sentiment,
                i.item.url,
            )  # fmt: skip
            for i in store.items_between(
                START + timedelta(hours=9), START + timedelta(hours=10), ScopeKind.TICKER, "TSLA"
            )[:3]  # fmt: skip
        )
        store.insert_alerts([
            Alert("negative_surge", ScopeKind.TICKER, "TSLA", "negative_share",
                  START + timedelta(hours=9), START + timedelta(hours=9, minutes=5),
                  START + timedelta(hours=9, minutes=6), "high", 0.8, 0.2, evidence)
        ])  # fmt: skip
    finally:
        pipe.close()
    return settings.db


def _truth(db: str) -> dict[str, dict[str, list[float]]]:
    """Scores of novel items per scope and day, read item by item (not from the windows)."""
    store = open_store(db)
    try:
        out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for label, t0 in (("day", START), ("prev", START - timedelta(days=1))):
            for item in store.items_between(t0, t0 + timedelta(days=1), limit=100_000):
                if not item.novel:
                    continue
                out[label]["*"].append(item.scores.score)
                out[label]["topic:" + item.scores.topic].append(item.scores.score)
                for ticker in item.tickers:
                    out[label][ticker].append(item.scores.score)
        return out
    finally:
        store.close()


def test_report_numbers_match_the_store(day_store: str) -> None:
    store = open_store(day_store)
    try:
        report = build_report(store, DAY, (60, 300, 3600))
        alerts = store.alerts(since=START, until=START + timedelta(days=1))
    finally:
        store.close()
    truth = _truth(day_store)
    day, prev = truth["day"], truth["prev"]
    assert report.total.items == len(day["*"]) > 100
    assert report.total.prev_items == len(prev["*"])
    assert report.total.tone == pytest.approx(sum(day["*"]) / len(day["*"]), abs=1e-6)
    assert sum(h.items for h in report.hours) == report.total.items
    assert {t.scope for t in report.topics} == {k[6:] for k in day if k.startswith("topic:")}
    for topic in report.topics:
        scores = day["topic:" + topic.scope]
        assert topic.items == len(scores)
        assert topic.tone == pytest.approx(sum(scores) / len(scores), abs=1e-6)
    busiest = sorted(TICKERS, key=lambda t: (-len(day[t]), t))
    assert [t.scope for t in report.tickers] == busiest
    change = {
        t: sum(day[t]) / len(day[t]) - sum(prev[t]) / len(prev[t])
        for t in TICKERS
        if len(day[t]) >= 3 and len(prev[t]) >= 3
    }
    assert [m.scope for m in report.movers] == sorted(change, key=lambda t: (-abs(change[t]), t))
    for mover in report.movers:
        assert mover.change == pytest.approx(change[mover.scope], abs=1e-6)
    assert report.movers[0].scope == "TSLA" and change["TSLA"] < -0.3  # the one that soured
    assert [a.id for a in report.alerts] == [a.id for a in alerts] and report.alerts
    assert set(report.charts) == {"volume", "topics", "tickers"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in report.charts.values())


def test_cli_writes_html_and_pngs_that_render_in_chromium(
    day_store: str, tmp_path: Path, chromium_render
) -> None:
    from finsentry.cli.report import report as report_cmd

    out = tmp_path / "daily.html"
    result = CliRunner().invoke(
        report_cmd, ["--date", DAY.isoformat(), "--db", day_store, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    pngs = sorted(p.name for p in tmp_path.glob("daily.*.png"))
    assert pngs == ["daily.tickers.png", "daily.topics.png", "daily.volume.png"]
    page = out.read_text(encoding="utf-8")
    for section in ("summary", "topics", "tickers", "movers", "alerts"):
        assert f'id="{section}"' in page
    assert "http://" not in page.replace("https://news.example", "")  # nothing fetched
    assert page.count("data:image/png;base64,") == 3
    assert 'data-alert-id="' in page and "SEC probe" in page

    rendered = chromium_render(out)
    images = rendered.probe["images"]
    assert len(images) == 3
    for img in images:
        assert img["complete"] and img["width"] > 100 and img["height"] > 50, img
    assert rendered.probe["title"] == f"finsentry daily report {DAY}"
    assert "Biggest movers" in rendered.dom
    assert rendered.screenshot.exists() and rendered.screenshot.stat().st_size > 10_000


def test_empty_day_renders_without_charts_of_nothing(day_store: str, tmp_path: Path) -> None:
    store = open_store(day_store)
    try:
        report = build_report(store, date(2025, 1, 1), (300, 3600))
    finally:
        store.close()
    assert report.total.items == 0 and not report.alerts and not report.tickers
    paths = write_report(report, tmp_path / "empty.html")
    assert [p.name for p in paths] == ["empty.html", "empty.volume.png"]
    assert "No alerts." in render_html(report)


def test_report_email_uses_inline_images_and_smtp(day_store: str) -> None:
    from aiosmtpd.controller import Controller

    received: list[Message] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd's Controller needs a concrete port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        from finsentry.cli.report import report as report_cmd

        with CliRunner().isolated_filesystem():
            result = CliRunner().invoke(
                report_cmd,
                ["--date", DAY.isoformat(), "--db", day_store, "--email", "ops@example.com"],
                env={
                    "FINSENTRY_SMTP_HOST": "127.0.0.1",
                    "FINSENTRY_SMTP_PORT": str(port),
                    "FINSENTRY_SMTP_SECURITY": "none",
                },  # fmt: skip
            )
            assert result.exit_code == 0, result.output
            assert Path(f"report-{DAY}.html").exists()
    finally:
        controller.stop()
    assert len(received) == 1
    msg = received[0]
    assert msg["To"] == "ops@example.com" and str(DAY) in msg["Subject"]
    parts = list(msg.walk())
    html_part = next(p for p in parts if p.get_content_type() == "text/html")
    body = html_part.get_payload(decode=True).decode()
    cids = {p["Content-ID"] for p in parts if p.get_content_type() == "image/png"}
    assert cids == {"<volume@finsentry>", "<topics@finsentry>", "<tickers@finsentry>"}
    assert "cid:volume@finsentry" in body and "data:image" not in body


def test_email_message_without_recipients_is_refused(day_store: str) -> None:
    from finsentry.app.reports import send_report

    store = open_store(day_store)
    try:
        report = build_report(store, DAY, (3600,))
    finally:
        store.close()
    with pytest.raises(ValueError, match="SMTP"):
        send_report(report, Settings(db=day_store), ["a@example.com"])
    assert email_message(report, "f@x", ["a@x"])["Subject"].startswith("finsentry daily report")
