"""Notifiers are plugins: a :class:`Notifier` protocol and a registry built from the settings.

A notifier delivers one stored :class:`~finsentry.store.base.Notification` to one channel and raises
:class:`~finsentry.alerts.errors.DeliveryError` when it cannot. The outbox asks the registry for the
notifier of each queued notification's channel; notifiers are built lazily (no connection before
the first delivery) and kept for the life of the registry.

Kinds built in:

- ``email``: :class:`~finsentry.alerts.email.EmailNotifier` (``FINSENTRY_SMTP_*``, ``MAIL_TO``);
- ``webhook``: :class:`~finsentry.alerts.webhook.WebhookNotifier`, signed JSON;
- ``slack``: :class:`~finsentry.alerts.webhook.SlackNotifier`, Slack's block format, for every
  webhook when ``FINSENTRY_WEBHOOK_FORMAT=slack`` and for any ``https://hooks.slack.com/`` URL.

To add a notifier: write a class with ``channel``, ``send`` and ``close``, give it a factory in
:data:`FACTORIES`, and make :func:`notifier_kind` (and, for a new kind of channel name,
:mod:`finsentry.alerts.channels`) name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

from finsentry.alerts.channels import Channel, parse_channel
from finsentry.alerts.errors import UnknownChannelError
from finsentry.config import Settings
from finsentry.store.base import Notification

SLACK_HOSTS = ("hooks.slack.com",)


class Notifier(Protocol):
    """Delivers notifications to one channel."""

    channel: str

    def send(self, notification: Notification) -> None:
        """Deliver once; raise :class:`~finsentry.alerts.errors.DeliveryError` on failure."""
        ...

    def close(self) -> None: ...


NotifierFactory = Callable[[Settings, Channel], Notifier]


def _email(settings: Settings, channel: Channel) -> Notifier:
    from finsentry.alerts.email import EmailNotifier

    return EmailNotifier(settings)


def _webhook(settings: Settings, channel: Channel) -> Notifier:
    from finsentry.alerts.webhook import WebhookNotifier

    return WebhookNotifier(settings, channel.url or "")


def _slack(settings: Settings, channel: Channel) -> Notifier:
    from finsentry.alerts.webhook import SlackNotifier

    return SlackNotifier(settings, channel.url or "")


FACTORIES: dict[str, NotifierFactory] = {"email": _email, "webhook": _webhook, "slack": _slack}


def is_slack_url(url: str) -> bool:
    """Whether ``url`` is a Slack incoming webhook (which takes only Slack's message format)."""
    try:
        return (urlsplit(url).hostname or "").lower() in SLACK_HOSTS
    except ValueError:
        return False


def notifier_kind(settings: Settings, channel: Channel) -> str:
    """Which factory of :data:`FACTORIES` serves ``channel``."""
    if channel.kind == "webhook":
        slack = settings.webhook_format == "slack" or is_slack_url(channel.url or "")
        return "slack" if slack else "webhook"
    return channel.kind


class NotifierRegistry:
    """The notifier of each channel, built from the settings on first use.

    ``notifiers`` are ready-made notifiers by channel name (tests, a custom TLS context); they take
    precedence and are closed with the registry.
    """

    def __init__(
        self,
        settings: Settings,
        notifiers: Mapping[str, Notifier] | None = None,
        factories: Mapping[str, NotifierFactory] | None = None,
    ) -> None:
        self.settings = settings
        self.factories = dict(FACTORIES if factories is None else factories)
        self._built: dict[str, Notifier] = dict(notifiers or {})

    def get(self, channel_name: str) -> Notifier:
        """The notifier for ``channel_name``; :class:`UnknownChannelError` when the settings no
        longer configure it (a permanent delivery failure)."""
        if channel_name in self._built:
            return self._built[channel_name]
        channel = parse_channel(channel_name, self.settings.webhook_urls)
        if channel is None:
            if channel_name.startswith("webhook:"):
                raise UnknownChannelError(f"{channel_name} is no longer in FINSENTRY_WEBHOOK_URLS")
            raise UnknownChannelError(f"unknown channel {channel_name!r}")
        factory = self.factories.get(notifier_kind(self.settings, channel))
        if factory is None:
            raise UnknownChannelError(f"no notifier for channel {channel_name!r}")
        notifier = factory(self.settings, channel)
        self._built[channel_name] = notifier
        return notifier

    def close(self) -> None:
        for notifier in self._built.values():
            notifier.close()
        self._built.clear()
