"""What finsentry's Kafka clients share: connection settings and the pipeline's input names."""

from __future__ import annotations

from typing import Any

from finsentry.config import Settings
from finsentry.sources.mapping import KAFKA_SOURCE

SOURCE = KAFKA_SOURCE  # the ``source`` of every record read from Kafka


def client_config(settings: Settings) -> dict[str, Any]:
    """kafka-python connection settings (bootstrap servers, SSL, SASL) from Settings."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()],
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        config["sasl_plain_username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile:
        config["ssl_cafile"] = settings.kafka_ssl_cafile
    return config


def partition_input(topic: str, partition: int) -> str:
    """The pipeline ``input`` name of a partition (the watermark is kept per input)."""
    return f"{topic}/{partition}"


def topic_prefix(topic: str) -> str:
    """What every partition input of ``topic`` starts with."""
    return f"{topic}/"
