"""A scorer's warm start from the log (streams.recovery), on each broker: the decisions it
reads back, and where its reading stops."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas import AvroCodec
from simulator import HubWorld
from streams.kafka_config import consumer_config
from streams.reading import up_to
from streams.recovery import remember_recent_decisions
from streams.runtime import build_policy, build_scoring_service
from streams.testing import Deployment
from streams.topology import STREAM_SCHEMAS

pytestmark = [pytest.mark.kafka, pytest.mark.both_brokers]


def test_a_decision_only_its_verdict_holds_is_given_again(deployment: Deployment) -> None:
    """A scorer killed between an event's two outputs leaves its verdict without its scored
    record: a restarted scorer still gives the event the verdict's decision."""
    codec = AvroCodec()
    service = build_scoring_service(deployment.settings)
    world = HubWorld(seed=41)
    producer = deployment.producer()
    schema = STREAM_SCHEMAS["postal"]
    outputs = [
        service.score("postal", service.pseudonymiser.apply(
            schema, world.event("postal", "hub_FRA", datetime.now(UTC)).record))
        for _ in range(60)
    ]
    for result in outputs[:-1]:  # both outputs of all but the last event
        for out in result.outbound:
            producer.produce(out.topic, out.value, key=out.key)
    last = outputs[-1]
    verdict_out = next(o for o in last.outbound if o.topic == deployment.topology.verdicts)
    verdict = codec.decode("RiskVerdict", verdict_out.value)
    # the published decision: an inspection the model chose, at a score that a fresh lane
    # would not select
    verdict.update(level="physical_inspection", selection_kind="model", score=0.0, priority=0.0)
    producer.produce(verdict_out.topic, codec.encode("RiskVerdict", verdict), key=verdict_out.key)
    producer.flush(30)

    event_id, hub = verdict["event_id"], verdict["hub"]
    control = build_policy(deployment.settings)
    remember_recent_decisions(deployment.settings, control, codec)
    restarted = build_policy(deployment.settings)
    read = remember_recent_decisions(deployment.settings, restarted, codec)
    control._recalled.clear()  # as before recall existed: the scored records alone
    without = control.decide("postal", hub, event_id, 0.0)
    given = restarted.decide("postal", hub, event_id, 0.0)
    print(f"read back {read} decisions; without the verdict's: {without.kind}, with: {given.kind}")
    assert read == len(outputs)
    assert without.kind != "model", "the test needs a decision the scored records cannot give"
    assert (given.level, given.kind) == ("physical_inspection", "model")


def test_reading_a_tail_stops_at_the_ends_it_began_with(deployment: Deployment) -> None:
    """Others keep writing the scored topic during a recovery: the reader takes what was
    there when it began and stops, instead of chasing the log."""
    topic = deployment.topology.scored
    producer = deployment.producer()
    for i in range(500):
        producer.produce(topic, b"x" * 100, key=f"before-{i}".encode())
    producer.flush(30)
    stop = threading.Event()

    def keep_writing() -> None:
        writer = deployment.producer()
        i = 0
        while not stop.is_set():
            writer.produce(topic, b"y" * 100, key=f"during-{i}".encode())
            writer.poll(0)
            i += 1
            time.sleep(0.001)
        writer.flush(30)

    thread = threading.Thread(target=keep_writing, daemon=True)
    thread.start()
    consumer = Consumer(consumer_config(deployment.settings, "tail-reader",
                                        **{"enable.partition.eof": True}))
    try:
        time.sleep(0.5)  # the writer is under way
        _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, 0)])
        started = time.monotonic()
        offsets = [m.offset() for m in up_to(consumer, {(topic, 0): end}, timeout_s=60)]
        took = time.monotonic() - started
        time.sleep(0.5)
        _, grown = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        stop.set()
        thread.join(30)
        consumer.close()
    print(f"read {len(offsets)} records (the end was {end} when it began) in {took:.2f} s; "
          f"the log has {grown} now")
    assert end > 500, "records were written during the read"
    assert offsets == list(range(len(offsets))) and len(offsets) >= end, (
        "every record up to the end it began with")
    assert took < 30, "stopped at the end, not at the timeout"
    assert grown > len(offsets), "the writer went on after the reader stopped"
