"""The scorer worker end to end on both brokers (embedded and Apache Kafka): verdicts, dead
letters, privacy."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime

import pytest

from schemas import AvroCodec
from simulator import HubWorld, personal_values
from streams.testing import Deployment
from streams.topology import STREAM_SCHEMAS

pytestmark = [pytest.mark.kafka, pytest.mark.both_brokers]

PER_STREAM = 60
HUBS = {"courier": "hub_LEJ", "postal": "hub_FRA", "passenger": "hub_MUC"}


def test_worker_scores_every_event_once_and_parks_bad_input(deployment: Deployment) -> None:
    codec = AvroCodec()
    world = HubWorld(seed=11)
    start = datetime.now(UTC)
    topology = deployment.topology
    producer = deployment.producer()

    produced: dict[str, str] = {}
    secrets: set[str] = set()
    bad = 0
    counter = itertools.count()
    for stream in STREAM_SCHEMAS:
        hub = HUBS[stream]
        for _ in range(PER_STREAM):
            event = world.event(stream, hub, start)
            record = event.record
            producer.produce(
                topology.events(stream),
                codec.encode(STREAM_SCHEMAS[stream], record),
                key=record["event_id"].encode(),
            )
            produced[record["event_id"]] = stream
            secrets |= personal_values(record, stream)
            n = next(counter)
            if n % 20 == 0:  # malformed bytes between valid events
                producer.produce(topology.events(stream), b"\x07garbage", key=b"bad")
                producer.produce(topology.events(stream), b"\x00\x00garbage", key=b"bad")
                bad += 2
            if n % 25 == 0:  # schema-valid framing, semantically invalid record
                if stream == "passenger":
                    broken = dict(record, event_id=f"{record['event_id']}-x", hub="")
                else:
                    broken = dict(record, event_id=f"{record['event_id']}-x", gross_weight_kg=-1.0)
                producer.produce(
                    topology.events(stream),
                    codec.encode(STREAM_SCHEMAS[stream], broken),
                    key=broken["event_id"].encode(),
                )
                bad += 1
    producer.flush(10)

    # the faust engine here; the other Kafka tests run the default, fast engine
    with deployment.process("worker", "--engine", "faust", name="worker"):
        verdicts = deployment.read_topic(topology.verdicts, until=len(produced), timeout_s=90)
        letters = deployment.read_topic(topology.deadletter, until=bad, timeout_s=20)

    keys = Counter(m.key().decode() for m in verdicts)
    assert set(keys) == set(produced), "every valid event, and only those, got a verdict"
    assert max(keys.values()) == 1, "exactly one verdict key per event"
    decoded = [codec.decode("RiskVerdict", m.value()) for m in verdicts]
    assert {v["stream"] for v in decoded} == set(STREAM_SCHEMAS)
    assert all(v["reasons"] for v in decoded), "every verdict carries a reason"

    assert len(letters) == bad
    reasons = [codec.decode("DeadLetter", m.value()) for m in letters]
    assert {r["error_kind"] for r in reasons} >= {"framing", "unknown_schema", "validation"}
    for letter in reasons:
        assert letter["source_topic"].startswith(deployment.prefix)
        assert "rejected:" in letter["reason"]
        assert letter["raw_payload"], "the raw bytes are kept for repair and replay"
    assert any("gross_weight_kg" in r["reason"] for r in reasons)

    raw = b"".join(m.value() for m in verdicts)
    leaked = {value for value in secrets if value.encode() in raw}
    assert not leaked, f"{len(leaked)} personal values appear in verdicts"
