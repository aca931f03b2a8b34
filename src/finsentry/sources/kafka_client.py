"""What finsentry's Kafka clients share: connection settings, input names, dead-letter headers."""

from __future__ import annotations

from typing import Any

from finsentry.config import Settings
from finsentry.schema import DeadLetter


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


def dead_letter_headers(dead: DeadLetter, topic: str, partition: int, offset: int) -> list[
    tuple[str, bytes]
]:
    """Headers of a dead-letter message: why it failed and where it came from."""
    return [
        ("reason_code", dead.reason_code.encode()),
        ("reason", dead.reason.encode()),
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
    ]
