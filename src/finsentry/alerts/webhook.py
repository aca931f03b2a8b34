"""Signed webhooks: a JSON POST per notification, verifiable and safe to deliver twice.

Headers of every request:

- ``X-Finsentry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`` when
  ``settings.webhook_secret`` is set. A receiver recomputes the HMAC over the raw body and rejects
  timestamps older than its tolerance (replays): :func:`verify_signature` does both.
- ``Idempotency-Key: <alert id>:<channel>``: the same on every retry, so a receiver drops repeats
  (a webhook channel is named by a hash of its URL, never the URL, which is often a secret).

Body: the notification payload (``title``, ``window_start``, ``window_end``, ``alerts`` with their
evidence, ``dashboard_url``) plus ``idempotency_key``; or, with ``webhook_format = "slack"``, a
Slack-compatible message (``text`` and ``blocks``) that incoming webhooks of Slack and Mattermost
accept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from finsentry.config import Settings
from finsentry.inert import for_slack, redact_url, web_url
from finsentry.store.base import Notification

SIGNATURE_HEADER = "X-Finsentry-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "finsentry-webhook/1"


class DeliveryError(Exception):
    """Delivery failed; ``permanent`` failures are not retried (e.g. HTTP 400, 404)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old."""
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        name, sep, value = piece.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))


def slack_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message (``text`` fallback + ``blocks``) for a notification payload."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": payload["title"][:150]}}
    ]
    for alert in payload.get("alerts", []):  # every news-borne string escaped for mrkdwn
        lines = [f"*{for_slack(alert.get('summary', alert['rule']))}*"]
        lines.append(f"window {alert['window_start']} - {alert['window_end']}")
        for ev in alert.get("evidence", [])[:5]:
            headline = for_slack(ev["headline"])
            url = web_url(ev.get("url"))
            link = f"<{for_slack(url)}|{headline}>" if url else headline
            lines.append(f"• {link} ({ev['sentiment']}, {ev['score']:+.2f})")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if payload.get("dashboard_url"):
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{payload['dashboard_url']}|dashboard>"}],
            }
        )
    return {"text": payload["title"], "blocks": blocks}


class WebhookNotifier:
    """POSTs notifications to webhook URLs with a signature and an idempotency key."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._client = client

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def body(self, notification: Notification) -> bytes:
        if self.settings.webhook_format == "slack":
            data = slack_payload(notification.payload)
        else:
            data = dict(notification.payload)
            data["idempotency_key"] = notification.key
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    def headers(self, notification: Notification, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: notification.key,
        }
        secret = self.settings.webhook_secret
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret.get_secret_value(), body, int(time.time()))
        return headers

    def send(self, url: str, notification: Notification) -> None:
        """Deliver once; raises :class:`DeliveryError` on any failure (permanent for 4xx)."""
        body = self.body(notification)
        try:
            response = self.client.post(url, content=body, headers=self.headers(notification, body))
        except httpx.HTTPError as exc:
            detail = str(exc).replace(url, redact_url(url))
            raise DeliveryError(
                f"webhook {redact_url(url)}: {type(exc).__name__}: {detail}"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        permanent = 400 <= status < 500 and status not in (408, 409, 425, 429)
        raise DeliveryError(f"webhook {redact_url(url)}: HTTP {status}", permanent=permanent)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
