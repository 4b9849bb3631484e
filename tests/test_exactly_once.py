"""Exactly-once mode (RISKSTREAM_PROCESSING_GUARANTEE=exactly_once).

* On the embedded broker, which accepts transactions but shows aborted records to
  read_committed readers, the scorer and the learner refuse to start, saying why.
* On Apache Kafka, a fast scorer killed with SIGKILL mid-transaction 20 times in a row,
  under a steady feed, leaves every acknowledged event with exactly one verdict and one
  scored record in the read_committed view; the verdicts of the aborted transactions are
  in the log, and hidden.
* The learner's snapshots and its group offsets are committed in the same transactions.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from test_apache_kafka_durability import AckedFeed, records_of, sealed
from test_fastpath import verdict_keys_covering
from test_learning_loop import scrape, wait_for

from streams.broker import ApacheKafkaCluster, EmbeddedBroker, free_port
from streams.kafka_config import consumer_config
from streams.testing import Deployment, new_deployment
from streams.transactions import ExactlyOnceUnsupported, check_transactions

EXACTLY_ONCE = {"RISKSTREAM_PROCESSING_GUARANTEE": "exactly_once"}
KILLS = 20
RATE = 150  # events per second over the three streams


def read_to_end(deployment: Deployment, topic: str, isolation: str) -> list[Message]:
    """Every record of ``topic`` that a reader of ``isolation`` sees, up to each
    partition's end now (read_committed: its last stable offset)."""
    consumer = Consumer(consumer_config(
        deployment.settings, "eos-reader-unused",
        **{"isolation.level": isolation, "enable.partition.eof": True}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: list[Message] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + 30
        while len(at_end) < len(partitions):
            assert time.monotonic() < deadline, f"{topic}: {len(at_end)} partitions read"
            for message in consumer.consume(1000, 0.2):
                error = message.error()
                if error is None:
                    messages.append(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition() or 0)
        return messages
    finally:
        consumer.close()


class CommittedVerdicts:
    """A read_committed reader of the verdicts topic that counts what it has seen."""

    def __init__(self, deployment: Deployment) -> None:
        topic = deployment.topology.verdicts
        self.consumer = Consumer(consumer_config(deployment.settings, "eos-watch-unused"))
        self.consumer.assign([TopicPartition(topic, p, 0)
                              for p in range(deployment.settings.verdict_partitions)])
        self.seen = 0

    def count(self) -> int:
        self.seen += sum(1 for m in self.consumer.consume(1000, 0.05) if m.error() is None)
        return self.seen

    def close(self) -> None:
        self.consumer.close()


# -- a broker without transactions ---------------------------------------------------------


@pytest.mark.kafka
def test_exactly_once_is_refused_on_a_broker_without_transactions(
    deployment: Deployment, broker: EmbeddedBroker
) -> None:
    with pytest.raises(ExactlyOnceUnsupported, match="no real transactions"):
        check_transactions(deployment.settings, "test")
    for command in (["worker", "--engine", "fast"], ["learner"]):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", *command],
            env=deployment.env(**EXACTLY_ONCE), capture_output=True, timeout=60,
        )
        elapsed = time.monotonic() - started
        print(f"riskstream {' '.join(command)}: exit {done.returncode} after {elapsed:.1f} s")
        assert done.returncode != 0, f"{command} started without transactions"
        assert b"no real transactions" in done.stderr, done.stderr[-2000:]
        assert b"Traceback" not in done.stderr, "a clear error, not a traceback"


def test_the_faust_engine_refuses_exactly_once() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--engine", "faust"],
        env={**os.environ, **EXACTLY_ONCE, "RISKSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
        capture_output=True, timeout=60,
    )
    assert done.returncode != 0
    assert b"exactly_once is implemented by the fast engine" in done.stderr, done.stderr


# -- Apache Kafka ---------------------------------------------------------------------------


@pytest.mark.apache_kafka
def test_transactions_are_real_on_apache_kafka(
    apache_kafka: ApacheKafkaCluster, tmp_path: Path
) -> None:
    deployment = new_deployment(apache_kafka.bootstrap, tmp_path)
    started = time.monotonic()
    check_transactions(deployment.settings, "test")  # raises if an aborted record were visible
    print(f"transaction probe passed in {time.monotonic() - started:.2f} s")


@pytest.mark.apache_kafka
@pytest.mark.slow
def test_a_scorer_killed_mid_transaction_20_times_loses_and_duplicates_nothing(
    apache_kafka: ApacheKafkaCluster, tmp_path: Path
) -> None:
    deployment = new_deployment(apache_kafka.bootstrap, tmp_path)
    topology = deployment.topology
    scorer = {**EXACTLY_ONCE, "RISKSTREAM_WORKER_ID": "scorer-eos"}  # the same id each time
    feed = AckedFeed(deployment, RATE)
    watch = CommittedVerdicts(deployment)
    chance = random.Random(20)
    kill_waits: list[float] = []
    cycle_seconds: list[float] = []
    feed.start()
    try:
        for attempt in range(KILLS):
            began, before = time.monotonic(), watch.count()
            with deployment.process("worker", "--engine", "fast", name=f"scorer-{attempt}",
                                    **scorer) as process:
                # this incarnation has committed a transaction: it is past start-up
                wait_for(lambda: watch.count() > before, 60, step_s=0.05)  # noqa: B023
                wait = chance.uniform(0.02, 0.3)
                time.sleep(wait)  # with 150 events/s a transaction is nearly always open
                assert process.poll() is None, f"scorer {attempt} died on its own"
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            kill_waits.append(wait)
            cycle_seconds.append(time.monotonic() - began)
        with deployment.process("worker", "--engine", "fast", name="scorer-last", **scorer):
            feed.finish()
            acked = dict(feed.acked)
            # every acknowledged event has a verdict; what is counted is read after the stop
            verdict_keys_covering(deployment, set(acked), timeout_s=60, grace_s=0.0)
        # stopped cleanly: its last transaction is committed
    finally:
        feed.stopping.set()
        watch.close()

    committed = read_to_end(deployment, topology.verdicts, "read_committed")
    everything = read_to_end(deployment, topology.verdicts, "read_uncommitted")
    scored = read_to_end(deployment, topology.scored, "read_committed")
    verdicts = Counter((m.key() or b"").decode() for m in committed)
    scored_keys = Counter((m.key() or b"").decode() for m in scored)
    lost = set(acked) - set(verdicts)
    duplicated = {key: n for key, n in verdicts.items() if n > 1}
    hidden = len(everything) - len(committed)
    print(f"{KILLS} SIGKILLs (waits {min(kill_waits):.2f}-{max(kill_waits):.2f} s after a "
          f"commit; cycles {min(cycle_seconds):.1f}-{max(cycle_seconds):.1f} s): events "
          f"acknowledged {len(acked)}, feed failures {len(feed.failed)}; read_committed "
          f"verdicts {len(committed)} for {len(verdicts)} events, lost {len(lost)}, "
          f"duplicated {len(duplicated)}; scored records {len(scored)} for "
          f"{len(scored_keys)} events; verdicts of aborted transactions in the log, hidden: "
          f"{hidden}")
    assert not feed.failed, feed.failed[:3]
    assert not lost, f"{len(lost)} acknowledged events without a verdict"
    assert not duplicated, f"{len(duplicated)} events with two committed verdicts"
    assert set(verdicts) == set(acked), "a verdict for an event nobody sent"
    assert set(scored_keys) == set(acked) and max(scored_keys.values()) == 1, (
        "every event has exactly one committed scored record")
    assert hidden > 0, "no kill landed mid-transaction: the test proved nothing"


@pytest.mark.apache_kafka
@pytest.mark.slow
def test_the_learner_commits_its_offsets_with_its_state_snapshots(
    apache_kafka: ApacheKafkaCluster, tmp_path: Path
) -> None:
    deployment = new_deployment(apache_kafka.bootstrap, tmp_path)
    topology = deployment.topology
    port = free_port()
    feed = AckedFeed(deployment, 60)
    with (
        deployment.process("learner", name="learner", **EXACTLY_ONCE,
                           RISKSTREAM_METRICS_PORT=str(port),
                           RISKSTREAM_STATE_SNAPSHOT_EVERY_S="1"),
        deployment.process("worker", "--engine", "fast", name="scorer", **EXACTLY_ONCE),
    ):
        feed.start()
        wait_for(lambda: scrape(port).get("riskstream_learner_records_total{fate=applied,"
                                          "input=outcomes}", 0) >= 150, 90)
        feed.finish()
        transactions = scrape(port)
    # the learner stopped cleanly (SIGTERM): its last transaction is committed
    signing = deployment.settings.snapshot_key.get_secret_value().encode()
    models = records_of(read_to_end(deployment, topology.models, "read_committed"))
    states = sealed(models, "learner", signing)
    assert len(states) >= 2, "the offsets never moved with a second state snapshot"
    newest_offsets = states[-1][0]["offsets"]
    reader = Consumer(consumer_config(deployment.settings, f"{deployment.prefix}-learner"))
    try:
        topics = {"scored": topology.scored, "outcomes": topology.outcomes}
        found = reader.committed([TopicPartition(t, 0) for t in topics.values()], timeout=10)
    finally:
        reader.close()
    group = {source: tp.offset for source, tp in zip(topics, found, strict=True)}
    print(f"state snapshots {len(states)}, the newest at offsets {newest_offsets}; the "
          f"learner group's committed offsets {group}; transactions committed "
          f"{transactions.get('riskstream_transactions_total{result=committed}')}, aborted "
          f"{transactions.get('riskstream_transactions_total{result=aborted}')}")
    assert transactions["riskstream_transactions_total{result=committed}"] >= len(states)
    assert group == {s: newest_offsets[s] for s in topics}, (
        "the group's offsets are those of the newest state snapshot")
