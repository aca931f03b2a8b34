"""Alert messages worth reading: numbers from the store, human words, inert news, Chromium layout.

A simulated stream with incidents goes through the pipeline with e-mail and Slack configured but
not delivered; the queued notifications are rendered and every number they show is compared with
the store's own window statistics and items.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import pytest

from finsentry.alerts import humanize
from finsentry.alerts.charts import series_points
from finsentry.alerts.email import build_message, preview_html
from finsentry.alerts.engine import notification_payload
from finsentry.alerts.message import message_view
from finsentry.alerts.slack import slack_payload
from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from finsentry.store.base import Notification
from tests.fixtures.chromium import Rendered
from tests.fixtures.scorers import LexiconScorer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
GRAFANA = "https://grafana.example.com"


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[Notification]]:
    work = tmp_path_factory.mktemp("messages")
    sim = simulate(work / "news.jsonl", hours=30, seed=3, incidents=2)
    settings = Settings(
        db=str(work / "m.db"), smtp_host="127.0.0.1", mail_to=("desk@example.com",),
        grafana_url=GRAFANA,
    )  # type: ignore[call-arg]  # fmt: skip
    pipe = Pipeline.from_settings(settings, scorer=LexiconScorer(), deliver=False)
    try:
        run_files([sim.out], settings, pipeline=pipe)
    finally:
        pipe.close()
    store = open_store(settings.db)
    try:
        queued = store.due_notifications(datetime(2100, 1, 1).astimezone(), limit=1000)
    finally:
        store.close()
    assert queued, "the stream raised no alert"
    return settings, queued


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_numbers_shown_match_the_store(queued: tuple[Settings, list[Notification]]) -> None:
    settings, notifications = queued
    store = open_store(settings.db)
    try:
        for n in notifications:
            view = message_view(n.payload, settings)
            text = _plain(build_message(settings, n))
            for alert, data in zip(view.alerts, n.payload["alerts"], strict=True):
                kind, value = ScopeKind(data["scope_kind"]), data["scope_value"]
                size = int(alert.step_s)
                stats = store.window_stats(size, alert.span_start, alert.span_end, kind, value)
                count = sum(s.count for s in stats)
                negative = sum(s.negative for s in stats)
                if data["metric"] == "count":
                    assert alert.numbers.startswith(f"{humanize.number(count)} item")
                elif data["metric"] == "negative_share":
                    assert alert.numbers.startswith(humanize.percent(negative / count))
                assert alert.numbers in text
                # every window of the chart and of the text table is the store's
                by_start = {
                    s.start: s
                    for s in store.window_stats(
                        size, datetime.fromisoformat(data["series"][0][0]), alert.span_end,
                        kind, value,
                    )
                }  # fmt: skip
                for row, shown in zip(data["series"], alert.rows, strict=True):
                    stat = by_start.get(datetime.fromisoformat(row[0]))
                    assert shown.count == (stat.count if stat else 0)
                    assert shown.negative == (stat.negative if stat else 0)
                    line = f"{shown.time}  {shown.count:4d} items  {shown.negative:4d} negative"
                    assert line in text
                # evidence: stored headlines of the span, with the sentiment towards the ticker
                items = {
                    i.id: i
                    for i in store.items_between(alert.span_start, alert.span_end, kind, value, 500)
                }
                for ev in data["evidence"]:
                    item = items[ev["id"]]
                    towards = item.towards(value) if kind is ScopeKind.TICKER else item.scores
                    assert ev["score"] == pytest.approx(towards.score, abs=1e-4)
                    assert f"{towards.score:+.2f}" in text and item.item.headline in text
    finally:
        store.close()


def test_one_title_human_times_links_and_the_silence_command(
    queued: tuple[Settings, list[Notification]],
) -> None:
    settings, notifications = queued
    n = notifications[0]
    message = build_message(settings, n)
    lead = n.payload["alerts"][0]
    view = message_view(n.payload, settings)
    title = humanize.alert_title(lead["rule"], lead["scope_kind"], lead["scope_value"])
    assert str(message["Subject"]).startswith(f"finsentry: [{lead['severity']}] {title}")
    html = message.get_body(("html",))
    assert html is not None
    body = str(html.get_content())
    visible = re.sub(r"<title>.*?</title>", "", body, flags=re.S)
    assert visible.count(title) == 1  # the title once (the subject aside), not three times
    assert "style=" in body and "<style" not in body  # CSS inlined for mail clients
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3}, \d\d:\d\d-\d\d:\d\d UTC", view.when)
    start_ms = int((view.alerts[0].span_start.timestamp() - 3600) * 1000)
    link = view.alerts[0].dashboard_url
    assert link is not None and link.startswith(f"{GRAFANA}/d/") and f"from={start_ms}" in link
    assert link.replace("&", "&amp;") in body
    scope = "all" if lead["scope_kind"] == "all" else f"{lead['scope_kind']}:{lead['scope_value']}"
    command = f"finsentry silence add --scope {shlex.quote(scope)} --for 2h"
    assert view.alerts[0].silence_command == command
    assert command in unescape(body) and command in _plain(message)
    assert "expected 0." not in _plain(message)  # no raw floats


def test_empty_windows_are_gaps_not_dives() -> None:
    rows = [["2026-03-03T14:00:00+00:00", 3, 1, 0.2], ["2026-03-03T14:05:00+00:00", 0, 0, 0.0],
            ["2026-03-03T14:10:00+00:00", 2, 2, -0.8]]  # fmt: skip
    _, counts, _, tones = series_points(rows)
    assert counts == [3, 0, 2] and tones[0] == 0.2 and math.isnan(tones[1]) and tones[2] == -0.8


def _hostile_payload() -> dict[str, object]:
    from datetime import UTC, timedelta

    t = datetime(2026, 3, 3, 14, 30, tzinfo=UTC)
    evidence = (
        Evidence("e1", "<script>alert(1)</script> <!channel> ACME \u202egnirts\u202c plunges",
                 t, -0.9, "negative", "javascript:alert(1)"),
        Evidence("e2", "ACME & partners <b>recall</b>", t, -0.5, "negative",
                 "https://ok.example/?a=1&b=<2>"),
    )  # fmt: skip
    alert = Alert("negative_surge", ScopeKind.TICKER, "ACME", "negative_share", t,
                  t + timedelta(minutes=5), t, "critical", 0.8, 0.25, evidence)  # fmt: skip
    return notification_payload([alert], {}, None)


def test_untrusted_text_is_inert_in_html_text_and_slack() -> None:
    settings = Settings(smtp_host="127.0.0.1", mail_to=("desk@example.com",))
    payload = _hostile_payload()
    message = build_message(settings, Notification("a", "email", payload))  # type: ignore[arg-type]
    html = str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    text = _plain(message)
    assert "<script>" not in html and "&lt;script&gt;" in html and "javascript:" not in html
    assert "<b>recall" not in html and "\u202e" not in html
    assert "javascript:" not in text and "\u202e" not in text
    assert "https://ok.example/?a=1&b=<2>" in text
    slack = json.dumps(slack_payload(payload, settings))  # type: ignore[arg-type]
    assert "<!channel>" not in slack and "javascript:" not in slack
    assert "&lt;!channel&gt;" in slack and "<https://ok.example/?a=1&amp;b=&lt;2&gt;|" in slack


def test_alert_e_mail_renders_in_chromium_within_600_px(
    queued: tuple[Settings, list[Notification]],
    tmp_path: Path,
    chromium_render: Callable[[Path], Rendered],
) -> None:
    settings, notifications = queued
    # a ticker's alert if there is one (the picture in the docs), else the one with most evidence
    n = max(
        notifications,
        key=lambda x: (
            x.payload["alerts"][0]["scope_kind"] == "ticker",
            len(x.payload["alerts"][0]["evidence"]),
        ),
    )
    page = tmp_path / "alert.html"
    page.write_text(preview_html(settings, n), encoding="utf-8")
    rendered = chromium_render(page)
    images = rendered.probe["images"]
    assert images and all(i["complete"] and i["width"] > 0 for i in images), images
    assert rendered.probe["widest"] <= 600, rendered.probe["widestTag"]
    slack = tmp_path / "slack.json"
    slack.write_text(json.dumps(slack_payload(n.payload, settings), indent=1), encoding="utf-8")
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):  # refresh the pictures of docs/operations.md
        DOCS.mkdir(exist_ok=True)
        shutil.copy(rendered.screenshot, DOCS / "alert-email.png")
