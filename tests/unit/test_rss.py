from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from finsentry.config import Settings
from finsentry.sources.rss import FeedError, FeedSource, fetch_feed, fetch_json
from finsentry.sources.validate import parse_records

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
  <title>Quayside Daily Markets</title>
  <link>http://quayside.example/</link>
  <language>en-gb</language>
  <item>
    <guid>qd-1001</guid>
    <title>Shell to sell Nigerian onshore assets</title>
    <link>http://quayside.example/a/1001</link>
    <description>&lt;p&gt;Shell agreed a &lt;b&gt;$2.4bn&lt;/b&gt; sale. &lt;a href="http://x.example"&gt;More&lt;/a&gt;&lt;/p&gt;</description>
    <pubDate>Mon, 05 Jan 2026 09:30:00 +0100</pubDate>
  </item>
  <item>
    <title>Unilever names new finance chief</title>
    <category>Personnel</category>
    <category domain="https://wire.example/stock">LSE:ULVR</category>
    <category>NYSE: UL</category>
    <category>Earnings: Q4</category>
    <link>http://quayside.example/a/1002</link>
    <pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate>
  </item>
  <item>
    <guid>qd-1003</guid>
    <title>Undated story</title>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Bellwether Newswire</title>
  <id>urn:bellwether:feed</id>
  <updated>2026-01-05T12:00:00Z</updated>
  <entry>
    <id>urn:bellwether:42</id>
    <title>Siemens Energy wins wind order in Germany</title>
    <link href="https://bellwether.example/42"/>
    <published>2026-01-05T11:15:00+01:00</published>
    <updated>2026-01-05T11:20:00+01:00</updated>
    <summary>Order worth EUR 1.1bn.</summary>
  </entry>
  <entry>
    <id>urn:bellwether:43</id>
    <title>ASML shares rise</title>
    <link href="https://bellwether.example/43"/>
    <updated>2026-01-05T11:45:00Z</updated>
  </entry>
</feed>
"""

JSON_ITEMS = [
    {
        "id": "j1",
        "published_at": "2026-01-05T08:00:00Z",
        "source": "Ledger Street",
        "headline": "Nvidia unveils AI chip",
        "tickers": ["NVDA"],
    },
    {
        "guid": "j2",
        "title": "Ferrari lifts guidance",
        "link": "https://ls.example/j2",
        "pubDate": 1767603600,
    },
    {"guid": "j3", "title": "Milliseconds epoch", "time": 1767603600000},
    "not an object",
]


# shaped like NewsAPI's /v2/everything and Finnhub's /company-news answers
NEWSAPI = {"status": "ok", "totalResults": 2, "articles": [
    {"source": {"id": None, "name": "Harbor Wire"}, "author": "A. Writer",
     "title": "Acme recalls 40,000 heaters", "description": "A fire risk.",
     "url": "https://harbor.example/acme-recall", "publishedAt": "2026-01-05T09:00:00Z"},
    {"source": {"id": None, "name": None}, "title": "Acme names a new chief",
     "url": "https://harbor.example/acme-ceo", "publishedAt": "2026-01-05T10:00:00Z"},
]}  # fmt: skip
FINNHUB = [
    {"category": "company", "datetime": 1767603600, "headline": "Acme beats estimates",
     "id": 135443812, "related": "ACME", "source": "Bellwether", "summary": "Sales rose.",
     "url": "https://bellwether.example/acme"},
]  # fmt: skip


# shaped like Marketaux's /v1/news/all and Benzinga's /api/v2/news answers
MARKETAUX = {"meta": {"found": 1}, "data": [
    {"uuid": "0a1b", "title": "Acme and Globex sign supply pact", "url": "https://mx.example/1",
     "published_at": "2026-01-05T09:00:00.000000Z", "source": "mx.example",
     "entities": [{"symbol": "ACME", "name": "Acme Corp", "sentiment_score": 0.4},
                  {"symbol": "GLBX", "name": "Globex Inc", "sentiment_score": 0.1}]},
]}  # fmt: skip
BENZINGA = [
    {"id": 41234567, "title": "Acme shares slide after guidance cut",
     "created": "Mon, 05 Jan 2026 09:30:00 -0500", "url": "https://bz.example/41234567",
     "stocks": [{"name": "ACME"}]},
]  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes]] = {
        "/rss.xml": ("application/rss+xml", RSS.encode()),
        "/atom.xml": ("application/atom+xml", ATOM.encode()),
        "/items.json": ("application/json", json.dumps(JSON_ITEMS).encode()),
        "/wrapped.json": ("application/json", json.dumps({"items": JSON_ITEMS[:1]}).encode()),
        "/newsapi.json": ("application/json", json.dumps(NEWSAPI).encode()),
        "/finnhub.json": ("application/json", json.dumps(FINNHUB).encode()),
        "/marketaux.json": ("application/json", json.dumps(MARKETAUX).encode()),
        "/benzinga.json": ("application/json", json.dumps(BENZINGA).encode()),
        "/garbage": ("text/html", b"<html><body>not a feed</body></html>"),
        "/notjson.json": ("application/json", b"{oops"),
    }

    def do_GET(self) -> None:  # noqa: N802
        route = self.routes.get(self.path)
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        content_type, body = route
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


NOW = datetime(2026, 1, 6, tzinfo=UTC)


def test_rss_feed(server: str, client: httpx.Client) -> None:
    url = f"{server}/rss.xml"
    records = fetch_feed(url, client)
    assert len(records) == 3
    assert {r.input for r in records} == {url}
    assert {r.source for r in records} == {"rss"}
    first = json.loads(records[0].data)
    assert first["id"] == "qd-1001"
    assert first["published_at"] == "2026-01-05T08:30:00+00:00"
    assert first["source"] == "Quayside Daily Markets"
    assert first["url"] == "http://quayside.example/a/1001"
    second = json.loads(records[1].data)
    assert second["id"].startswith("link:")  # no guid: a hash of the link
    items, dead = parse_records(records, Settings(), NOW)
    assert [i.id for i in items] == ["qd-1001", second["id"]]
    assert items[0].body == "Shell agreed a $2.4bn sale. More"
    assert items[0].lang == "en-gb"
    assert [(d.reason_code) for d in dead] == ["missing_field"]  # the undated entry


def test_atom_feed(server: str, client: httpx.Client) -> None:
    records = fetch_feed(f"{server}/atom.xml", client, source="Bellwether")
    items, dead = parse_records(records, Settings(), NOW)
    assert dead == []
    assert [i.id for i in items] == ["urn:bellwether:42", "urn:bellwether:43"]
    assert items[0].published_at == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
    assert items[1].published_at == datetime(2026, 1, 5, 11, 45, tzinfo=UTC)  # from <updated>
    assert {i.source for i in items} == {"Bellwether"}
    assert items[0].url == "https://bellwether.example/42"


def test_refetch_gives_the_same_positions_and_ids(server: str, client: httpx.Client) -> None:
    a = fetch_feed(f"{server}/rss.xml", client)
    b = fetch_feed(f"{server}/rss.xml", client)
    assert [(r.position, r.data) for r in a] == [(r.position, r.data) for r in b]
    assert len({r.position for r in a}) == len(a)


def test_json_endpoint(server: str, client: httpx.Client) -> None:
    records = fetch_json(f"{server}/items.json", client)
    assert len(records) == 4
    items, dead = parse_records(records, Settings(), NOW)
    assert [i.id for i in items] == ["j1", "j2", "j3"]
    assert items[0].tickers == ("NVDA",)
    assert items[1].headline == "Ferrari lifts guidance"
    assert items[1].published_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert items[2].published_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert items[1].source == "127.0.0.1"
    assert [d.reason_code for d in dead] == ["not_object"]
    wrapped = fetch_json(f"{server}/wrapped.json", client)
    assert len(wrapped) == 1


def test_news_api_answers_read_as_they_come(server: str, client: httpx.Client) -> None:
    items, dead = parse_records(fetch_json(f"{server}/newsapi.json", client), Settings(), NOW)
    assert dead == []
    assert [(i.headline, i.source) for i in items] == [
        ("Acme recalls 40,000 heaters", "Harbor Wire"),  # the source object's name
        ("Acme names a new chief", "127.0.0.1"),  # no name: the endpoint's host
    ]
    assert items[0].published_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert items[0].id.startswith("link:")  # an id from the link, stable across pulls
    (item,), dead = parse_records(fetch_json(f"{server}/finnhub.json", client), Settings(), NOW)
    assert dead == [] and item.id == "135443812" and item.tickers == ("ACME",)
    assert item.published_at == datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "fetch", "message"),
    [
        ("/missing.xml", fetch_feed, "HTTP 404"),
        ("/garbage", fetch_feed, "not a readable"),
        ("/notjson.json", fetch_json, "not JSON"),
        ("/rss.xml", fetch_json, "not JSON"),
    ],
)
def test_errors_say_what_failed(
    server: str, client: httpx.Client, path: str, fetch: object, message: str
) -> None:
    with pytest.raises(FeedError, match=message):
        fetch(f"{server}{path}", client)  # type: ignore[operator]


def test_unreachable_host(client: httpx.Client) -> None:
    with socket.socket() as probe:  # a free port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FeedError, match="reachable"):
        fetch_feed(f"http://127.0.0.1:{port}/feed.xml", client)


def test_feed_source_skips_broken_feeds(server: str) -> None:
    source = FeedSource([f"{server}/rss.xml", f"{server}/missing.xml", f"{server}/items.json"])
    batches = list(source.batches())
    assert [len(b) for b in batches] == [3, 4]
    assert list(source.errors) == [f"{server}/missing.xml"]
    assert source.durable == [] and source.name == "feeds"


def test_feeds_run_through_the_runner(server: str, tmp_path: Path) -> None:
    from finsentry.config import Settings
    from finsentry.pipeline import Pipeline
    from finsentry.runner import run
    from tests.fixtures.scorers import LexiconScorer

    urls = [f"{server}/rss.xml", f"{server}/missing.xml", f"{server}/items.json"]
    settings = Settings(db=str(tmp_path / "feeds.db"))
    pipe = Pipeline.from_settings(settings, scorer=LexiconScorer())
    source = FeedSource(urls)
    totals = run(source, pipe)
    assert totals.consumed == 7 and totals.balanced
    assert source.durable == [urls[0], urls[2]]
    assert pipe.store.counts()["items"] == totals.processed > 0
    assert set(pipe.input_times) <= {urls[0], urls[2]}
    pipe.close()


def test_a_feed_about_one_company_gives_each_entry_its_ticker(server: str, client: httpx.Client) -> None:
    from finsentry.sources.rss import feed_spec

    assert feed_spec(f"aapl={server}/rss.xml") == (f"{server}/rss.xml", ("AAPL",))
    assert feed_spec(f"BRK.B|brk.a={server}/x?s=BRK-B") == (f"{server}/x?s=BRK-B", ("BRK.B", "BRK.A"))
    assert feed_spec(f"{server}/rss.xml?s=AAPL") == (f"{server}/rss.xml?s=AAPL", ())  # '=' in a URL
    with pytest.raises(ValueError, match="'M&M' is not a ticker"):
        feed_spec(f"M&M={server}/rss.xml")
    source = FeedSource([f"SHEL={server}/rss.xml"], json_urls=[f"MSFT={server}/items.json"])
    rss, js = list(source.batches())
    items, _ = parse_records(rss, Settings(), NOW)
    # named in one headline, not the other; the second's categories name its listings
    assert [i.tickers for i in items] == [("SHEL",), ("ULVR", "UL", "SHEL")]
    assert {r.input for r in rss} == {f"{server}/rss.xml"}  # the URL, not the spec
    items, _ = parse_records(js, Settings(), NOW)
    assert [i.tickers for i in items] == [("NVDA", "MSFT"), ("MSFT",), ("MSFT",)]  # with their own


def test_pull_command_ingests_feeds_once(server: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from finsentry.cli import main
    from finsentry.store import open_store

    db = str(tmp_path / "pulled.db")
    args = ["pull", f"SHEL={server}/rss.xml", "--json", f"{server}/items.json", "--db", db, "--since", "all"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "fetched 7 entries from 2 URLs" in first.output and "new items: 5" in first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "new items: 0" in again.output  # idempotent
    store = open_store(db)
    try:
        assert store.counts()["items"] == 5
    finally:
        store.close()
    broken = CliRunner().invoke(main, ["pull", f"{server}/missing.xml", "--db", db, "--since", "all"])
    assert broken.exit_code == 1 and "missing.xml" in broken.output
    dry = CliRunner().invoke(main, ["pull", f"{server}/rss.xml", "--db", str(tmp_path / "dry.db"), "--dry-run", "--since", "all"])
    assert dry.exit_code == 0 and "dry run: nothing stored" in dry.output
    assert not (tmp_path / "dry.db").exists()


def test_company_lists_of_news_apis_become_tickers(server: str, client: httpx.Client) -> None:
    (item,), dead = parse_records(fetch_json(f"{server}/marketaux.json", client), Settings(), NOW)
    assert dead == [] and item.tickers == ("ACME", "GLBX") and item.id == "0a1b"
    (item,), dead = parse_records(fetch_json(f"{server}/benzinga.json", client), Settings(), NOW)
    assert dead == [] and item.tickers == ("ACME",) and item.id == "41234567"
    assert item.published_at == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # RFC 2822 "created"
