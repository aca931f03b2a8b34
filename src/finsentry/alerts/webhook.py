"""Signed webhooks: a JSON POST per notification, verifiable and safe to deliver twice.

Headers of every request:

- Standard Webhooks (https://www.standardwebhooks.com) when ``settings.webhook_secret`` is set:
  ``webhook-id`` (the idempotency key), ``webhook-timestamp`` (unix seconds) and
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``, the key being
  the base64-decoded secret after its ``whsec_`` prefix. Receivers verify with any Standard
  Webhooks library (``standardwebhooks.Webhook(secret).verify(body, headers)``), which also
  rejects timestamps more than 5 minutes off (replays); :func:`verify_signature` does the same.
- ``Idempotency-Key: <alert id>:<channel>``: the same on every retry, so a receiver drops repeats
  (a webhook channel is named by a hash of its URL, never the URL, which is often a secret).

Body: the notification payload (``title``, ``window_start``, ``window_end``, ``alerts`` with their
evidence, ``dashboard_url``) plus ``idempotency_key``; or, for Slack (``webhook_format = "slack"`` or a
``hooks.slack.com`` URL), a Block Kit message (:mod:`finsentry.alerts.slack`) that incoming
webhooks of Slack and Mattermost accept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

import httpx

from finsentry.alerts.channels import IDEMPOTENCY_HEADER, webhook_channel
from finsentry.alerts.errors import DeliveryError
from finsentry.alerts.slack import slack_payload
from finsentry.config import Settings
from finsentry.inert import redact_url
from finsentry.store.base import Notification

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of secrets, not one
USER_AGENT = "finsentry-webhook/1"


def secret_key(secret: str | bytes) -> bytes:
    """The HMAC key of a Standard Webhooks secret: ``whsec_<base64>`` (prefix optional) decoded,
    exactly as the reference libraries decode it; bytes are taken as the key itself."""
    if isinstance(secret, bytes):
        return secret
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    if not key:
        raise ValueError("the webhook secret is empty: use whsec_<base64 of random bytes>")
    return key


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for ``body`` sent as message ``msg_id`` at ``timestamp``."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify_signature(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when the Standard Webhooks ``headers`` sign ``body`` with ``secret`` and the timestamp
    is within ``tolerance_s`` of now."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp = lowered.get("webhook-id"), lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        return False
    try:
        timestamp = int(stamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in signatures.split(" "))


class WebhookNotifier:
    """POSTs notifications to one webhook URL with a signature and an idempotency key."""

    def __init__(
        self,
        settings: Settings,
        url: str,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.url = url
        self.channel = webhook_channel(url)
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._client = client

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def body(self, notification: Notification) -> bytes:
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
            timestamp = int(time.time())
            headers["webhook-id"] = notification.key
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(
                secret.get_secret_value(), notification.key, timestamp, body
            )
        return headers

    def send(self, notification: Notification) -> None:
        """Deliver once; raises :class:`DeliveryError` on any failure (permanent for 4xx)."""
        url = self.url
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


class SlackNotifier(WebhookNotifier):
    """A Slack (or Mattermost) incoming webhook: the same delivery, Slack's block format."""

    def body(self, notification: Notification) -> bytes:
        data = slack_payload(notification.payload, self.settings)
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
