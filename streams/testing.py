"""Test harness that ships with riskstream, so users can test their own flows.

It works on any broker of streams.broker (embedded, or Apache Kafka): it creates an
isolated set of topics (one prefix per test), runs workers as real processes, and reads
topics back without a consumer-group join.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.admin import create_topics
from streams.demo import LOCAL_TIMINGS, stop_process
from streams.kafka_config import client_config, consumer_config, producer_config
from streams.settings import Settings
from streams.topology import Topology


@dataclass
class Deployment:
    """An isolated riskstream deployment (its own topic prefix) on a running broker."""

    bootstrap: str
    prefix: str
    workdir: Path
    # 1 suits the embedded broker and a one-node Kafka; a three-node cluster wants 3
    replication_factor: int = 1

    # built once: Settings() parses the environment (~2 ms), and helpers that produce or
    # read per record ask for settings and topology each time
    @cached_property
    def settings(self) -> Settings:
        return Settings(
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            replication_factor=self.replication_factor,
            # short sessions for quick rebalances: Apache Kafka needs its
            # group.min.session.timeout.ms lowered for them (ApacheKafkaCluster does)
            session_timeout_s=2.0,
            heartbeat_interval_s=0.5,
        )

    @cached_property
    def topology(self) -> Topology:
        return Topology.from_settings(self.settings)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **LOCAL_TIMINGS,
            "RISKSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "RISKSTREAM_TOPIC_PREFIX": self.prefix,
            **extra,
        }

    def producer(self) -> Producer:
        return Producer(producer_config(self.settings))

    @contextmanager
    def process(self, *args: str, name: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
        """Run ``riskstream ARGS`` as a child process; its output goes to ``workdir/name.log``."""
        log_path = self.workdir / f"{name}.log"
        env.setdefault("RISKSTREAM_DATA_DIR", str(self.workdir / f"{name}-data"))
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *args],
                env=self.env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield process
        finally:
            stop_process(process)

    def read_topic(
        self,
        topic: str,
        until: int | None = None,
        timeout_s: float = 30.0,
        idle_s: float | None = None,
    ) -> list[Message]:
        """Read a topic from the beginning: until ``until`` messages, or until nothing new
        came for ``idle_s`` seconds, or else to the end each partition has when the reader
        gets there (no idle wait); at most ``timeout_s``."""
        consumer = Consumer(consumer_config(
            self.settings, f"reader-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True}
        ))
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            messages: list[Message] = []
            at_end: set[int] = set()  # partitions read to the end they had (under a
            # steady producer, all of them are seldom at their end at the same moment)
            deadline = time.monotonic() + timeout_s
            last_seen = time.monotonic()
            while time.monotonic() < deadline:
                for message in consumer.consume(1000, 0.1):
                    error = message.error()
                    if error is None:
                        messages.append(message)
                        last_seen = time.monotonic()
                    elif error.code() == KafkaError._PARTITION_EOF:
                        at_end.add(message.partition() or 0)
                if until is not None:
                    if len(messages) >= until:
                        break
                elif idle_s is not None:
                    if time.monotonic() - last_seen > idle_s:
                        break
                elif len(at_end) == len(partitions):
                    break
            return messages
        finally:
            consumer.close()


def new_deployment(bootstrap: str, workdir: Path, replication_factor: int = 1) -> Deployment:
    """Create the topics of a fresh deployment with a unique prefix."""
    workdir.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(bootstrap, f"t{uuid.uuid4().hex[:10]}", workdir, replication_factor)
    create_topics(deployment.settings)
    wait_for_topics(deployment)
    return deployment


def wait_for_topics(deployment: Deployment, timeout_s: float = 15.0) -> None:
    """Until the broker's metadata shows every topic with all its partitions led.

    On a multi-node Apache Kafka, brokers learn of new topics from the controller a moment
    after CreateTopics answered; a reader that lists partitions then would find none.
    """
    admin = AdminClient({**client_config(deployment.settings), "log_level": 0})
    specs = list(deployment.topology.specs())
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        pending = [
            spec.name for spec in specs
            if spec.name not in topics
            or len(topics[spec.name].partitions) < spec.partitions
            or any(p.leader < 0 for p in topics[spec.name].partitions.values())
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics without leaders after {timeout_s:.0f} s: {pending}")
        time.sleep(0.05)
