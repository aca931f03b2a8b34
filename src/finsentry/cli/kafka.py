"""``finsentry consume`` and ``finsentry publish``: the streaming path over Apache Kafka."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from finsentry.cli.common import (
    backend_option,
    db_option,
    device_option,
    fields_option,
    model_option,
    setting_option,
    settings_from,
    worker_option,
)
from finsentry.inert import redact_dsn

if TYPE_CHECKING:
    from finsentry.config import Settings
    from finsentry.sources.kafka import ConsumeOptions
    from finsentry.totals import RunTotals

bootstrap_option = setting_option("--bootstrap", field="kafka_bootstrap", metavar="HOST:PORT[,...]")
topic_option = setting_option("--topic", field="kafka_topic")


@click.command()
@bootstrap_option
@topic_option
@setting_option("--group", field="kafka_group")
@setting_option("--dlq-topic", field="kafka_dlq_topic")
@db_option
@model_option
@device_option
@backend_option
@worker_option
@fields_option
@setting_option("--batch-max-items", field="batch_max_items", type=int)
@setting_option("--batch-max-wait-ms", field="batch_max_wait_ms", type=int)
@click.option(
    "--metrics-port",
    type=int,
    envvar="FINSENTRY_METRICS_PORT",
    show_envvar=True,
    help="Serve Prometheus metrics on this port (/metrics).",
)
@click.option(
    "--metrics-addr",
    default="127.0.0.1",
    show_default=True,
    envvar="FINSENTRY_METRICS_ADDR",
    show_envvar=True,
    help="Address the metrics endpoint listens on (0.0.0.0: every interface).",
)
@click.option(
    "--max-messages",
    type=click.IntRange(min=1),
    envvar="FINSENTRY_MAX_MESSAGES",
    show_envvar=True,
    help="Stop after this many messages (default: run until stopped).",
)
@click.option(
    "--idle-exit-s",
    type=click.FloatRange(min=0),
    envvar="FINSENTRY_IDLE_EXIT_S",
    show_envvar=True,
    help="Stop when nothing arrived for this many seconds (default: wait forever).",
)
@click.option(
    "--partition-idle-s",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    envvar="FINSENTRY_PARTITION_IDLE_S",
    show_envvar=True,
    help="A caught-up partition silent this long stops holding the event-time watermark back.",
)
@click.option(
    "--session-timeout-ms",
    type=click.IntRange(min=1000),
    default=45_000,
    show_default=True,
    envvar="FINSENTRY_KAFKA_SESSION_TIMEOUT_MS",
    show_envvar=True,
    help="How soon the group hands a crashed consumer's partitions to the others.",
)
@click.option(
    "--from-latest",
    is_flag=True,
    envvar="FINSENTRY_KAFKA_FROM_LATEST",
    show_envvar=True,
    help="A new group starts at the end of the topic (default: the beginning).",
)
@click.option("--no-detect", is_flag=True, help="Store and aggregate only; run no detectors.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def consume(
    ctx: click.Context,
    kafka_bootstrap: str | None,
    kafka_topic: str | None,
    kafka_group: str | None,
    kafka_dlq_topic: str | None,
    db: str | None,
    model: str | None,
    device: str | None,
    backend: str | None,
    worker_id: str | None,
    input_fields: tuple[str, ...],
    batch_max_items: int | None,
    batch_max_wait_ms: int | None,
    metrics_port: int | None,
    metrics_addr: str,
    max_messages: int | None,
    idle_exit_s: float | None,
    partition_idle_s: float,
    session_timeout_ms: int,
    from_latest: bool,
    no_detect: bool,
    quiet: bool,
) -> None:
    """Consume news from Kafka as one member of a consumer group, score it, store it, alert.

    Messages are micro-batched (bounded by --batch-max-items and --batch-max-wait-ms, so a quiet
    topic still flushes), validated, scored and written to the store in one transaction; only then
    are their offsets committed. Bad messages go to the dead-letter topic (default <topic>.dlq)
    with their original key and bytes and headers reason_code, reason, source_topic,
    source_partition, source_offset. Several topics (--topic wire,rss,social) are read by one
    group as one stream; each topic's dead letters go to its own <topic>.dlq. Start several
    processes with the same --group to share the partitions. SIGTERM/Ctrl-C finishes the batch in
    hand and commits; a second one exits at once.
    Security settings (FINSENTRY_KAFKA_SECURITY_PROTOCOL, FINSENTRY_KAFKA_SASL_*,
    FINSENTRY_KAFKA_SSL_CAFILE) come from the environment or the config file.
    """
    from finsentry.sources.kafka import ConsumeOptions

    settings = settings_from(
        ctx, kafka_bootstrap=kafka_bootstrap, kafka_topic=kafka_topic, kafka_group=kafka_group,
        kafka_dlq_topic=kafka_dlq_topic, db=db, model=model, device=device, backend=backend,
        worker_id=worker_id, input_fields=input_fields or None, batch_max_items=batch_max_items,
        batch_max_wait_ms=batch_max_wait_ms,
    )  # fmt: skip
    options = ConsumeOptions(
        max_messages=max_messages,
        idle_exit_s=idle_exit_s,
        partition_idle_s=partition_idle_s,
        session_timeout_ms=session_timeout_ms,
        auto_offset_reset="latest" if from_latest else "earliest",
    )
    totals = _run_member(settings, options, (metrics_port, metrics_addr), no_detect, quiet)
    _print_summary(totals, settings)


def _print_summary(totals: RunTotals, settings: Settings) -> None:
    """What a consume run did: the accounting identity, the totals, where the results went."""
    from finsentry.app.summary import format_totals

    click.echo(
        f"consumed {totals.consumed} = processed {totals.processed} + "
        f"dead-lettered {totals.dead_lettered}"
    )
    click.echo(format_totals(totals))
    dlq = ", ".join(dict.fromkeys(settings.dlq_topic_for(t) for t in settings.kafka_topics))
    click.echo(f"store: {redact_dsn(settings.db)}   dead-letter topic: {dlq}")


def _run_member(
    settings: Settings,
    options: ConsumeOptions,
    metrics: tuple[int | None, str],
    no_detect: bool,
    quiet: bool,
) -> RunTotals:
    """One consumer-group member until stopped (signals handled), its errors explained."""
    from finsentry.pipeline import Pipeline
    from finsentry.shutdown import GracefulStop
    from finsentry.sources.kafka import consume as run_consumer

    stop = GracefulStop()
    stop.install()
    pipeline = Pipeline.from_settings(settings, detect=not no_detect)
    try:
        return run_consumer(
            settings,
            pipeline=pipeline,
            options=options,
            metrics_port=metrics[0],
            metrics_addr=metrics[1],
            stop=stop,
            progress=not quiet,
        )
    except Exception as exc:
        _explain_kafka_error(exc, settings.kafka_bootstrap)
        raise
    finally:
        pipeline.close()


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@bootstrap_option
@topic_option
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    envvar="FINSENTRY_PUBLISH_RATE",
    show_envvar=True,
    help="Messages per second (default: as fast as the broker takes them).",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    envvar="FINSENTRY_PUBLISH_PARTITIONS",
    show_envvar=True,
    help="Partitions of the topic if it has to be created (an existing topic is kept as it is).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def publish(
    ctx: click.Context,
    file: str,
    kafka_bootstrap: str | None,
    kafka_topic: str | None,
    rate: float | None,
    partitions: int,
    quiet: bool,
) -> None:
    """Publish a JSONL news file (e.g. from 'finsentry simulate') to a Kafka topic.

    Each line is sent unchanged, keyed by the item's first ticker (else its id), so one company's
    news stays in order in one partition. The topic is created if it is missing.
    """
    from finsentry.sources.publish import publish_file

    settings = settings_from(ctx, kafka_bootstrap=kafka_bootstrap, kafka_topic=kafka_topic)
    if len(settings.kafka_topics) > 1:
        raise click.BadParameter(
            f"publish writes to one topic, not {settings.kafka_topic!r}", param_hint="--topic"
        )
    try:
        result = publish_file(
            file, settings, rate=rate, partitions=partitions, progress=not quiet
        )
    except Exception as exc:
        _explain_kafka_error(exc, settings.kafka_bootstrap)
        raise
    click.echo(
        f"published {result.sent} messages to {settings.kafka_topic} in {result.seconds:.1f}s "
        f"({result.rate:.0f}/s)" + (f"; {result.failed} FAILED" if result.failed else "")
    )
    if result.failed:
        raise SystemExit(1)


def _explain_kafka_error(exc: Exception, bootstrap: str) -> None:
    """Turn a kafka-python error into a message that says what to do."""
    if type(exc).__name__ == "RegistryUnavailable":
        raise click.ClickException(str(exc)) from exc
    if type(exc).__name__ == "UnsupportedCodecError":
        raise click.ClickException(
            f"the topic holds compressed batches this install cannot read ({exc}); install the "
            "codecs with pip install 'finsentry[kafka]' (lz4, python-snappy, zstandard)"
        ) from exc
    if type(exc).__module__.startswith("kafka"):
        raise click.ClickException(
            f"Kafka at {bootstrap} failed: {exc}. Is the broker running and reachable? "
            "(local: infra/kafka/broker start --port 9092; own cluster: check --bootstrap and "
            "FINSENTRY_KAFKA_SECURITY_PROTOCOL / FINSENTRY_KAFKA_SASL_* / FINSENTRY_KAFKA_SSL_CAFILE)"
        ) from exc
