"""Publish recorded outcomes to ``riskstream.outcomes``, each exactly once.

Recording an outcome commits the case and its outbox row together; this publisher sends
what is unpublished, keyed by event id, and marks it published when Kafka acknowledges it.
The crash window is between Kafka's acknowledgement and that mark (or a send whose answer
was lost): such a row has ``attempts > 0`` and may already be on the topic. It is sent
again only after the Kafka bridge, which reads every outcome on the topic and marks the
rows it recognises as published in the same transaction as its offsets, has read past the
end the topic had when the row was found; if the row is still unpublished then, it never
reached Kafka.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaException, Producer, TopicPartition
from sqlalchemy import Engine, func, select, update

from schemas import AvroCodec
from workbench.outcomes import inspection_outcome
from workbench.tables import cases, outbox

log = logging.getLogger(__name__)

BATCH = 200


def due(engine: Engine, limit: int = BATCH) -> list[dict[str, Any]]:
    """Unpublished outbox rows, oldest first, with their case."""
    query = (
        select(outbox.c.attempts, cases)
        .join(cases, cases.c.event_id == outbox.c.event_id)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.created_at)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def pending(engine: Engine) -> int:
    """Outcomes recorded here and not yet acknowledged by Kafka."""
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    return int(count)


def _mark(engine: Engine, event_ids: list[str], **values: Any) -> None:
    if not event_ids:
        return
    with engine.begin() as connection:
        if values:
            connection.execute(update(outbox).where(outbox.c.event_id.in_(event_ids))
                               .values(**values))
        else:
            connection.execute(update(outbox).where(outbox.c.event_id.in_(event_ids))
                               .values(attempts=outbox.c.attempts + 1))


class OutboxPublisher:
    """Sends the outbox to Kafka; ``offsets`` says how far the bridge has read."""

    def __init__(
        self,
        engine: Engine,
        producer: Producer,
        codec: AvroCodec,
        topic: str,
        offsets: Callable[[], dict[tuple[str, int], int]],
        watermarks: Callable[[], dict[int, int]],
    ) -> None:
        self.engine = engine
        self.producer = producer
        self.codec = codec
        self.topic = topic
        self.offsets = offsets
        self.watermarks = watermarks
        self.wake = threading.Event()
        # end offsets of the topic when rows that may be on it were found; None: none such
        self._barrier: dict[int, int] | None = None
        self._covered: set[str] = set()
        self.sent = 0

    def publish_due(self) -> int:
        """One pass: send what is due; return how many Kafka acknowledged."""
        rows = due(self.engine)
        send = [row for row in rows if not row["attempts"]]
        if any(row["attempts"] for row in rows) and self._retry_allowed(rows):
            # what the bridge did not confirm by now never reached Kafka
            send += [row for row in due(self.engine)
                     if row["attempts"] and row["event_id"] in self._covered]
            self._covered = set()
        if not send:
            return 0
        _mark(self.engine, [row["event_id"] for row in send])  # from here on: maybe on Kafka
        acked: list[str] = []

        def delivered(error: Any, message: Any) -> None:
            if error is None:
                acked.append(message.key().decode())
            else:
                log.warning("outcome not acknowledged by Kafka (%s); will check and retry",
                            error)

        for row in send:
            payload = self.codec.encode("InspectionOutcome", inspection_outcome(row))
            self.producer.produce(self.topic, payload, key=row["event_id"].encode(),
                                  on_delivery=delivered)
        self.producer.flush(15)
        _mark(self.engine, acked, published_at=datetime.now(UTC))
        self.sent += len(acked)
        return len(acked)

    def _retry_allowed(self, rows: list[dict[str, Any]]) -> bool:
        """True once the bridge has read past the topic's end as it was when the rows that
        may be on Kafka were found (``_covered``); those may then be sent again."""
        if self._barrier is None:
            try:
                self._barrier = self.watermarks()
            except KafkaException as exc:
                log.warning("cannot read the end of %s (%s); retrying later", self.topic, exc)
                return False
            self._covered = {row["event_id"] for row in rows if row["attempts"]}
        read = self.offsets()
        if all(read.get((self.topic, p), 0) >= end for p, end in self._barrier.items()):
            self._barrier = None
            return True
        return False

    def run(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        """Publish until ``stop`` is set; ``wake`` sends at once after a recording."""
        while not stop.is_set():
            try:
                self.publish_due()
            except Exception:  # a database or broker hiccup: log it, keep going
                log.exception("outbox pass failed; retrying")
                stop.wait(1.0)
            self.wake.wait(idle_s)
            self.wake.clear()
        self.producer.flush(10)


def end_offsets(consumer: Any, topic: str) -> dict[int, int]:
    """The end offset of every partition of ``topic``."""
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
        for p in partitions
    }
