"""Every error a notifier or the outbox raises, in one place.

:class:`DeliveryError` is what a notifier raises when a delivery fails; the outbox retries it with
backoff unless it is ``permanent`` (HTTP 4xx, no recipients, a channel no longer configured).
:class:`NotifierConfigError` says a channel cannot be built from the settings (a missing SMTP host,
an unknown security mode): the message names the setting to fix.
"""

from __future__ import annotations


class NotificationError(Exception):
    """Base of the notification errors."""


class NotifierConfigError(NotificationError, ValueError):
    """The settings do not describe a usable channel; the message says what to set."""


class DeliveryError(NotificationError):
    """Delivery failed; ``permanent`` failures are not retried (e.g. HTTP 400, 404)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class UnknownChannelError(DeliveryError):
    """A queued notification names a channel the settings no longer configure (permanent)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)
