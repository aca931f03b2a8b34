"""The daily report with hostile text in every field a record controls (source, headline, url)
and in an alert's evidence: the HTML carries it escaped, no script and no non-web link."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from finsentry.app.reports import build_report, render_html, render_plain
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.schema import Alert, Evidence, ScopeKind
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer
from tests.integration.test_reports import DAY, START

SCRIPT = "<script>alert(1)</script>"
HEADLINE = f"TSLA plunges {SCRIPT} <img src=x onerror=alert(2)> [x](javascript:alert(3))"


def _links(page: str) -> list[str]:
    """The href and src values of the page's real elements (not of escaped text)."""
    found: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(v or "" for k, v in attrs if k in ("href", "src"))

    Collect().feed(page)
    return found


def test_report_shows_hostile_text_inertly(tmp_path: Path) -> None:
    rows = [
        {"id": f"h{k}", "published_at": (START + timedelta(hours=9, minutes=k)).isoformat(),
         "source": f"wire{SCRIPT}", "headline": f"{HEADLINE} {k}", "body": None,
         "url": "javascript:alert(4)", "tickers": ["TSLA"]}
        for k in range(6)
    ]  # fmt: skip
    stream = tmp_path / "hostile.jsonl"
    stream.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    settings = Settings(db=str(tmp_path / "r.db"))
    store = open_store(settings.db)
    pipe = Pipeline.from_settings(settings, store=store, scorer=LexiconScorer())
    try:
        run_files([stream], settings, pipeline=pipe)
        evidence = (
            Evidence("h0", HEADLINE, START, -0.9, "negative", "javascript:alert(5)"),
            Evidence("h1", HEADLINE, START, -0.8, "negative", "data:text/html,<b>x</b>"),
        )
        at = START + timedelta(hours=9)
        store.insert_alerts([Alert("negative_surge", ScopeKind.TICKER, "TSLA", "negative_share",
                                   at, at + timedelta(minutes=5), at, "critical", 0.8, 0.2,
                                   evidence)])  # fmt: skip
        report = build_report(store, DAY, (60, 300, 3600))
    finally:
        pipe.close()
    page = render_html(report)
    text = render_plain(report)
    assert report.total.items + report.total.duplicates == 6 and report.alerts  # all read
    links = _links(page)
    assert links and all(link.startswith(("http://", "https://", "data:image/png", "cid:", "#"))
                         for link in links), links  # fmt: skip
    assert "javascript:alert(4)" not in page + text  # the records' own url is dropped
    assert "javascript:alert(5)" not in page + text and "data:text" not in page + text
    assert SCRIPT not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    assert "\x1b" not in text
