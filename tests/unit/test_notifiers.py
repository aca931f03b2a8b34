"""Notifier registry and channel names: built from settings, parsed in one place."""

from __future__ import annotations

import pytest

from finsentry.alerts.channels import (
    configured_channels,
    parse_channel,
    webhook_channel,
)
from finsentry.alerts.email import EmailNotifier
from finsentry.alerts.errors import DeliveryError, NotifierConfigError, UnknownChannelError
from finsentry.alerts.notifiers import NotifierRegistry
from finsentry.alerts.webhook import SlackNotifier, WebhookNotifier
from finsentry.config import Settings
from finsentry.store.base import Notification

HOOK = "https://hooks.example.com/in/secret-token"
SLACK = "https://hooks.slack.com/services/T000/B000/XXXX"


def settings(**extra: object) -> Settings:
    return Settings(db="sqlite://", **extra)  # type: ignore[arg-type]


def test_channel_names_round_trip_and_hide_urls() -> None:
    s = settings(
        smtp_host="mail.example", mail_to="desk@example.com", webhook_urls=f"{HOOK},{SLACK}"
    )
    names = configured_channels(s)
    assert names == ["email", webhook_channel(HOOK), webhook_channel(SLACK)]
    assert all("secret" not in n and "XXXX" not in n for n in names)
    parsed = [parse_channel(n, s.webhook_urls) for n in names]
    assert [(c.kind, c.url) for c in parsed if c] == [
        ("email", None),
        ("webhook", HOOK),
        ("webhook", SLACK),
    ]
    assert parse_channel("webhook:" + HOOK, s.webhook_urls) is not None  # queued before hashing
    assert parse_channel(webhook_channel("https://gone.example/"), s.webhook_urls) is None
    assert parse_channel("pager", s.webhook_urls) is None
    assert configured_channels(settings(smtp_host="mail.example")) == []  # no recipients


def test_registry_builds_one_notifier_per_channel_from_settings() -> None:
    s = settings(
        smtp_host="mail.example", mail_to="desk@example.com", webhook_urls=f"{HOOK},{SLACK}"
    )
    registry = NotifierRegistry(s)
    email = registry.get("email")
    hook = registry.get(webhook_channel(HOOK))
    slack = registry.get(webhook_channel(SLACK))
    assert isinstance(email, EmailNotifier) and email.channel == "email"
    assert type(hook) is WebhookNotifier and hook.channel == webhook_channel(HOOK)
    assert isinstance(slack, SlackNotifier)  # a Slack URL gets Slack's format by itself
    assert registry.get(webhook_channel(HOOK)) is hook  # built once
    all_slack = NotifierRegistry(settings(webhook_urls=HOOK, webhook_format="slack"))
    assert isinstance(all_slack.get(webhook_channel(HOOK)), SlackNotifier)
    with pytest.raises(UnknownChannelError) as gone:
        registry.get(webhook_channel("https://gone.example/"))
    assert gone.value.permanent and "FINSENTRY_WEBHOOK_URLS" in str(gone.value)
    with pytest.raises(DeliveryError):
        registry.get("pager")
    registry.close()


def test_email_without_smtp_host_says_what_to_set() -> None:
    registry = NotifierRegistry(settings(mail_to="desk@example.com"))
    with pytest.raises(NotifierConfigError, match="FINSENTRY_SMTP_HOST"):
        registry.get("email")


def test_ready_made_notifiers_take_precedence() -> None:
    sent: list[str] = []

    class Recorder:
        channel = "email"

        def send(self, notification: Notification) -> None:
            sent.append(notification.key)

        def close(self) -> None:
            sent.append("closed")

    registry = NotifierRegistry(settings(), {"email": Recorder()})
    registry.get("email").send(Notification("a1", "email", {}))
    registry.close()
    assert sent == ["a1:email", "closed"]
