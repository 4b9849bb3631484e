"""Replication and failover under riskstream load, on three Apache Kafka nodes.

The deployment's topics have replication factor 3 and ``min.insync.replicas`` 2, and every
producer (the hubs' feed, the scorer, the learner) uses ``acks=all``. A fast scorer and
the learner run under a steady feed of events and outcomes while the cluster is disturbed,
three times per test:

* the node that leads most events partitions (the busiest: the feed spreads evenly) is
  killed with SIGKILL, and started again once scoring has gone on without it;
* every node in turn is stopped cleanly and started again (a rolling restart), each one
  only once the previous is back in every in-sync replica set; the scorer runs in
  exactly-once mode here, so its ``read_committed`` verdicts must have no duplicate.

Then, read back from the cluster: every acknowledged event has a verdict and a scored
record (a duplicate, at-least-once, carries the same decision), and every acknowledged
outcome is learnt. The longest gap between two consecutive verdicts is the scoring pause.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]
from test_apache_kafka_durability import APPLIED, AckedFeed
from test_exactly_once import read_to_end
from test_fastpath import verdict_keys_covering
from test_learning_loop import scrape, wait_for

from schemas import AvroCodec
from streams.broker import ApacheKafkaCluster, free_port
from streams.kafka_config import client_config, consumer_config
from streams.testing import Deployment, new_deployment
from streams.topology import STREAMS

pytestmark = [pytest.mark.apache_kafka, pytest.mark.slow]

RATE = 100  # events per second, over the three streams
ROUNDS = 3
SCORED_AFTER = 200  # events acknowledged after each disturbance before the next step


@dataclass
class Run:
    """What a scenario measured, for the report and the assertions."""

    deployment: Deployment
    feed: AckedFeed
    learner_port: int
    marks: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, what: str) -> None:
        self.marks.append((what, time.time()))


@contextmanager
def loaded(cluster: ApacheKafkaCluster, tmp_path: Path, **scorer_env: str) -> Iterator[Run]:
    """A fresh RF-3 deployment with a scorer and the learner under a running feed."""
    deployment = new_deployment(cluster.bootstrap, tmp_path, replication_factor=3)
    learner_port, scorer_port = free_port(), free_port()
    feed = AckedFeed(deployment, RATE)
    with (
        deployment.process("learner", name="learner", RISKSTREAM_METRICS_PORT=str(learner_port)),
        deployment.process("worker", "--engine", "fast", name="scorer",
                           RISKSTREAM_METRICS_PORT=str(scorer_port), **scorer_env) as scorer,
    ):
        feed.start()
        try:
            wait_for(lambda: scrape(scorer_port).get(
                "riskstream_events_consumed_total{stream=courier}", 0) >= 100, 90)
            yield Run(deployment, feed, learner_port)
        finally:
            feed.stopping.set()
        assert scorer.poll() is None, "the scorer died"


def in_sync_everywhere(cluster: ApacheKafkaCluster, deployment: Deployment) -> bool:
    """Every partition of the deployment's topics has all three replicas in sync."""
    admin = AdminClient({**client_config(deployment.settings), "log_level": 0})
    topics = admin.list_topics(timeout=10).topics
    names = [spec.name for spec in deployment.topology.specs()]
    return all(
        name in topics
        and all(len(p.isrs) == cluster.size for p in topics[name].partitions.values())
        for name in names
    )


def busiest_leader(cluster: ApacheKafkaCluster, deployment: Deployment) -> int:
    """The node leading the most events partitions now."""
    admin = AdminClient({**client_config(deployment.settings), "log_level": 0})
    topics = admin.list_topics(timeout=10).topics
    leaders = Counter(
        p.leader for stream in STREAMS
        for p in topics[deployment.topology.events(stream)].partitions.values()
    )
    return leaders.most_common(1)[0][0]


def scoring_goes_on(run: Run, first: bool = False, grace_s: float = 0.0) -> None:
    """Events acknowledged after now get verdicts: the scorer is past the disturbance
    (``first``: past its start, which may take a group's join longer). Only which events
    have a verdict counts, not how many, so no grace for duplicates unless ``grace_s``."""
    since = time.monotonic()
    wait_for(lambda: run.feed.acked_since(since) >= SCORED_AFTER, 60)
    with run.feed.lock:
        recent = {k for k, (at, _) in run.feed.acked.items() if at >= since}
    keys = verdict_keys_covering(run.deployment, recent, timeout_s=120 if first else 60,
                                 grace_s=grace_s)
    assert recent <= set(keys), (
        f"{len(recent - set(keys))} recent events without a verdict; verdict partitions "
        f"(read_committed end, log end): {stable_ends(run.deployment)}")


def stable_ends(deployment: Deployment) -> dict[int, tuple[int, int]]:
    """Per verdicts partition: where a read_committed reader stops (the last stable
    offset), and the log end. A gap that stays is an open (or hanging) transaction."""
    topic = deployment.topology.verdicts
    consumer = Consumer(consumer_config(deployment.settings, "failover-lso-unused",
                                        **{"enable.partition.eof": True}))
    try:
        partitions = range(deployment.settings.verdict_partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])
        stable: dict[int, int] = {}
        deadline = time.monotonic() + 10
        while len(stable) < len(ends) and time.monotonic() < deadline:
            for message in consumer.consume(100, 0.2):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    stable[message.partition() or 0] = message.offset() or 0
        return {p: (stable.get(p, -1), ends[p]) for p in partitions}
    finally:
        consumer.close()


def check_nothing_lost(run: Run, exactly_once: bool) -> str:
    """Finish the feed, read everything back, assert, and return the report."""
    run.feed.finish()
    acked, outcomes = dict(run.feed.acked), set(run.feed.outcomes_acked)
    deployment, topology = run.deployment, run.deployment.topology
    verdict_keys_covering(deployment, set(acked), timeout_s=60)
    wait_for(lambda: scrape(run.learner_port).get(APPLIED, 0) >= len(outcomes), 60)
    applied = int(scrape(run.learner_port)[APPLIED])
    verdicts = read_to_end(deployment, topology.verdicts, "read_committed")
    scored = Counter((m.key() or b"").decode()
                     for m in read_to_end(deployment, topology.scored, "read_committed"))
    codec = AvroCodec()
    decisions: dict[str, set[tuple[str, str]]] = {}
    stamps = sorted((m.timestamp()[1] or 0) / 1000 for m in verdicts)
    for message in verdicts:
        verdict = codec.decode("RiskVerdict", message.value() or b"")
        decisions.setdefault(verdict["event_id"], set()).add(
            (verdict["level"], verdict["selection_kind"]))
    keys = Counter((m.key() or b"").decode() for m in verdicts)
    twice = [k for k, n in keys.items() if n > 1]
    differing = [k for k in twice if len(decisions[k]) > 1]
    first = run.marks[0][1]
    gaps = [(b - a, a) for a, b in itertools.pairwise(stamps) if a >= first - 1]
    pause, pause_at = max(gaps) if gaps else (0.0, first)
    timeline = ", ".join(f"{what} {at - first:+.1f}" for what, at in run.marks)
    report = (
        f"events acknowledged {len(acked)}, feed failures {len(run.feed.failed)}; verdicts "
        f"{len(verdicts)} for {len(keys)} events (lost {len(set(acked) - set(keys))}, twice "
        f"{len(twice)}, with two decisions {len(differing)}); scored records for "
        f"{len(scored)} events (lost {len(set(acked) - set(scored))}); outcomes acknowledged "
        f"{len(outcomes)}, applied {applied}; longest scoring pause {pause:.2f} s at "
        f"{pause_at - first:+.1f} s; timeline (s): {timeline}"
    )
    print(report)
    assert not run.feed.failed, run.feed.failed[:3]
    assert set(acked) <= set(keys), f"acknowledged events without a verdict\n{report}"
    assert set(acked) <= set(scored), f"acknowledged events without a scored record\n{report}"
    assert not differing, f"a duplicate verdict with another decision\n{report}"
    if exactly_once:
        assert not twice, f"duplicates in the read_committed verdicts\n{report}"
    assert applied >= len(outcomes), f"outcomes acknowledged but not learnt\n{report}"
    return report


def restore(cluster: ApacheKafkaCluster, node_id: int, deployment: Deployment) -> None:
    """Start a node again and wait until it is back in every in-sync replica set."""
    if not cluster.node(node_id).running:
        cluster.start_node(node_id)
    wait_for(lambda: in_sync_everywhere(cluster, deployment), 90, step_s=0.1)


def scenario(
    apache_kafka_cluster: ApacheKafkaCluster, tmp_path: Path, disturb: Callable[[Run], None],
    **scorer_env: str,
) -> None:
    cluster = apache_kafka_cluster
    wait_for(lambda: all(node.running for node in cluster.nodes), 5)
    with loaded(cluster, tmp_path, **scorer_env) as run:
        for _ in range(ROUNDS):
            disturb(run)
        check_nothing_lost(run, exactly_once=bool(scorer_env))


def test_scoring_goes_on_through_three_leader_kills(
    apache_kafka_cluster: ApacheKafkaCluster, tmp_path: Path
) -> None:
    cluster = apache_kafka_cluster

    def kill_the_busiest_leader(run: Run) -> None:
        leader = busiest_leader(cluster, run.deployment)
        run.mark(f"kill node {leader}")
        cluster.kill_node(leader)
        try:
            scoring_goes_on(run)  # after re-election, with two of three replicas
            run.mark("scoring went on")
        finally:
            restore(cluster, leader, run.deployment)
        run.mark(f"node {leader} in sync")

    scenario(cluster, tmp_path, kill_the_busiest_leader)


def test_scoring_goes_on_through_three_rolling_restarts_exactly_once(
    apache_kafka_cluster: ApacheKafkaCluster, tmp_path: Path
) -> None:
    cluster = apache_kafka_cluster

    def rolling_restart(run: Run) -> None:
        for node in cluster.nodes:
            run.mark(f"stop node {node.node_id}")
            cluster.stop_node(node.node_id)
            try:
                cluster.start_node(node.node_id)
            finally:
                restore(cluster, node.node_id, run.deployment)
            run.mark(f"node {node.node_id} in sync")
        scoring_goes_on(run)

    scenario(cluster, tmp_path, rolling_restart,
             RISKSTREAM_PROCESSING_GUARANTEE="exactly_once")
