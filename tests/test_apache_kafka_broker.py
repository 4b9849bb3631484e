"""The Apache Kafka harness (streams.broker.ApacheKafkaCluster): real KRaft nodes on disk.

What the embedded broker cannot show: acknowledged records and committed offsets survive a
kill -9, and on three nodes a killed partition leader hands over without losing a record
that ``acks=all`` confirmed.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)

import streams.broker
from streams.broker import ApacheKafkaCluster, KafkaToolMissing, kafka_jars
from streams.testing import new_deployment

pytestmark = pytest.mark.apache_kafka


def make_topic(bootstrap: str, partitions: int = 1, **config: str) -> str:
    """A new topic with the broker's default replication factor (KIP-464: -1), once every
    partition has a leader: brokers learn of new topics from the controller a bit later."""
    name = f"t{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    futures = admin.create_topics([NewTopic(name, partitions, -1, config=config)])
    futures[name].result(15)
    deadline = time.monotonic() + 15
    while True:
        topic = admin.list_topics(name, timeout=10).topics[name]
        leaders = [p.leader for p in topic.partitions.values()]
        if topic.error is None and len(leaders) == partitions and min(leaders) >= 0:
            return name
        assert time.monotonic() < deadline, f"topic {name} has no leaders: {topic.error}"
        time.sleep(0.05)


def producer(bootstrap: str) -> Producer:
    return Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        # outlives a restart: a record is either acknowledged or still being retried
        "message.timeout.ms": 60_000,
        "log_level": 0,  # connection errors are the point of these tests
    })


class LoadProducer:
    """Produce numbered records in a thread, at a bounded rate and count, and keep the
    numbers the broker acknowledged (``acks=all``) and when."""

    def __init__(self, bootstrap: str, topic: str, partition: int = 0, limit: int = 60_000):
        self.topic = topic
        self.partition = partition
        self.limit = limit
        self.acked: list[tuple[float, int]] = []
        self.failed: list[KafkaError] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._producer = producer(bootstrap)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        with self._lock:
            if error is None:
                self.acked.append((time.monotonic(), int(message.value() or b"")))
            else:
                self.failed.append(error)

    def _run(self) -> None:
        sent = 0
        while sent < self.limit and not self._stop.is_set():
            try:
                self._producer.produce(
                    self.topic, str(sent).encode(), partition=self.partition,
                    on_delivery=self._delivered,
                )
                sent += 1
            except BufferError:  # the local queue is full while the broker is down
                self._producer.poll(0.1)
                continue
            self._producer.poll(0)
            if sent % 10 == 0:
                time.sleep(0.005)  # ~2k records/s at most: a load, not a flood
        while not self._stop.is_set():  # delivery reports arrive in poll
            self._producer.poll(0.1)

    def start(self) -> LoadProducer:
        self._thread.start()
        return self

    def count(self, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for at, _ in self.acked if at >= since)

    def wait_for(self, n: int, since: float = 0.0, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.count(since) < n:
            assert time.monotonic() < deadline, (
                f"only {self.count(since)} of {n} records acknowledged in {timeout_s} s; "
                f"errors: {self.failed[:3]}"
            )
            time.sleep(0.05)

    def finish(self) -> set[int]:
        """Stop producing, wait for every outstanding delivery, and return the acked set."""
        self._stop.set()
        self._thread.join(10)
        assert self._producer.flush(60) == 0, "records still undelivered after 60 s"
        with self._lock:
            return {value for _, value in self.acked}


def read_partition(bootstrap: str, topic: str, partition: int, expect: int) -> list[int]:
    """Every record of one partition, from offset 0 to its end."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False, "log_level": 0,
    })
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        assert high >= expect, f"partition ends at {high}, {expect} records acknowledged"
        consumer.assign([TopicPartition(topic, partition, 0)])
        values: list[int] = []
        deadline = time.monotonic() + 30
        while len(values) < high and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                assert message.error() is None, message.error()
                values.append(int(message.value() or b""))
        return values
    finally:
        consumer.close()


def group_consumer(bootstrap: str, group: str, **extra: Any) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "group.protocol": "classic",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        # the 2 s sessions of streams.testing: the harness lowers Kafka's 6 s minimum
        "session.timeout.ms": 2000, "heartbeat.interval.ms": 500, "log_level": 0, **extra,
    })


def test_missing_java_skips_with_the_requirement_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.broker.shutil.which", lambda name: None)
    with pytest.raises(KafkaToolMissing, match="needs java"):
        kafka_jars()


def test_parallel_fetches_wait_for_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second caller blocks on the lock and then takes the first caller's jars."""
    import fcntl
    import hashlib

    monkeypatch.delenv(streams.broker.KAFKA_JARS_ENV, raising=False)
    monkeypatch.setattr("streams.broker.shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("streams.broker.subprocess.run", pytest.fail)  # no second fetch
    jars = tmp_path / "4.1.0"
    result: list[Path] = []
    with open(tmp_path / "4.1.0.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # "the first caller", fetching
        waiter = threading.Thread(target=lambda: result.append(kafka_jars(jars)))
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and not result
        jars.mkdir()
        pom = (streams.broker.KAFKA_DEPLOY / "pom.xml").read_bytes()
        (jars / ".fetched").write_text(hashlib.sha256(pom).hexdigest() + "\n")
    waiter.join(5)
    assert result == [jars]


def test_single_node_round_trip(apache_kafka: ApacheKafkaCluster) -> None:
    topic = make_topic(apache_kafka.bootstrap, partitions=3)
    out = producer(apache_kafka.bootstrap)
    acked: list[int] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is None:
            acked.append(int(message.value() or b""))

    for i in range(500):
        out.produce(topic, str(i).encode(), key=str(i).encode(), on_delivery=delivered)
    assert out.flush(15) == 0
    assert sorted(acked) == list(range(500))

    consumer = group_consumer(apache_kafka.bootstrap, f"g-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([topic])
    seen: list[int] = []
    deadline = time.monotonic() + 30
    try:
        while len(seen) < 500 and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                assert message.error() is None, message.error()
                seen.append(int(message.value() or b""))
    finally:
        consumer.close()
    assert sorted(seen) == list(range(500))


def test_deployment_topics_are_created_as_declared(
    apache_kafka: ApacheKafkaCluster, tmp_path: Path
) -> None:
    """streams.testing's topics (partitions, compaction, 16 MB snapshots) on real Kafka."""
    deployment = new_deployment(apache_kafka.bootstrap, tmp_path)
    admin = AdminClient({"bootstrap.servers": apache_kafka.bootstrap, "log_level": 0})
    topics = admin.list_topics(timeout=10).topics
    for spec in deployment.topology.specs():
        assert len(topics[spec.name].partitions) == spec.partitions, spec.name
    (described,) = admin.describe_configs(
        [ConfigResource("topic", deployment.topology.models)]
    ).values()
    config = described.result(10)
    assert config["cleanup.policy"].value == "compact"
    assert config["max.message.bytes"].value == str(16 * 1024 * 1024)


def test_acked_records_and_offsets_survive_kill_9(apache_kafka: ApacheKafkaCluster) -> None:
    bootstrap = apache_kafka.bootstrap
    topic = make_topic(bootstrap)
    group = f"g-{uuid.uuid4().hex[:8]}"
    # a group reads the first records and commits where it stopped
    load = LoadProducer(bootstrap, topic).start()
    load.wait_for(300)
    consumer = group_consumer(bootstrap, group)
    consumer.subscribe([topic])
    read = 0
    deadline = time.monotonic() + 30
    while read < 200 and time.monotonic() < deadline:
        read += sum(1 for m in consumer.consume(200 - read, 0.5) if m.error() is None)
    assert read == 200
    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    consumer.close()
    assert committed == 200

    load.wait_for(2000)
    try:
        apache_kafka.node(1).kill()  # mid-load, with records in flight
        killed_at = time.monotonic()
        time.sleep(1.0)  # down for a moment: the producer queues and retries
        apache_kafka.restart()
    finally:
        if not apache_kafka.running:
            apache_kafka.start()  # leave the session's node up, whatever happened
    load.wait_for(1000, since=killed_at, timeout_s=60)  # production goes on after restart
    acked = load.finish()

    values = read_partition(bootstrap, topic, 0, len(acked))
    assert acked <= set(values), f"lost {len(acked - set(values))} acknowledged records"
    assert len(values) == len(set(values)), "idempotence broke: duplicates after restart"
    # the group's offset is still there: a member of the same group resumes at record 200
    again = group_consumer(bootstrap, group)
    try:
        assert again.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == committed
        again.subscribe([topic])
        first: Message | None = None
        deadline = time.monotonic() + 30
        while first is None and time.monotonic() < deadline:
            first = next((m for m in again.consume(1, 0.5) if m.error() is None), None)
        assert first is not None and first.offset() == committed
    finally:
        again.close()


def test_leader_failover_loses_nothing_acknowledged(
    apache_kafka_cluster: ApacheKafkaCluster, tmp_path: Path
) -> None:
    cluster = apache_kafka_cluster
    topic = make_topic(cluster.bootstrap, partitions=3, **{"min.insync.replicas": "2"})
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 0})
    partition = admin.list_topics(topic, timeout=10).topics[topic].partitions[0]
    assert len(partition.replicas) == 3 and len(partition.isrs) == 3

    load = LoadProducer(cluster.bootstrap, topic).start()
    load.wait_for(2000)
    leader = cluster.leader(topic, 0)
    try:
        cluster.kill_node(leader)
        killed_at = time.monotonic()
        # acks=all with two of three replicas in sync: production goes on after re-election
        load.wait_for(2000, since=killed_at, timeout_s=60)
        new_leader = cluster.leader(topic, 0)
        assert new_leader != leader
    finally:
        cluster.start_node(leader)
    acked = load.finish()

    values = read_partition(cluster.bootstrap, topic, 0, len(acked))
    assert acked <= set(values), f"lost {len(acked - set(values))} acknowledged records"
    # the restarted node catches up and rejoins the in-sync replicas
    deadline = time.monotonic() + 60
    while True:
        isrs = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].isrs
        if leader in isrs:
            break
        assert time.monotonic() < deadline, f"node {leader} not back in sync: ISR {isrs}"
        time.sleep(0.2)

    # the deployment's topics on the cluster get the cluster's replication
    deployment = new_deployment(cluster.bootstrap, tmp_path, replication_factor=3)
    specs = {spec.name: spec.partitions for spec in deployment.topology.specs()}
    deadline = time.monotonic() + 15
    while True:  # this admin may ask another broker than new_deployment did, a moment behind
        topics = admin.list_topics(timeout=10).topics
        if all(name in topics for name in specs) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for name, partitions in specs.items():
        assert len(topics[name].partitions) == partitions, name
        assert all(len(p.replicas) == 3 for p in topics[name].partitions.values()), name
