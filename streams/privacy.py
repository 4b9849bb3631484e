"""Data-protection operations on a running deployment: erasure requests and dead-letter repair.

* ``riskstream privacy erase`` reads a subject's personal values on standard input (never on
  the command line, where shell history and ``ps`` would keep them), turns them into their
  tokens under every honoured pseudonymisation key, and publishes an ``ErasureRequest`` to the
  privacy topic. Only tokens travel; the learner applies the request and publishes a snapshot
  without the subject's profiles (see :mod:`learning.privacy`).
* ``riskstream deadletter open`` reads the dead-letter topic and writes each rejected payload,
  unsealed, to a folder, for whoever holds the dead-letter key to repair and republish.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas import AvroCodec, CodecError
from streams.kafka_config import consumer_config, producer_config
from streams.reading import to_current_end
from streams.registry import registry_for
from streams.runtime import build_payload_seal, build_pseudonymiser
from streams.settings import Settings
from streams.topology import Topology


def erasure_request(
    settings: Settings, values: Iterable[str], request_id: str | None = None
) -> dict[str, Any]:
    """The ``ErasureRequest`` of the subject whose personal ``values`` are given."""
    cleaned = [v for v in (value.strip() for value in values) if v]
    if not cleaned:
        raise ValueError("no personal value given: one per line on standard input")
    return {
        "request_id": request_id or f"erasure-{uuid.uuid4().hex[:12]}",
        "tokens": build_pseudonymiser(settings).subject_tokens(cleaned),
        "requested_at": datetime.now(UTC),
    }


def publish_erasure(settings: Settings, request: dict[str, Any], timeout_s: float = 15.0) -> None:
    """Publish ``request`` to the privacy topic and wait until the broker has it."""
    topic = Topology.from_settings(settings).privacy
    value = AvroCodec(registry_for(settings)).encode("ErasureRequest", request)
    failures: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer(producer_config(settings, **{"linger.ms": 0}))
    producer.produce(topic, value, key=request["request_id"].encode(), on_delivery=delivered)
    if producer.flush(timeout_s) or failures:
        raise RuntimeError(
            f"erasure request {request['request_id']} not delivered to {topic}: "
            f"{'; '.join(failures) or 'timed out'}"
        )


@dataclass(frozen=True)
class OpenedLetter:
    """One dead letter written out: where it came from, why, and the file with its bytes."""

    source: str
    reason: str
    path: Path | None  # None when the payload was dropped or does not open


def open_dead_letters(
    settings: Settings, out_dir: Path, timeout_s: float = 20.0
) -> list[OpenedLetter]:
    """Write every dead letter's payload, unsealed, to ``out_dir``; what was found."""
    topology = Topology.from_settings(settings)
    codec = AvroCodec(registry_for(settings))
    seal = build_payload_seal(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    consumer = Consumer(consumer_config(
        settings, f"deadletter-open-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True}
    ))
    opened: list[OpenedLetter] = []
    try:
        consumer.assign([TopicPartition(topology.deadletter, 0, 0)])
        for message in to_current_end(consumer, timeout_s):
            letter = codec.decode("DeadLetter", message.value() or b"")
            source = f"{letter['source_topic']}:{letter['partition']}:{letter['offset']}"
            raw, path = letter["raw_payload"], None
            protection = letter.get("raw_payload_protection")
            try:
                if protection == "sealed":
                    raw = seal.open(raw)
                if protection != "dropped":
                    path = out_dir / f"{source.replace(':', '-')}.bin"
                    path.write_bytes(raw)
            except CodecError:
                path = None  # sealed under another key: reported, not written
            opened.append(OpenedLetter(source, letter["reason"], path))
    finally:
        consumer.close()
    return opened
