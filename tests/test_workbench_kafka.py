"""The workbench's Kafka side on the embedded broker: the bridge opens each case once however
often the verdicts topic is read, and the outbox puts each recorded outcome on
``riskstream.outcomes`` exactly once, also across the crash window between Kafka's
acknowledgement and the outbox's own record of it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from sqlalchemy import Engine, delete, func, select, update
from workbench_helpers import PASSWORD, verdict

from schemas import AvroCodec
from streams.kafka_config import consumer_config, producer_config
from streams.testing import Deployment
from workbench import actions
from workbench.bridge import VerdictBridge
from workbench.database import connect, migrate
from workbench.officers import add_officer
from workbench.outbox import OutboxPublisher, due, end_offsets
from workbench.outcomes import inspection_outcome
from workbench.tables import cases, consumer_offsets, outbox

pytestmark = [pytest.mark.kafka]
CODEC = AvroCodec()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = connect(f"sqlite:///{tmp_path}/cases.sqlite3")
    migrate(store)
    yield store
    store.dispose()


def _bridge(deployment: Deployment, engine: Engine) -> VerdictBridge:
    settings, topology = deployment.settings, deployment.topology
    return VerdictBridge(engine, Consumer(consumer_config(settings, "wb-test")), CODEC,
                         topology.verdicts, topology.outcomes)


def _drain(bridge: VerdictBridge, quiet_s: float = 1.0) -> None:
    """Poll until nothing came for ``quiet_s``."""
    last = time.monotonic()
    while time.monotonic() - last < quiet_s:
        if bridge.poll_once(timeout_s=0.1) is not None:
            last = time.monotonic()


def _produce_verdicts(deployment: Deployment, count: int) -> None:
    producer = Producer(producer_config(deployment.settings))
    levels = ("physical_inspection", "document_check", "release")
    for n in range(count):
        record = verdict(f"v{n}", level=levels[n % 3])
        producer.produce(deployment.topology.verdicts, CODEC.encode("RiskVerdict", record),
                         key=record["event_id"].encode())
    producer.flush(10)


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(table)  # type: ignore[arg-type]
        ).scalar_one())


def test_reading_the_verdicts_again_opens_no_case_twice(
    deployment: Deployment, engine: Engine
) -> None:
    _produce_verdicts(deployment, 30)
    first = _bridge(deployment, engine)
    first.assign()
    _drain(first)
    assert _count(engine, cases) == 20, "physical inspections and document checks only"
    first.consumer.close()
    # a restart resumes where the store says; forgetting the offsets replays the whole topic
    for forget in (False, True):
        if forget:
            with engine.begin() as connection:
                connection.execute(delete(consumer_offsets))
        again = _bridge(deployment, engine)
        again.assign()
        _drain(again)
        again.consumer.close()
        assert _count(engine, cases) == 20


def test_each_recorded_outcome_is_on_kafka_once_even_across_a_crash(
    deployment: Deployment, engine: Engine
) -> None:
    topology = deployment.topology
    _produce_verdicts(deployment, 4)  # v0..v3: three cases
    bridge = _bridge(deployment, engine)
    bridge.assign()
    _drain(bridge)
    olga = add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    for event_id in ("v0", "v1", "v3"):
        assert actions.claim(engine, event_id, olga) == actions.CLAIMED
        assert actions.record(engine, event_id, olga, "seizure") == actions.RECORDED
    # The crash window, as a previous process left it: v0 reached Kafka but its outbox row
    # was never marked; v1's send was lost. Both rows look the same: tried, unpublished.
    producer = Producer(producer_config(deployment.settings))
    (v0,) = [row for row in due(engine) if row["event_id"] == "v0"]
    producer.produce(topology.outcomes, CODEC.encode("InspectionOutcome", inspection_outcome(v0)),
                     key=b"v0")
    producer.flush(10)
    with engine.begin() as connection:
        connection.execute(update(outbox).where(outbox.c.event_id.in_(["v0", "v1"]))
                           .values(attempts=1))

    probe = Consumer(consumer_config(deployment.settings, "wb-test-probe"))
    publisher = OutboxPublisher(engine, producer, CODEC, topology.outcomes,
                                offsets=lambda: dict(bridge.position),
                                watermarks=lambda: end_offsets(probe, topology.outcomes))
    assert publisher.publish_due() == 1, "only v3 at once: v0 and v1 may be on Kafka"
    stop = threading.Event()
    runner = threading.Thread(target=publisher.run, args=(stop,), kwargs={"idle_s": 0.1})
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while due(engine) and time.monotonic() < deadline:
            bridge.poll_once(timeout_s=0.1)  # the bridge confirms v0 from the topic
    finally:
        stop.set()
        runner.join(20)
        probe.close()
    assert due(engine) == []
    on_kafka = Counter(
        (m.key() or b"").decode() for m in deployment.read_topic(topology.outcomes, idle_s=1.0)
    )
    print(f"outcomes on Kafka per case: {dict(on_kafka)}; publisher sent {publisher.sent}")
    assert on_kafka == {"v0": 1, "v1": 1, "v3": 1}
    assert publisher.sent == 2, "v1 and v3; v0 was confirmed by the bridge, not sent again"
    bridge.consumer.close()
