"""Prometheus metrics of the streaming consumer (``finsentry consume --metrics-port N``).

Each :class:`ConsumerMetrics` owns its own registry (no process-global state at import), and
``serve(port)`` exposes it on ``/metrics``. Metric names:

- ``finsentry_messages_consumed_total``, ``finsentry_messages_processed_total``,
  ``finsentry_messages_dead_lettered_total{reason}``: consumed = processed + dead-lettered
- ``finsentry_batch_size``: records per micro-batch (histogram)
- ``finsentry_scoring_seconds``: model time per micro-batch (histogram)
- ``finsentry_batch_seconds``: whole micro-batch time, poll to commit (histogram)
- ``finsentry_produce_to_store_seconds``: Kafka record timestamp (produce time) to durable write
- ``finsentry_event_lag_seconds{partition}``: now - newest ``published_at`` seen on a partition
- ``finsentry_consumer_lag{partition}``: messages behind the partition's high-water mark
- ``finsentry_alerts_total``: new alerts raised
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ConsumerMetrics:
    """The consumer's counters, histograms and gauges, in a private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter(
            "finsentry_messages_consumed", "Kafka messages consumed.", registry=r
        )
        self.processed = Counter(
            "finsentry_messages_processed", "Messages validated, scored and stored.", registry=r
        )
        self.dead_lettered = Counter(
            "finsentry_messages_dead_lettered",
            "Messages sent to the dead-letter topic, by reason code.",
            ["reason"],
            registry=r,
        )
        self.alerts = Counter("finsentry_alerts", "New alerts raised.", registry=r)
        self.batch_size = Histogram(
            "finsentry_batch_size", "Records per micro-batch.", buckets=_BATCH_BUCKETS, registry=r
        )
        self.scoring_seconds = Histogram(
            "finsentry_scoring_seconds",
            "Model time per micro-batch.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "finsentry_batch_seconds",
            "Micro-batch time from processing start to committed offsets.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.produce_to_store = Histogram(
            "finsentry_produce_to_store_seconds",
            "Kafka record timestamp (produce time) to durable write in the store.",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self.event_lag = Gauge(
            "finsentry_event_lag_seconds",
            "Now minus the newest published_at seen on a partition (end-to-end lag).",
            ["partition"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "finsentry_consumer_lag",
            "Messages behind the high-water mark, per partition.",
            ["partition"],
            registry=r,
        )

    def observe_batch(
        self,
        consumed: int,
        processed: int,
        dead_reasons: Iterable[str],
        scoring_s: float,
        batch_s: float,
        new_alerts: int = 0,
    ) -> None:
        self.consumed.inc(consumed)
        self.processed.inc(processed)
        for reason in dead_reasons:
            self.dead_lettered.labels(reason=reason).inc()
        self.batch_size.observe(consumed)
        if processed:
            self.scoring_seconds.observe(scoring_s)
        self.batch_seconds.observe(batch_s)
        if new_alerts:
            self.alerts.inc(new_alerts)

    def observe_produce_to_store(self, seconds: Iterable[float]) -> None:
        for value in seconds:
            self.produce_to_store.observe(max(value, 0.0))

    def set_partition_lags(
        self, consumer_lag: Mapping[str, int], event_lag_s: Mapping[str, float]
    ) -> None:
        for partition, lag in consumer_lag.items():
            self.consumer_lag.labels(partition=partition).set(lag)
        for partition, seconds in event_lag_s.items():
            self.event_lag.labels(partition=partition).set(seconds)

    def forget_partitions(self, partitions: Iterable[str]) -> None:
        """Drop the gauges of partitions this consumer no longer owns."""
        for partition in partitions:
            for gauge in (self.consumer_lag, self.event_lag):
                try:
                    gauge.remove(partition)
                except KeyError:
                    pass

    def serve(self, port: int, addr: str = "127.0.0.1") -> tuple[str, int]:
        """Expose ``/metrics`` over HTTP on ``addr:port`` (a daemon thread); loopback unless
        told otherwise (``--metrics-addr 0.0.0.0`` for a scraper on another host). Returns the
        address bound."""
        server, _ = start_http_server(port, addr=addr, registry=self.registry)
        host, bound = server.server_address[:2]
        return str(host), int(bound)
