"""Channel names: built and parsed here only.

A notification is keyed by (alert id, channel), and that key is the idempotency key sent to
receivers, so a channel name must be stable and must not leak secrets:

- ``email``: the SMTP recipients of ``FINSENTRY_MAIL_TO``;
- ``webhook:<12 hex>``: one webhook URL, named by the first 12 hex digits of its SHA-256. A
  webhook URL is often a bearer secret (Slack's are), so the URL never appears in a channel name,
  the store, an idempotency key or a log line. Slack incoming webhooks are webhook channels too;
  only the body differs (see :mod:`finsentry.alerts.notifiers`).

Notifications queued before channels were hashed are named ``webhook:<url>``; :func:`parse_channel`
still resolves them against the configured URLs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from finsentry.config import Settings

EMAIL = "email"
WEBHOOK_PREFIX = "webhook:"
ChannelKind = Literal["email", "webhook"]


@dataclass(frozen=True, slots=True)
class Channel:
    """A parsed channel name; ``url`` is set for a webhook channel found in the settings."""

    kind: ChannelKind
    name: str
    url: str | None = None


def webhook_channel(url: str) -> str:
    """``webhook:<first 12 hex of SHA-256(url)>``: stable, and says nothing of the URL."""
    return WEBHOOK_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:12]


def configured_channels(settings: Settings) -> list[str]:
    """The delivery channels configured: ``email`` (SMTP host and recipients set) and one
    ``webhook:<id>`` per URL of ``FINSENTRY_WEBHOOK_URLS``."""
    out: list[str] = []
    if settings.smtp_host and settings.mail_to:
        out.append(EMAIL)
    out.extend(webhook_channel(url) for url in settings.webhook_urls)
    return out


def parse_channel(name: str, webhook_urls: Sequence[str] = ()) -> Channel | None:
    """The channel ``name`` stands for, its URL looked up in ``webhook_urls``; None when ``name``
    is not a channel name or names a webhook that is no longer configured."""
    if name == EMAIL:
        return Channel("email", name)
    if not name.startswith(WEBHOOK_PREFIX):
        return None
    for url in webhook_urls:
        if name in (webhook_channel(url), WEBHOOK_PREFIX + url):
            return Channel("webhook", name, url)
    return None


def is_channel_name(name: str) -> bool:
    """Whether ``name`` has the shape of a channel name (configured or not)."""
    return name == EMAIL or name.startswith(WEBHOOK_PREFIX)


# The notification key (alert id + channel) travels with every delivery so a receiver can drop
# the repeats that at-least-once delivery implies: in this HTTP header of a webhook request ...
IDEMPOTENCY_HEADER = "Idempotency-Key"
# ... and in this header of an alert e-mail (mail headers of one's own carry a vendor prefix).
MAIL_IDEMPOTENCY_HEADER = "X-Finsentry-Idempotency-Key"
