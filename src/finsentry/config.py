"""One frozen Settings object, read once in the entry point and passed down explicitly.

Every field can be set from the environment (prefix ``FINSENTRY_``, e.g. ``FINSENTRY_DB``) or from a
TOML file named by ``FINSENTRY_CONFIG`` (keys are the field names, without the prefix). The
environment wins over the file. Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "FINSENTRY_"
# the fields of an input record (README, "The input format"); input_fields may map each one
INPUT_FIELDS = ("id", "published_at", "source", "headline", "body", "url", "tickers", "lang")
CONTENT_ID = "@content"  # input_fields' id=@content: an id made from the record's content
KEY_ID = "@key"  # input_fields' id=@key: the Kafka message key (UTF-8) as the id
RECORD_TIME = "@timestamp"  # input_fields' published_at=@timestamp: the Kafka record's timestamp
RECORD_TOPIC = "@topic"  # input_fields' source=@topic: the Kafka topic a record was read from
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")  # what Kafka accepts as a topic name


class Settings(BaseSettings):
    """All of finsentry's configuration. Field docs double as the CLI's help text."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", env_nested_delimiter=None
    )

    # --- store -------------------------------------------------------------------------------
    db: str = Field(
        "finsentry.db",
        description="Store: a SQLite file path, or a postgresql:// DSN for PostgreSQL.",
    )

    # --- scoring -----------------------------------------------------------------------------
    model: str = Field(
        "default",
        description="Model: 'default' (the bundled finance model), a model directory, or a hub id.",
    )
    device: str = Field("auto", description="Scoring device: auto (cuda, then cpu), cuda, cpu.")
    backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="Scoring backend: onnx (int8 ONNX Runtime, CPU), torch, or auto (onnx when "
        "the model ships an ONNX export, onnxruntime is installed and the device is the CPU).",
    )
    token_budget: int = Field(
        8192, description="Micro-batch size in tokens (padded length x rows)."
    )
    max_length: int = Field(128, description="Truncate texts to this many tokens.")
    cpu_threads: int = Field(0, description="torch CPU threads; 0 = number of cores.")

    # --- validation --------------------------------------------------------------------------
    max_text_chars: int = Field(20_000, description="Headline + body longer than this is rejected.")
    max_record_bytes: int = Field(1_000_000, description="Raw records larger than this are rejected.")
    future_tolerance_s: int = Field(
        300, description="Items dated further in the future than this are dead-lettered."
    )
    earliest_published_at: datetime = Field(
        datetime(1990, 1, 1, tzinfo=UTC),
        description="Items dated before this (ISO-8601 with offset) are dead-lettered.",
    )
    max_tickers: int = Field(50, description="Items naming more tickers than this are dead-lettered.")
    max_line_bytes: int = Field(
        1_048_576, description="Longest input line; longer ones are dead-lettered while read."
    )
    dead_letter_raw_bytes: int = Field(
        65_536, description="Bytes of a raw record a dead letter keeps (plus its size and sha256)."
    )
    naive_timezone: str | None = Field(
        None,
        description="Time zone of input times without a UTC offset (UTC, America/New_York ...); "
        "unset: such records are dead-lettered.",
    )
    input_fields: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Records from other systems: FIELD=NAME pairs, comma separated "
        "(headline=title,published_at=date,source=publisher); a record without FIELD takes its "
        "NAME field (dots read nested objects: headline=content.title). id=@content gives a "
        "record without an id one made from its source, time and headline; id=@key takes its "
        "Kafka message key, published_at=@timestamp its Kafka record timestamp, source=@topic "
        "the topic it was read from.",
    )

    # --- entities and duplicates -------------------------------------------------------------
    watchlist: str | None = Field(
        None, description="CSV watchlist (ticker,name,aliases[,not_before]); default: the bundled list."
    )
    dedup_horizon_h: float = Field(24.0, description="Near-duplicate horizon in hours.")

    # --- aggregation -------------------------------------------------------------------------
    window_sizes_s: Annotated[tuple[int, ...], NoDecode] = Field(
        (60, 300, 3600), description="Tumbling window sizes in seconds (comma separated)."
    )
    detect_window_s: int = Field(300, description="Window size the detectors evaluate.")
    allowed_lateness_s: int = Field(
        600, description="Watermark lag: items older than max event time minus this are late."
    )
    worker_id: str = Field(
        "",
        description="This process's name among the workers writing one store (its watermark "
        "is saved under it); empty: host:pid.",
    )
    worker_lease_s: int = Field(
        300,
        ge=1,
        description="A worker whose heartbeat is older than this many seconds is taken as gone: "
        "its open inputs stop holding the shared watermark back.",
    )

    # --- detection ---------------------------------------------------------------------------
    min_support: int = Field(8, description="Fewest items in a window for a tone alert.")
    volume_threshold: float = Field(6.0, description="Robust z-score that makes a volume spike.")
    tone_threshold: float = Field(4.0, description="Robust z-score that makes a negative surge.")
    baseline_days: int = Field(7, description="Days of history the baselines look back.")

    # --- alert delivery ----------------------------------------------------------------------
    smtp_host: str | None = Field(None, description="SMTP server for alert e-mail.")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP login user.")
    smtp_password: SecretStr | None = Field(None, description="SMTP login password.")
    smtp_security: str = Field("starttls", description="SMTP security: starttls, ssl or none.")
    mail_from: str = Field("finsentry@localhost", description="Sender address of alert e-mail.")
    mail_to: Annotated[tuple[str, ...], NoDecode] = Field((), description="Recipients of alert e-mail (comma separated).")
    webhook_urls: Annotated[tuple[str, ...], NoDecode] = Field((), description="Webhook URLs (comma separated).")
    webhook_secret: SecretStr | None = Field(
        None, description="Standard Webhooks signing secret, whsec_<base64>."
    )
    webhook_format: str = Field("json", description="Webhook payload: json or slack.")
    outbox_max_attempts: int = Field(
        12, ge=1, description="Attempts to deliver a notification before it is marked failed."
    )
    outbox_backoff_s: float = Field(
        2.0, gt=0, description="First retry delay of a channel; doubles on each failure."
    )
    outbox_max_backoff_s: float = Field(
        900.0, gt=0, description="Longest retry delay of a channel (exponential backoff cap)."
    )
    public_url: str | None = Field(
        None,
        description="Grafana as readers of alerts reach it (a proxy, a public host); "
        "alert and report links use it, else grafana_url.",
    )

    # --- kafka -------------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_topic: str = Field(
        "news", description="Kafka topic of news items; several, comma separated, read as one."
    )
    kafka_group: str = Field("finsentry", description="Kafka consumer group.")
    kafka_dlq_topic: str | None = Field(
        None, description="Dead-letter topic; default <topic>.dlq for each topic read."
    )
    kafka_security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_SSL ...")
    schema_registry_url: str | None = Field(
        None, description="Confluent Schema Registry URL: Avro values framed for it are decoded."
    )
    schema_registry_user: str | None = Field(None, description="Schema Registry login (basic).")
    schema_registry_password: SecretStr | None = Field(
        None, description="Schema Registry password."
    )
    kafka_sasl_mechanism: str | None = Field(None, description="SASL mechanism, e.g. SCRAM-SHA-512.")
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password.")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for SSL.")
    batch_max_items: int = Field(512, description="Largest micro-batch from a stream.")
    batch_max_wait_ms: int = Field(500, description="Longest wait before a partial batch flushes.")

    # --- grafana -----------------------------------------------------------------------------
    grafana_url: str | None = Field(
        None,
        description="Grafana base URL: where `grafana provision` installs dashboards, and "
        "where alert links point when public_url is not set.",
    )
    grafana_token: SecretStr | None = Field(None, description="Grafana service-account token.")

    @field_validator("window_sizes_s", "mail_to", "webhook_urls", "input_fields", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("naive_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"naive_timezone {value!r} is not a time zone (use e.g. UTC or America/New_York)"
            ) from None
        return value.strip()

    @field_validator("input_fields")
    @classmethod
    def _field_pairs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        value = tuple(p.strip() for v in value for p in v.split(",") if p.strip())
        seen: set[str] = set()
        for pair in value:
            field, sep, name = (part.strip() for part in pair.partition("="))
            if not sep or not name:
                raise ValueError(f"input field {pair!r}: write FIELD=NAME, e.g. headline=title")
            if field not in INPUT_FIELDS:
                raise ValueError(
                    f"input field {pair!r}: {field!r} is not a field of a news item; use one of "
                    f"{', '.join(INPUT_FIELDS)}"
                )
            if name in (CONTENT_ID, KEY_ID) and field != "id":
                raise ValueError(f"input field {pair!r}: {name} can only make an id")
            if name == RECORD_TIME and field != "published_at":
                raise ValueError(f"input field {pair!r}: {name} can only give published_at")
            if name == RECORD_TOPIC and field != "source":
                raise ValueError(f"input field {pair!r}: {name} can only give source")
            if field in seen:
                raise ValueError(f"input field {field!r} is mapped twice")
            seen.add(field)
        return tuple(f"{f.strip()}={n.strip()}" for f, _, n in (p.partition("=") for p in value))

    @field_validator("schema_registry_url")
    @classmethod
    def _registry_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the schema registry URL is http(s)://HOST[:PORT][/PATH]")
        return value.strip()

    @field_validator("webhook_urls")
    @classmethod
    def _web_urls_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from urllib.parse import urlsplit

        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                shown = f"{parts.scheme}://{parts.hostname or ''}..." if parts.scheme else "a URL"
                raise ValueError(
                    f"webhook URLs must be http:// or https:// with a host; got {shown} "
                    "(FINSENTRY_WEBHOOK_URLS)"
                )
        return value

    @field_validator("earliest_published_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("earliest_published_at needs a UTC offset, e.g. 1990-01-01T00:00:00Z")
        return value.astimezone(UTC)

    @field_validator("max_tickers", "max_line_bytes", "dead_letter_raw_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("max_tickers, max_line_bytes and dead_letter_raw_bytes must be > 0")
        return value

    @field_validator("window_sizes_s")
    @classmethod
    def _positive_windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(size <= 0 for size in value):
            raise ValueError("window sizes must be positive seconds, e.g. 60,300,3600")
        return tuple(sorted(set(value)))

    @field_validator("kafka_topic", "kafka_dlq_topic")
    @classmethod
    def _topic_names(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        names = [part.strip() for part in value.split(",")]
        if len(names) > 1 and info.field_name == "kafka_dlq_topic":
            raise ValueError("the dead-letter topic is one topic (default: <topic>.dlq per topic)")
        for name in names:
            if not _TOPIC.fullmatch(name) or name in (".", ".."):
                raise ValueError(
                    f"{name!r} is not a Kafka topic name (letters, digits, '.', '_' and '-', "
                    "at most 249); separate several topics with commas"
                )
        return ",".join(dict.fromkeys(names))

    @property
    def kafka_topics(self) -> tuple[str, ...]:
        """The topics read (``kafka_topic``, comma separated), each once, in the order given."""
        return tuple(self.kafka_topic.split(","))

    def dlq_topic_for(self, topic: str) -> str:
        """Where the dead letters of ``topic`` go: ``kafka_dlq_topic``, else ``<topic>.dlq``."""
        return self.kafka_dlq_topic or f"{topic}.dlq"

    @property
    def dlq_topic(self) -> str:
        """The dead-letter topic of the first topic read (the only one, usually)."""
        return self.dlq_topic_for(self.kafka_topics[0])

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given fields replaced (None values are ignored)."""
        values = {k: v for k, v in overrides.items() if v is not None}
        if not values:
            return self
        return type(self)(**{**self.model_dump(), **values})  # validated, unlike model_copy


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read settings: TOML file (``FINSENTRY_CONFIG`` or ``config_file``), then the environment."""
    path = config_file or os.environ.get(f"{ENV_PREFIX}CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        try:
            file_values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SystemExit(f"config file {path} not found: check FINSENTRY_CONFIG") from exc
        file_values = file_values.get("finsentry", file_values)
        unknown = sorted(set(file_values) - set(Settings.model_fields))
        if unknown:
            raise SystemExit(
                f"config file {path}: unknown key(s) {', '.join(unknown)}; the keys are the "
                f"{ENV_PREFIX}* variable names without the prefix, in lower case "
                "(see finsentry --help)"
            )
    env_keys = {
        name for name in Settings.model_fields if f"{ENV_PREFIX}{name.upper()}" in os.environ
    }
    init = {k: v for k, v in file_values.items() if k not in env_keys}
    settings = Settings(**init)
    return settings.with_overrides(**overrides)
