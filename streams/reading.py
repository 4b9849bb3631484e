"""Read a partition from where a consumer is assigned up to its current end."""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, Message


def until_end(consumer: Consumer, timeout_s: float) -> Iterator[Message]:
    """Messages until the consumer reports the end of its partition (it needs
    ``enable.partition.eof``) or ``timeout_s`` passes; errors other than the end are skipped."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        error = message.error()
        if error is None:
            yield message
        elif error.code() == KafkaError._PARTITION_EOF:
            return
