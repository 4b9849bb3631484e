"""Model snapshots over Kafka: publish signed, chunked snapshots and follow the newest one.

The learner publishes two kinds to the compacted models topic: ``model`` (what scorers
load) and ``learner`` (the learner's whole state, for an exact restart). Both are sealed
with an HMAC before they leave the process, and verified before anything is unpickled.
Large snapshots are split into chunks under the broker's message limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from learning.snapshot import Reassembler, SnapshotError, chunk, unseal
from streams.kafka_config import consumer_config
from streams.reading import LOG_CHECK_S, restart_point, to_current_end
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


def snapshot_consumer(settings: Settings, **overrides: Any) -> Consumer:
    """A consumer of the models topic from its start, outside any group (every reader sees all)."""
    topic = Topology.from_settings(settings).models
    consumer = Consumer(
        consumer_config(
            settings,
            f"{settings.topic_prefix}-snapshots-unused",
            **{"enable.partition.eof": True, "fetch.message.max.bytes": SNAPSHOT_MAX_BYTES},
            **overrides,
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
        for message in to_current_end(consumer, timeout_s):
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
    use; scoring never pauses for a swap (the swap is one reference assignment). If the
    models topic is reset under it (a broker that lost its storage), the model in use
    stays, and the follower reads the topic again from its new start, so the next snapshot
    the learner publishes is loaded. ``client_settings`` go to its consumer (e.g. a
    :class:`~streams.admin.BrokerWatch`'s, so that its errors are watched too).
    """

    def __init__(
        self,
        settings: Settings,
        on_model: Callable[[dict[str, Any], Any], None],
        on_refused: Callable[[str], None] = lambda reason: None,
        kind: str = "model",
        client_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.on_model = on_model
        self.on_refused = on_refused
        self.kind = kind
        self.client_settings = dict(client_settings or {})
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
        consumer = snapshot_consumer(self.settings, **self.client_settings)
        assembler = Reassembler()
        pending: bytes | None = None
        checked = time.monotonic()
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.1)
                if time.monotonic() - checked >= LOG_CHECK_S:
                    checked = time.monotonic()
                    if self._reread_if_reset(consumer):
                        assembler, pending = Reassembler(), None
                        continue
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

    def _reread_if_reset(self, consumer: Consumer) -> bool:
        """Seek to the start of the models topic if the log under the follower was reset."""
        topic = Topology.from_settings(self.settings).models
        try:
            (position,) = consumer.position([TopicPartition(topic, 0)])
        except KafkaException:
            return False
        if position.offset < 0:  # nothing read yet
            return False
        moved = restart_point(consumer, topic, 0, position.offset)
        if moved is None:
            return False
        start, end = moved
        log.warning(
            "%s was reset or trimmed (read up to offset %d, its log now holds %d to %d): "
            "reading it again from %d; the model in use stays until a new snapshot arrives",
            topic, position.offset, start, end, start,
        )
        consumer.assign([TopicPartition(topic, 0, start)])  # a new start position
        return True

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
