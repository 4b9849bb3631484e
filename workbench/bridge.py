"""The Kafka side of the workbench: verdicts in as cases, outcomes in as closures.

It reads every partition of ``riskstream.verdicts`` and ``riskstream.outcomes`` by
assignment (one workbench per case store; no group join to wait for) and keeps its
position in the case store, written with what it read, so a restart resumes exactly there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from sqlalchemy import Engine

from schemas import AvroCodec, CodecError
from streams.reading import LOG_CHECK_S, restart_point
from workbench.ingest import Ingested, ingest, stored_offsets

log = logging.getLogger(__name__)


class VerdictBridge:
    """Reads verdicts and outcomes into the case store; ``on_batch`` sees each batch's effect."""

    def __init__(
        self,
        engine: Engine,
        consumer: Consumer,
        codec: AvroCodec,
        verdicts_topic: str,
        outcomes_topic: str,
        on_batch: Callable[[Ingested], None] = lambda report: None,
    ) -> None:
        self.engine = engine
        self.consumer = consumer
        self.codec = codec
        self.verdicts_topic = verdicts_topic
        self.outcomes_topic = outcomes_topic
        self.on_batch = on_batch
        self.position: dict[tuple[str, int], int] = {}

    def assign(self) -> None:
        """Start every partition where the case store says the last run stopped."""
        stored = stored_offsets(self.engine)
        assignment = []
        for topic in (self.verdicts_topic, self.outcomes_topic):
            partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
            for partition in sorted(partitions):
                offset = stored.get((topic, partition))
                assignment.append(TopicPartition(
                    topic, partition, OFFSET_BEGINNING if offset is None else offset
                ))
                if offset is not None:
                    self.position[(topic, partition)] = offset
        self.consumer.assign(assignment)

    def poll_once(self, max_messages: int = 500, timeout_s: float = 0.2) -> Ingested | None:
        """Read one batch and apply it; None when nothing came."""
        messages = [m for m in self.consumer.consume(max_messages, timeout_s)
                    if m.error() is None]
        if not messages:
            return None
        verdicts: list[dict[str, Any]] = []
        outcomes: list[dict[str, Any]] = []
        offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, partition = str(message.topic()), int(message.partition() or 0)
            offsets[(topic, partition)] = int(message.offset() or 0) + 1
            name = "RiskVerdict" if topic == self.verdicts_topic else "InspectionOutcome"
            try:
                record = self.codec.decode(name, message.value() or b"")
            except CodecError as exc:  # counted and skipped: the scorers' dead letters
                log.warning("workbench skipped record %s:%d:%d: %s", topic, partition,
                            message.offset(), exc)
                continue
            (verdicts if topic == self.verdicts_topic else outcomes).append(record)
        report = ingest(self.engine, verdicts, outcomes, offsets, datetime.now(UTC))
        self.position.update(offsets)
        self.on_batch(report)
        return report

    def check_logs(self) -> None:
        """Go back to the start of a log that was reset under the bridge (a broker that lost
        its storage): the embedded broker would otherwise answer with silence until the new
        log reached the old offset. Opening cases is idempotent, so reading again is safe."""
        for (topic, partition), expected in list(self.position.items()):
            reset = restart_point(self.consumer, topic, partition, expected)
            if reset is not None:
                log.warning("%s[%d] was reset under the workbench (now %d..%d, expected %d); "
                            "reading it from its start", topic, partition, *reset, expected)
                self.consumer.seek(TopicPartition(topic, partition, reset[0]))
                self.position[(topic, partition)] = reset[0]

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop`` is set; a failed batch is read again after a pause."""
        assigned, checked = False, time.monotonic()
        while not stop.is_set():
            try:
                if not assigned:
                    self.assign()  # where the store says: a failed batch is read again
                    assigned = True
                if self.poll_once() is None and time.monotonic() - checked > LOG_CHECK_S:
                    self.check_logs()
                    checked = time.monotonic()
            except Exception:
                log.exception("workbench could not read or store a batch; trying again")
                assigned = False
                stop.wait(1.0)
        self.consumer.close()
