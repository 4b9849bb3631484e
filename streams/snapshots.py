"""Model snapshots over Kafka: publish signed, chunked snapshots and follow the newest one.

The learner publishes two kinds to the compacted models topic: ``model`` (what scorers
load) and ``learner`` (the learner's whole state, for an exact restart). Both are sealed
with an HMAC before they leave the process, and verified before anything is unpickled.
Large snapshots are split into chunks under the broker's message limit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from learning.snapshot import Reassembler, SnapshotError, chunk, unseal
from streams.kafka_config import consumer_config
from streams.reading import until_end
from streams.settings import Settings
from streams.topology import SNAPSHOT_MAX_BYTES, Topology

log = logging.getLogger(__name__)

# Kafka's default message limit is ~1 MB; chunks stay well under it so no broker or
# client setting has to change for snapshots.
CHUNK_BYTES = 512 * 1024


def publish(producer: Producer, settings: Settings, kind: str, blob: bytes) -> int:
    """Publish a sealed snapshot as chunks keyed ``kind/index``; return the chunk count."""
    topic = Topology.from_settings(settings).models
    parts = chunk(blob, CHUNK_BYTES)
    for index, part in enumerate(parts):
        producer.produce(topic, part, key=f"{kind}/{index}".encode())
    producer.flush(30)
    return len(parts)


def snapshot_consumer(settings: Settings) -> Consumer:
    """A consumer of the models topic from its start, outside any group (every reader sees all)."""
    topic = Topology.from_settings(settings).models
    consumer = Consumer(
        consumer_config(
            settings,
            f"{settings.topic_prefix}-snapshots-unused",
            **{"enable.partition.eof": True, "fetch.message.max.bytes": SNAPSHOT_MAX_BYTES},
        )
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    return consumer


def read_newest(settings: Settings, kind: str, timeout_s: float = 10.0) -> bytes | None:
    """The newest complete sealed snapshot of ``kind`` on the models topic, or None."""
    consumer = snapshot_consumer(settings)
    assembler = Reassembler()
    newest: bytes | None = None
    try:
        for message in until_end(consumer, timeout_s):
            if (message.key() or b"").decode().split("/")[0] != kind:
                continue
            complete = assembler.add(message.value() or b"")
            if complete is not None:
                newest = complete
    finally:
        consumer.close()
    return newest


class SnapshotFollower:
    """Follow the models topic in a background thread and hand each verified model over.

    A snapshot that fails verification is refused loudly and the previous model stays in
    use; scoring never pauses for a swap (the swap is one reference assignment).
    """

    def __init__(
        self,
        settings: Settings,
        on_model: Callable[[dict[str, Any], Any], None],
        on_refused: Callable[[str], None] = lambda reason: None,
        kind: str = "model",
    ) -> None:
        self.settings = settings
        self.on_model = on_model
        self.on_refused = on_refused
        self.kind = kind
        self._key = settings.snapshot_key.get_secret_value().encode()
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot-follower", daemon=True)

    def start(self, wait_s: float = 10.0) -> bool:
        """Start following; block until the topic was read to its end once (or ``wait_s``)."""
        self._thread.start()
        return self._caught_up.wait(wait_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        consumer = snapshot_consumer(self.settings)
        assembler = Reassembler()
        pending: bytes | None = None
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.1)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        # load only the newest of a backlog, then signal readiness
                        if pending is not None:
                            self._load(pending)
                            pending = None
                        self._caught_up.set()
                    continue
                if (message.key() or b"").decode().split("/")[0] != self.kind:
                    continue
                try:
                    complete = assembler.add(message.value() or b"")
                except SnapshotError as exc:
                    self._refuse(str(exc))
                    continue
                if complete is not None:
                    pending = complete
                    if self._caught_up.is_set():
                        self._load(pending)
                        pending = None
        finally:
            consumer.close()

    def _load(self, blob: bytes) -> None:
        try:
            meta, model = unseal(blob, self._key)
        except SnapshotError as exc:
            self._refuse(str(exc))
            return
        self.on_model(meta, model)

    def _refuse(self, reason: str) -> None:
        log.error("refused a model snapshot, keeping the previous model: %s", reason)
        self.on_refused(reason)
