"""Alerting: rules and lifecycle, the engine that applies them, notifiers and the outbox."""

from __future__ import annotations
