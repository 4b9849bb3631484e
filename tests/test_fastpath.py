"""The confluent-kafka scorer loop (streams.fastpath) end to end on the embedded broker."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas import AvroCodec
from simulator import HubWorld
from streams.kafka_config import consumer_config
from streams.runtime import build_payload_seal
from streams.testing import Deployment
from streams.topology import STREAM_SCHEMAS, STREAMS

pytestmark = pytest.mark.kafka

HUBS = {"courier": "hub_LEJ", "postal": "hub_FRA", "passenger": "hub_MUC"}


def fast_worker(
    deployment: Deployment, name: str
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """``riskstream worker --engine fast`` as a child, logging to the deployment's workdir."""
    return deployment.process("worker", "--engine", "fast", name=name)


def publish(deployment: Deployment, per_stream: int, seed: int) -> dict[str, tuple[str, int, int]]:
    """Publish valid events; return event id -> (topic, partition, offset)."""
    codec, world, start = AvroCodec(), HubWorld(seed=seed), datetime.now(UTC)
    placed: dict[str, tuple[str, int, int]] = {}

    def delivered(error: Any, message: Any) -> None:
        assert error is None, error
        placed[message.key().decode()] = (message.topic(), message.partition(), message.offset())

    producer = deployment.producer()
    for stream in STREAMS:
        topic = deployment.topology.events(stream)
        for _ in range(per_stream):
            record = world.event(stream, HUBS[stream], start).record
            payload = codec.encode(STREAM_SCHEMAS[stream], record)
            producer.produce(topic, payload, key=record["event_id"].encode(), on_delivery=delivered)
        producer.poll(0)
    producer.flush(10)
    return placed


def test_fast_worker_scores_each_event_once_and_parks_bad_bytes(deployment: Deployment) -> None:
    placed = publish(deployment, per_stream=40, seed=5)
    producer = deployment.producer()
    for stream in STREAMS:
        producer.produce(deployment.topology.events(stream), b"\x07not avro", key=b"bad")
    producer.produce(deployment.topology.events("postal"), b"", key=b"empty")
    producer.flush(10)
    topology = deployment.topology

    with fast_worker(deployment, "fast"):
        verdicts = deployment.read_topic(topology.verdicts, until=len(placed), timeout_s=60)
        letters = deployment.read_topic(topology.deadletter, until=4, timeout_s=20)
        scored = deployment.read_topic(topology.scored, until=len(placed), timeout_s=20)

    keys = Counter(m.key().decode() for m in verdicts)
    assert set(keys) == set(placed), "every valid event, and only those, got a verdict"
    assert max(keys.values()) == 1, "one verdict per event"
    assert {m.key().decode() for m in scored} == set(placed), "the learner gets every decision"
    codec = AvroCodec()
    parked = [codec.decode("DeadLetter", m.value()) for m in letters]
    assert len(parked) == 4
    assert {p["error_kind"] for p in parked} == {"framing"}
    seal = build_payload_seal(deployment.settings)
    assert {seal.open(p["raw_payload"]) for p in parked} == {b"\x07not avro", b""}
    assert all(p["source_topic"].startswith(deployment.prefix) for p in parked)


def verdict_keys_covering(
    deployment: Deployment, wanted: set[str], timeout_s: float, grace_s: float = 1.0
) -> Counter[str]:
    """Verdict keys from the start, read until every wanted id is there (and ``grace_s``
    more, for the counts: a redelivered verdict may still be in flight)."""
    topic = deployment.topology.verdicts
    consumer = Consumer(consumer_config(deployment.settings, "test-reader"))
    consumer.assign([
        TopicPartition(topic, p, 0) for p in range(deployment.settings.verdict_partitions)
    ])
    keys: Counter[str] = Counter()
    deadline, grace = time.monotonic() + timeout_s, None
    try:
        while time.monotonic() < deadline and (grace is None or time.monotonic() < grace):
            for message in consumer.consume(1000, 0.1):
                if message.error() is None:
                    keys[message.key().decode()] += 1
            if grace is None and wanted <= keys.keys():
                grace = time.monotonic() + grace_s
    finally:
        consumer.close()
    return keys


def committed_offsets(deployment: Deployment) -> dict[tuple[str, int], int]:
    """The scorer group's committed offsets, read without joining the group."""
    settings = deployment.settings
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}-scorer"))
    try:
        partitions = [
            TopicPartition(deployment.topology.events(stream), p)
            for stream in STREAMS
            for p in range(settings.event_partitions)
        ]
        found = consumer.committed(partitions, timeout=10)
        return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}
    finally:
        consumer.close()


def test_fast_worker_commits_only_what_has_verdicts(deployment: Deployment) -> None:
    placed = publish(deployment, per_stream=800, seed=6)
    verdicts_topic = deployment.topology.verdicts

    with fast_worker(deployment, "killed") as process:
        seen = deployment.read_topic(verdicts_topic, until=len(placed) // 3, timeout_s=60)
        process.kill()  # no clean shutdown: no final flush, no final commit
        process.wait(10)
    time.sleep(0.5)  # let acknowledged-but-unread verdicts settle before reading back
    before = Counter(m.key().decode() for m in deployment.read_topic(verdicts_topic))
    committed = committed_offsets(deployment)

    def is_committed(event_id: str) -> bool:
        topic, partition, offset = placed[event_id]
        return offset < committed.get((topic, partition), 0)

    assert len(seen) < len(placed), "the worker was killed mid-stream"
    assert all(event_id in before for event_id in placed if is_committed(event_id)), (
        "an offset was committed before its verdict was acknowledged"
    )
    tail = {event_id for event_id in placed if not is_committed(event_id)}
    assert tail, "the kill left records that were not committed"

    with fast_worker(deployment, "restarted"):
        keys = verdict_keys_covering(deployment, set(placed), timeout_s=90)
    assert set(keys) == set(placed), "after the restart every event has a verdict"
    again = {event_id for event_id, n in keys.items() if n > 1}
    assert again <= tail, "only the uncommitted tail was scored again"
