"""Pull sources: RSS/Atom feeds and HTTP JSON endpoints, turned into raw records in the input format.

``fetch_feed(url, client)`` reads an RSS 2.0 / RSS 1.0 / Atom document with ``feedparser``;
``fetch_json(url, client)`` reads an endpoint that returns a JSON list of items (or an object with
an ``items`` list). Each entry becomes one :class:`RawRecord` whose ``data`` is a JSON object in the
input format, so the validation stage treats it exactly like a line of a JSONL file:

- ``id``: the entry's id/guid, else a hash of its link (else of its title and date);
- ``published_at``: the entry's published (else updated) time, in UTC; an entry without a date is
  passed on without one and dead-lettered by validation (``missing_field``), never given a made-up
  time;
- ``source``: the feed's title (else the URL's host), unless the caller names it;
- ``headline`` / ``body`` / ``url``: title, summary (HTML is cleaned by normalisation), link;
- ``tickers``: the entry's categories that are exchange-prefixed symbols (``NASDAQ:ABCD``).

A feed about one company (the per-symbol feeds of Yahoo Finance, Nasdaq, Seeking Alpha) is given as
``TICKER=URL`` (``AAPL=https://...``, ``BRK.B|BRK.A=https://...``): its entries carry those tickers
as given in the input, whether or not their text names the company (:func:`feed_spec`).

``input`` is the URL; ``position`` is a stable number derived from the entry id, so polling the same
feed again gives the same dead-letter keys, and items are upserted by id: re-fetching is idempotent.
The Airflow ingest DAG calls these and feeds the batches to ``Pipeline.process``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx

from finsentry.schema import RawRecord, unix_seconds, utc_now
from finsentry.sources.base import Batch
from finsentry.sources.normalise import normalise_ticker

if TYPE_CHECKING:
    from finsentry.totals import BatchReport

DEFAULT_TIMEOUT_S = 20.0  # for clients FeedSource makes; a caller's client keeps its own
USER_AGENT = "finsentry (news sentiment monitor)"
_JSON_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("guid", "uuid", "key"),
    "headline": ("title",),
    "body": ("summary", "description", "content", "text"),
    "url": ("link", "href"),
    "published_at": (
        "published", "publishedAt", "pubDate", "date", "time", "timestamp", "datetime",
        "created_at", "created", "time_published", "updated",
    ),
    # Finnhub related, Benzinga stocks, Marketaux entities, Alpha Vantage ticker_sentiment
    "tickers": ("symbols", "related", "stocks", "entities", "ticker_sentiment"),
}  # fmt: skip
# where news APIs put their list of items (NewsAPI: articles; Alpha Vantage: feed; others)
_JSON_LISTS = ("items", "data", "articles", "results", "news", "feed", "stories", "entries")


class FeedError(RuntimeError):
    """A feed or endpoint could not be fetched or read; the message says which and why."""


_TICKER_FEED = re.compile(r"([^=\s]+)=(https?://\S+)", re.IGNORECASE)


def feed_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """``AAPL=https://...`` (or ``AAPL|MSFT=https://...``) -> (the URL, the tickers all its
    entries are about); a plain URL -> (the URL, ()). :class:`ValueError` names a bad ticker."""
    spec = spec.strip()
    found = _TICKER_FEED.fullmatch(spec)
    if found is None:
        return spec, ()
    tickers = []
    for raw in found.group(1).split("|"):
        ticker = normalise_ticker(raw)
        if ticker is None:
            raise ValueError(
                f"{spec!r}: {raw!r} is not a ticker; write TICKER=URL, e.g. AAPL=https://..."
            )
        tickers.append(ticker)
    return found.group(2), tuple(dict.fromkeys(tickers))


def with_tickers(item: dict[str, Any], tickers: Sequence[str]) -> dict[str, Any]:
    """``item`` with ``tickers`` added to those it names itself (a list, or one separated string)."""
    if not tickers:
        return item
    own = item.get("tickers")
    if isinstance(own, str) and own.strip():
        item["tickers"] = f"{own},{','.join(tickers)}"
    elif isinstance(own, list):
        item["tickers"] = own + [t for t in tickers if t not in own]
    else:
        item["tickers"] = list(tickers)
    return item


def _get(url: str, client: httpx.Client, accept: str) -> httpx.Response:
    try:
        response = client.get(
            url,
            headers={"Accept": accept, "User-Agent": USER_AGENT},
            follow_redirects=True,
        )
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise FeedError(f"{url}: HTTP {exc.response.status_code}; check the feed URL") from exc
    except httpx.HTTPError as exc:
        raise FeedError(f"{url}: {type(exc).__name__}: {exc}; is the host reachable?") from exc
    return response


def stable_position(entry_id: str) -> int:
    """A stable non-negative 48-bit number for an entry id (the record's ``position``)."""
    return int.from_bytes(hashlib.sha256(entry_id.encode("utf-8")).digest()[:6], "big")


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()[:20]


def _struct_to_iso(value: Any) -> str | None:
    if isinstance(value, time.struct_time):
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC).isoformat()
    return None


def _record(item: Mapping[str, Any], source: str, url: str, now: datetime) -> RawRecord:
    data = json.dumps(item, ensure_ascii=False).encode("utf-8")
    entry_id = str(item.get("id") or _digest(data.decode("utf-8")))
    return RawRecord(
        data=data, source=source, input=url, position=stable_position(entry_id), received_at=now
    )


def feed_entries_to_items(parsed: Any, url: str, source: str | None = None) -> list[dict[str, Any]]:
    """Input-format dicts from a ``feedparser`` result."""
    feed = parsed.get("feed", {})
    publisher = source or feed.get("title") or urlparse(url).hostname or url
    lang = feed.get("language")
    items: list[dict[str, Any]] = []
    for entry in parsed.get("entries", []):
        title = entry.get("title") or ""
        link = entry.get("link")
        published = _struct_to_iso(entry.get("published_parsed")) or _struct_to_iso(
            entry.get("updated_parsed")
        )
        entry_id = entry.get("id") or (f"link:{_digest(link)}" if link else None)
        if not entry_id:
            entry_id = f"entry:{_digest(url, title, published or '')}"
        item: dict[str, Any] = {
            "id": entry_id,
            "source": publisher,
            "headline": title,
            "body": entry.get("summary") or None,
            "url": link,
        }
        if published:
            item["published_at"] = published
        if isinstance(lang, str) and lang:
            item["lang"] = lang
        if listed := _listed_tickers(entry.get("tags")):
            item["tickers"] = listed
        items.append(item)
    return items


def _listed_tickers(tags: Any) -> list[str]:
    """Tickers from an entry's categories that are exchange-prefixed symbols ("NYSE:IBM", as
    press-release wires tag their items); other categories are topics, not companies."""
    from finsentry.entities import listed_ticker

    found: dict[str, None] = {}
    for tag in tags if isinstance(tags, list) else ():
        term = tag.get("term") if isinstance(tag, Mapping) else None
        if isinstance(term, str) and (ticker := listed_ticker(term)):
            found.setdefault(ticker, None)
    return list(found)


def fetch_feed(
    url: str,
    client: httpx.Client,
    source: str | None = None,
    record_source: str = "rss",
    tickers: Sequence[str] = (),
) -> list[RawRecord]:
    """Fetch an RSS/Atom feed: one raw record per entry, in feed order, each entry with
    ``tickers`` (a feed about those companies)."""
    import feedparser  # optional dependency (finsentry[ingest]); imported on use

    response = _get(url, client, "application/rss+xml, application/atom+xml, application/xml, */*")
    parsed = feedparser.parse(
        response.content,
        response_headers={"content-type": response.headers.get("content-type", "")},
    )
    if parsed.get("bozo") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        raise FeedError(f"{url}: not a readable RSS/Atom feed ({reason}); check the URL")
    now = utc_now()
    return [
        _record(with_tickers(item, tickers), record_source, url, now)
        for item in feed_entries_to_items(parsed, url, source)
    ]


def _json_item(value: Any, source: str) -> Any:
    """Map common field names to the input format; other values pass through (and are judged by
    validation). Epoch numbers for the time become ISO-8601 UTC."""
    if not isinstance(value, dict):
        return value
    item = dict(value)
    for field, aliases in _JSON_ALIASES.items():
        if item.get(field) is None:
            for alias in aliases:
                if item.get(alias) is not None:
                    item[field] = item[alias]
                    break
    named = item.get("source")
    if isinstance(named, dict):  # NewsAPI: {"id": ..., "name": "Reuters"}
        item["source"] = named.get("name") or named.get("id") or None
    if isinstance(item.get("id"), int) and not isinstance(item.get("id"), bool):
        item["id"] = str(item["id"])  # numeric ids (Finnhub) are ids all the same
    stamp = item.get("published_at")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            item["published_at"] = datetime.fromtimestamp(unix_seconds(stamp), tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            pass
    if item.get("id") is None and item.get("url"):
        item["id"] = f"link:{_digest(str(item['url']))}"
    if item.get("source") is None:
        item["source"] = source
    keep = ("id", "published_at", "source", "headline", "body", "url", "tickers", "lang")
    return {k: item[k] for k in keep if k in item}


def fetch_json(
    url: str,
    client: httpx.Client,
    source: str | None = None,
    record_source: str = "http",
    tickers: Sequence[str] = (),
) -> list[RawRecord]:
    """Fetch a JSON endpoint returning a list of news items (or ``{"items": [...]}``), each item
    with ``tickers`` added to its own."""
    response = _get(url, client, "application/json")
    try:
        payload = response.json()
    except ValueError as exc:
        raise FeedError(f"{url}: response is not JSON ({exc}); check the endpoint") from exc
    if isinstance(payload, dict):
        payload = next((payload[k] for k in _JSON_LISTS if isinstance(payload.get(k), list)), None)
    if not isinstance(payload, list):
        raise FeedError(
            f"{url}: expected a JSON list of items, or an object holding one under "
            f"{', '.join(repr(k) for k in _JSON_LISTS)}"
        )
    publisher = source or urlparse(url).hostname or url
    now = utc_now()
    records = []
    for value in payload:
        item = _json_item(value, publisher)
        if isinstance(item, dict):
            records.append(_record(with_tickers(item, tickers), record_source, url, now))
        else:  # not an object: kept as is, so validation dead-letters it with its bytes
            data = json.dumps(item).encode("utf-8")
            records.append(
                RawRecord(
                    data=data,
                    source=record_source,
                    input=url,
                    position=stable_position(_digest(data.decode())),
                    received_at=now,
                )
            )
    return records


class FeedSource:
    """A source over several feeds/endpoints: one batch per URL, fetched when iterated.

    URLs ending in ``.json`` (or given in ``json_urls``) are read with :func:`fetch_json`, the
    others with :func:`fetch_feed`. A URL that fails is reported in :attr:`errors` and skipped, so
    one broken feed does not stop the others. As a runner source (:meth:`read`), a fetched feed is
    a bounded snapshot: the last batch closes the inputs of every URL read, and :attr:`durable`
    lists the URLs whose entries the store holds. Re-fetching is idempotent (items are upserted
    by id), so there is no position to commit.
    """

    name = "feeds"

    def __init__(
        self, urls: Sequence[str], client: httpx.Client | None = None, json_urls: Sequence[str] = ()
    ) -> None:
        specs = list(urls) + [u for u in json_urls if u not in urls]  # [TICKER=]URL each
        self._tickers = dict(map(feed_spec, specs))  # URL -> the tickers its entries carry
        self.urls = list(self._tickers)
        self._json = {feed_spec(spec)[0] for spec in json_urls}
        self._client = client
        self.errors: dict[str, str] = {}
        self.durable: list[str] = []

    def batches(self) -> Iterator[list[RawRecord]]:
        client = self._client or httpx.Client(timeout=DEFAULT_TIMEOUT_S)
        try:
            for url in self.urls:
                is_json = url in self._json or urlparse(url).path.endswith(".json")
                fetch = fetch_json if is_json else fetch_feed
                try:
                    batch = fetch(url, client, tickers=self._tickers[url])
                except FeedError as exc:
                    self.errors[url] = str(exc)
                    continue
                if batch:
                    yield batch
        finally:
            if self._client is None:
                client.close()

    def read(self) -> Iterator[Batch[str]]:
        """Runner batches: one per URL (``position`` = the URL), then one closing them all."""
        read: list[str] = []
        for records in self.batches():
            url = records[0].input
            read.append(url)
            yield Batch(records, url)
        yield Batch((), "", closed=tuple(read))

    def on_durable(self, batch: Batch[str], report: BatchReport) -> None:
        """Progress: the store holds this URL's entries."""
        if batch.records:
            self.durable.append(batch.position)
