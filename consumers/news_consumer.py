"""The streaming consumer process: one member of a Kafka consumer group feeding the pipeline.

    python consumers/news_consumer.py --bootstrap 127.0.0.1:9092 --topic news --group finsentry

Thin wiring only: it takes the same options and FINSENTRY_* environment variables as
``finsentry consume`` (see ``--help``), and all the logic lives in :mod:`finsentry.sources.kafka`.
Run several of these with the same ``--group`` to share the topic's partitions; SIGTERM stops one
gracefully (current batch flushed and committed), a second SIGTERM exits at once.
"""

from __future__ import annotations

import logging

from finsentry.cli.kafka import consume


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    consume(prog_name="news_consumer")


if __name__ == "__main__":
    main()
