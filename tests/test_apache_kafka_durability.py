"""Durable restarts on Apache Kafka: kill -9 the broker under a scorer and a learner.

The embedded broker loses everything in a restart (tests/test_broker_restart.py); a real
Kafka keeps its logs on disk. With a single node of this test alone (killing it disturbs
no other test), a fast-engine scorer and the learner run under a steady feed of events and
inspection outcomes; the node is killed with SIGKILL mid-load and started again on the
same log dirs, with neither riskstream process restarted. Read back from the broker:

* every event the feed got an acknowledgement for is still in its topic, and has a
  verdict and a scored record; an event scored twice (at-least-once) has one decision;
* every acknowledged outcome is still in its topic and is learnt, exactly once;
* the scorer's committed offsets survived: nothing below the offsets committed before the
  kill is scored again, and the events scored twice are at most those in flight (read
  after that commit and before the scorer's group re-join);
* the model and learner-state snapshots published before the kill are still on the models
  topic, byte for byte, and the learner did not start over: its counters and the
  snapshots' model versions continue from where they were.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from test_broker_restart import OUTCOME_EVERY, feed_outcome
from test_fastpath import committed_offsets, verdict_keys_covering
from test_faults import HUBS
from test_learning_loop import scrape, wait_for

from learning.snapshot import Reassembler, unseal
from schemas import AvroCodec
from simulator import HubWorld
from streams.broker import (
    ApacheKafkaCluster,
    KafkaToolMissing,
    free_port,
    kafka_class_archive,
    kafka_jars,
)
from streams.kafka_config import consumer_config, producer_config
from streams.testing import Deployment, new_deployment
from streams.topology import STREAM_SCHEMAS, STREAMS

pytestmark = [pytest.mark.apache_kafka, pytest.mark.slow]

RATE = 100  # events per second, over the three streams
AFTER_RESTART = 300  # events acknowledged after the restart before the feed stops
APPLIED = "riskstream_learner_records_total{fate=applied,input=outcomes}"
SEEN_OUTCOMES = "riskstream_learner_records_total{fate=seen,input=outcomes}"
PUBLISHED = "riskstream_learner_snapshots_published_total"
SEEN_SCORED = "riskstream_learner_records_total{fate=seen,input=scored}"
RESETS = "riskstream_learner_log_resets_total{{input={}}}"

REJOIN = "joining the consumer group again after broker trouble"  # streams.fastpath

Placed = tuple[str, int, int]  # topic, partition, offset


class AckedFeed(threading.Thread):
    """Hubs publishing events at a steady rate, each third followed by its inspection
    outcome, through an idempotent producer (a retry after the restart writes no second
    copy). Keeps where the broker acknowledged each record, and when."""

    def __init__(self, deployment: Deployment, rate: float) -> None:
        super().__init__(name="acked-feed", daemon=True)
        self.topology = deployment.topology
        self.interval = 1.0 / rate
        self.producer = Producer(producer_config(deployment.settings, **{
            "enable.idempotence": True,
            # outlives the restart: a record is either acknowledged or still retried
            "message.timeout.ms": 120_000,
            "log_level": 0,  # connection errors while the broker is down are the point
        }))
        self.codec = AvroCodec()
        self.world = HubWorld(seed=37)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.acked: dict[str, tuple[float, Placed]] = {}  # event id -> (when, where)
        self.outcomes_acked: dict[str, float] = {}
        self.failed: list[str] = []

    def run(self) -> None:
        next_at, n = time.monotonic(), 0
        while not self.stopping.is_set():
            stream = STREAMS[n % len(STREAMS)]
            record = self.world.event(stream, HUBS[stream], datetime.now(UTC)).record
            event_id = record["event_id"]
            self._produce(self.topology.events(stream),
                          self.codec.encode(STREAM_SCHEMAS[stream], record), event_id,
                          self._on_event)
            if n % OUTCOME_EVERY == 0:
                outcome = feed_outcome(stream, event_id, n)
                self._produce(self.topology.outcomes,
                              self.codec.encode("InspectionOutcome", outcome), event_id,
                              self._on_outcome)
            self.producer.poll(0)
            n += 1
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _produce(self, topic: str, value: bytes, key: str, report: Any) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key=key.encode(), on_delivery=report)
                return
            except BufferError:  # the local queue is full while the broker is down
                self.producer.poll(0.1)

    def _on_event(self, error: KafkaError | None, message: Message) -> None:
        key = (message.key() or b"").decode()
        with self.lock:
            if error is not None:
                self.failed.append(f"{key}: {error.name()}")
            else:
                place = (message.topic() or "", message.partition() or 0, message.offset() or 0)
                self.acked[key] = (time.monotonic(), place)

    def _on_outcome(self, error: KafkaError | None, message: Message) -> None:
        key = (message.key() or b"").decode()
        with self.lock:
            if error is not None:
                self.failed.append(f"outcome {key}: {error.name()}")
            else:
                self.outcomes_acked[key] = time.monotonic()

    def acked_since(self, since: float) -> int:
        with self.lock:
            return sum(1 for at, _ in self.acked.values() if at >= since)

    def finish(self) -> None:
        """Stop producing and wait for every outstanding acknowledgement."""
        self.stopping.set()
        self.join(10)
        assert self.producer.flush(60) == 0, "records still unacknowledged 60 s after the end"


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[ApacheKafkaCluster]:
    """A one-node Apache Kafka of this test alone, on a fresh data dir: the session's node
    is shared, and this test kills its node."""
    try:
        jars = kafka_jars()
    except KafkaToolMissing as exc:
        if os.environ.get("RISKSTREAM_REQUIRE_APACHE_KAFKA") == "1":
            pytest.fail(f"{exc} (RISKSTREAM_REQUIRE_APACHE_KAFKA=1)", pytrace=False)
        pytest.skip(str(exc))
    with ApacheKafkaCluster(tmp_path / "kafka", nodes=1, jars=jars,
                            class_archive=kafka_class_archive(jars)) as running:
        yield running


def read_all(deployment: Deployment, topic: str) -> list[Message]:
    """Every record of ``topic``, from offset 0 to the end each partition has now."""
    consumer = Consumer(consumer_config(deployment.settings, "durability-reader-unused"))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: list[Message] = []
        deadline = time.monotonic() + 30
        while len(messages) < sum(ends.values()):
            assert time.monotonic() < deadline, f"{topic}: read {len(messages)} of {ends}"
            messages += [m for m in consumer.consume(1000, 0.2) if m.error() is None]
        return messages
    finally:
        consumer.close()


Record = tuple[int, bytes, bytes]  # offset, key, value


def records_of(messages: list[Message]) -> list[Record]:
    return [(m.offset() or 0, m.key() or b"", m.value() or b"") for m in messages]


def sealed(records: list[Record], kind: str, key: bytes) -> list[Any]:
    """The snapshots of ``kind`` (``model`` or ``learner``) among the models topic's records,
    as ``(header, object)`` in their order, from records read once and compared byte for
    byte (``test_learning_loop.model_snapshots`` reads the topic itself)."""
    assembler = Reassembler()
    found = []
    for _, name, value in records:
        if name.decode().split("/")[0] == kind:
            blob = assembler.add(value)
            if blob is not None:
                found.append(unseal(blob, key))
    return found


def rejoin_time(log: str) -> float:
    """When (``time.monotonic()``) the scorer last joined its group again after broker
    trouble, from its log line (wall clock, local time, as ``logging`` writes it)."""
    lines = [line for line in log.splitlines() if REJOIN in line]
    assert lines, f"the scorer never joined its group again after the outage:\n{log[-2000:]}"
    stamp, millis = lines[-1][:23].split(",")
    wall = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
    return wall - time.time() + time.monotonic()


def log_ends(deployment: Deployment, topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = Consumer(consumer_config(deployment.settings, "durability-ends-unused"))
    try:
        return {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for topic in topics
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        }
    finally:
        consumer.close()


def test_scorer_and_learner_survive_a_kill_9_of_apache_kafka(
    own_kafka: ApacheKafkaCluster, tmp_path: Path
) -> None:
    started = time.monotonic()
    deployment = new_deployment(own_kafka.bootstrap, tmp_path / "deployment")
    topology = deployment.topology
    events_topics = [topology.events(stream) for stream in STREAMS]
    codec = AvroCodec()
    scorer_port, learner_port = free_port(), free_port()
    feed = AckedFeed(deployment, RATE)
    marks: dict[str, float] = {}
    with (
        deployment.process("learner", name="learner", RISKSTREAM_WORKER_ID="learner-d",
                           RISKSTREAM_METRICS_PORT=str(learner_port),
                           RISKSTREAM_SNAPSHOT_EVERY_S="0.5",
                           RISKSTREAM_STATE_SNAPSHOT_EVERY_S="2") as learner,
        deployment.process("worker", "--engine", "fast", name="scorer",
                           RISKSTREAM_METRICS_PORT=str(scorer_port)) as scorer,
    ):
        feed.start()
        # under load: the scorer scores with a learnt model, has committed offsets, and a
        # learner state snapshot is on the models topic
        wait_for(lambda: scrape(scorer_port)["riskstream_model_outcomes_learned"] >= 40, 60)
        # the first model snapshot comes with a state snapshot; later ones every 2 s
        wait_for(lambda: scrape(learner_port)[PUBLISHED] >= 5, 20)
        wait_for(lambda: sum(committed_offsets(deployment).values()) > 0, 10)
        marks["loaded"] = time.monotonic()
        models_before = records_of(read_all(deployment, topology.models))
        committed_before = committed_offsets(deployment)
        learner_before = scrape(learner_port)

        killed = marks["killed"] = time.monotonic()
        own_kafka.kill_node(1)  # mid-load: records in flight, a commit maybe half done
        own_kafka.start_node(1, timeout_s=60)  # same ports, same log dirs
        up = marks["up"] = time.monotonic()
        restarted_wall = datetime.now(UTC)
        wait_for(lambda: feed.acked_since(up) >= AFTER_RESTART, 40)
        feed.finish()
        marks["feed done"] = time.monotonic()

        acked = dict(feed.acked)
        keys = verdict_keys_covering(deployment, set(acked), timeout_s=40)
        marks["all scored"] = time.monotonic()
        outcomes_acked = set(feed.outcomes_acked)
        wait_for(lambda: scrape(learner_port)[APPLIED] >= len(outcomes_acked), 30)
        ends = log_ends(deployment, [*events_topics, topology.outcomes, topology.scored])
        wait_for(lambda: scrape(learner_port)[SEEN_SCORED] >= ends[(topology.scored, 0)]
                 and scrape(learner_port)[SEEN_OUTCOMES] >= ends[(topology.outcomes, 0)], 20)
        events_end = {tp: end for tp, end in ends.items() if tp[0] in events_topics}
        wait_for(lambda: committed_offsets(deployment) == events_end, 20)
        marks["all learnt"] = time.monotonic()
        learner_after = scrape(learner_port)
        models_after = records_of(read_all(deployment, topology.models))
        events = {(m.key() or b"").decode(): (m.topic(), m.partition(), m.offset())
                  for topic in events_topics for m in read_all(deployment, topic)}
        outcomes_held = Counter((m.key() or b"").decode()
                                for m in read_all(deployment, topology.outcomes))
        scored_keys = {(m.key() or b"").decode() for m in read_all(deployment, topology.scored)}
        verdicts = read_all(deployment, topology.verdicts)
        alive = {"scorer": scorer.poll() is None, "learner": learner.poll() is None}
        marks["checked"] = time.monotonic()

    signing = deployment.settings.snapshot_key.get_secret_value().encode()
    snapshots, states = (sealed(models_after, kind, signing) for kind in ("model", "learner"))
    held_before = {kind: sealed(models_before, kind, signing) for kind in ("model", "learner")}
    decisions: dict[str, set[tuple[str, str]]] = {}
    for message in verdicts:
        verdict = codec.decode("RiskVerdict", message.value() or b"")
        decisions.setdefault(verdict["event_id"], set()).add(
            (verdict["level"], verdict["selection_kind"]))
    twice = {event_id for event_id, count in keys.items() if count > 1}
    logs = {name: (deployment.workdir / f"{name}.log").read_text()
            for name in ("scorer", "learner")}
    rejoined = rejoin_time(logs["scorer"])
    # in flight: at or after the scorer's last commit seen before the kill, and read before
    # it joined its group again after the outage (acknowledged before that, at least)
    in_flight = {event_id for event_id, (at, (topic, p, offset)) in acked.items()
                 if offset >= committed_before.get((topic, p), 0) and at < rejoined}
    below_commit = sorted(
        event_id for event_id in twice
        if acked[event_id][1][2] < committed_before.get(acked[event_id][1][:2], 0))
    differing = sorted(event_id for event_id in twice if len(decisions.get(event_id, ())) > 1)
    before_kill = {event_id for event_id, (at, _) in acked.items() if at < killed}
    applied_before = int(learner_before[APPLIED])
    first_snapshot_after = next(
        (meta for meta, _ in snapshots
         if datetime.fromisoformat(str(meta["created_at"])) > restarted_wall), None)
    timeline = ", ".join(f"{name} {at - started:.1f}" for name, at in marks.items())
    report = "\n".join([
        f"seconds from start: {timeline}; node down {up - killed:.1f} s",
        f"events acknowledged: {len(acked)} ({len(before_kill)} before the kill), on the "
        f"broker {len(events)}; outcomes acknowledged {len(outcomes_acked)}, on the broker "
        f"{len(outcomes_held)}; feed failures {feed.failed[:3]}",
        f"verdicts {len(verdicts)} for {len(keys)} events; scored twice {len(twice)} of "
        f"{len(in_flight)} in flight, {len(below_commit)} below the commit before the kill, "
        f"{len(differing)} with two decisions",
        f"scorer committed before the kill {sum(committed_before.values())}, at the end "
        f"{sum(committed_offsets(deployment).values())} = events {sum(events_end.values())}",
        f"learner before: applied {applied_before}, seen outcomes "
        f"{int(learner_before[SEEN_OUTCOMES])}; after: applied {int(learner_after[APPLIED])}, "
        f"seen outcomes {int(learner_after[SEEN_OUTCOMES])} of {ends[(topology.outcomes, 0)]}, "
        f"seen scored {int(learner_after[SEEN_SCORED])} of {ends[(topology.scored, 0)]}; "
        f"log resets {[learner_after[RESETS.format(s)] for s in ('scored', 'outcomes')]}",
        f"models topic: {len(models_before)} records before the kill "
        f"({len(held_before['model'])} model, {len(held_before['learner'])} state snapshots, "
        f"the last {held_before['model'][-1][0]['model_version']}), {len(models_after)} "
        f"after; model snapshots {len(snapshots)}, first after the restart "
        f"{first_snapshot_after and first_snapshot_after['model_version']}; state "
        f"snapshots {len(states)}",
        f"scorer re-joined {rejoined - up:+.2f} s after the node served; events scored twice "
        f"acknowledged {sorted(round(acked[k][0] - up, 1) for k in twice)[-3:]} s (last 3) "
        f"after it; failed commits in its log: {logs['scorer'].count('offset commit failed')}",
        f"alive {alive}",
    ])
    print(report)

    assert all(alive.values()), f"a worker died\n{report}"
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name} raised\n{report}"
    assert not feed.failed, f"the producer gave up on records\n{report}"
    # every acknowledged record is still on the broker
    assert set(acked) <= set(events), (
        f"{len(set(acked) - set(events))} acknowledged events lost\n{report}")
    assert {event_id: at for event_id, (_, at) in acked.items()} == {
        event_id: events[event_id] for event_id in acked}, (
        f"acknowledged events moved\n{report}")
    assert outcomes_acked <= set(outcomes_held), (
        f"{len(outcomes_acked - set(outcomes_held))} acknowledged outcomes lost\n{report}")
    # ... and is scored, at least once, with one decision
    assert set(acked) <= set(keys), f"{len(set(acked) - set(keys))} without verdict\n{report}"
    assert set(acked) <= scored_keys, (
        f"{len(set(acked) - scored_keys)} without scored record\n{report}")
    assert not differing, f"an event got two different decisions: {differing[:3]}\n{report}"
    # committed offsets survived: no rescoring from 0, only what was in flight
    assert sum(committed_before.values()) > 0, report
    assert not below_commit, f"scored again below the committed offsets\n{report}"
    assert twice <= in_flight, (
        f"{len(twice - in_flight)} events scored twice that were not in flight\n{report}")
    # every outcome learnt exactly once, and the learner went on from where it was
    assert learner_after[APPLIED] == len(outcomes_acked), f"not learnt once each\n{report}"
    assert learner_after[SEEN_OUTCOMES] == ends[(topology.outcomes, 0)], (
        f"the learner read the outcomes log more than once (started over?)\n{report}")
    assert learner_after[SEEN_SCORED] == ends[(topology.scored, 0)], (
        f"the learner read the scored log more than once (started over?)\n{report}")
    assert all(learner_after[RESETS.format(s)] == 0 for s in ("scored", "outcomes")), report
    assert applied_before > 0 and learner_after[APPLIED] > applied_before, report
    # the snapshots published before the kill are still there, byte for byte
    assert held_before["model"] and held_before["learner"], report
    assert models_after[: len(models_before)] == models_before, (
        f"snapshots published before the kill changed or went\n{report}")
    # the first published after the restart continues from the last before the kill
    assert first_snapshot_after is not None and first_snapshot_after["outcomes_applied"] >= (
        held_before["model"][-1][0]["outcomes_applied"]), report
    applied_seq = [meta["outcomes_applied"] for meta, _ in snapshots]
    assert applied_seq == sorted(applied_seq), (
        f"a model snapshot went back in outcomes learnt: {applied_seq}\n{report}")
    assert snapshots[-1][0]["outcomes_applied"] == len(outcomes_acked), report
    assert snapshots[-1][0]["model_version"].startswith(f"learner-d-o{len(outcomes_acked)}-"), (
        report)
    assert states[-1][0]["outcomes_applied"] >= applied_before, report


def committed_total(deployment: Deployment) -> int:
    """The scorer group's committed offsets, summed; -1 while the broker cannot say (its
    group coordinator is loading, after a start)."""
    try:
        return sum(committed_offsets(deployment).values())
    except KafkaException:
        return -1


def test_faust_engine_survives_kill_9_of_apache_kafka_three_times(
    own_kafka: ApacheKafkaCluster, tmp_path: Path
) -> None:
    """The faust engine under the same fault: its node is killed with SIGKILL mid-load and
    started again on its log dirs, three times, with the worker left running. Every
    acknowledged event has a verdict and a scored record, an event scored twice has one
    decision, and the group's committed offsets reach the ends of the events logs (it
    resumed from them, rather than from the start or past records it never scored)."""
    deployment = new_deployment(own_kafka.bootstrap, tmp_path / "deployment")
    topology = deployment.topology
    events_topics = [topology.events(stream) for stream in STREAMS]
    codec = AvroCodec()
    feed = AckedFeed(deployment, RATE)
    rounds: list[str] = []
    with deployment.process("worker", "--engine", "faust", name="faust") as scorer:
        feed.start()
        wait_for(lambda: committed_total(deployment) > 0, 90)
        for _ in range(3):
            before = committed_total(deployment)
            down = time.monotonic()
            own_kafka.kill_node(1)
            own_kafka.start_node(1, timeout_s=60)
            up = time.monotonic()
            wait_for(lambda u=up: feed.acked_since(u) >= AFTER_RESTART // 3, 40)
            wait_for(lambda b=before: committed_total(deployment) > b, 60)
            rounds.append(f"down {up - down:.1f} s, committed {before} before")
        feed.finish()
        acked = dict(feed.acked)
        keys = verdict_keys_covering(deployment, set(acked), timeout_s=60)
        ends = log_ends(deployment, events_topics)
        wait_for(lambda: committed_total(deployment) == sum(ends.values()), 30)
        committed = committed_offsets(deployment)
        scored_keys = {(m.key() or b"").decode() for m in read_all(deployment, topology.scored)}
        verdicts = read_all(deployment, topology.verdicts)
        alive = scorer.poll() is None
    decisions: dict[str, set[tuple[str, str]]] = {}
    for message in verdicts:
        verdict = codec.decode("RiskVerdict", message.value() or b"")
        decisions.setdefault(verdict["event_id"], set()).add(
            (verdict["level"], verdict["selection_kind"]))
    twice = [event_id for event_id, count in keys.items() if count > 1]
    differing = [event_id for event_id in twice if len(decisions[event_id]) > 1]
    log = (deployment.workdir / "faust.log").read_text()
    report = (
        f"faust engine, 3 kills of the node ({'; '.join(rounds)}): events acknowledged "
        f"{len(acked)}, feed failures {len(feed.failed)}; verdicts {len(verdicts)} for "
        f"{len(keys)} events (lost {len(set(acked) - set(keys))}, twice {len(twice)}, with "
        f"two decisions {len(differing)}); scored records lost "
        f"{len(set(acked) - scored_keys)}; committed {sum(committed.values())} of "
        f"{sum(ends.values())} events; alive {alive}"
    )
    print(report)
    assert alive, report
    assert "Traceback" not in log, report
    assert not feed.failed, report
    assert set(acked) <= set(keys), f"acknowledged events without a verdict\n{report}"
    assert set(acked) <= scored_keys, f"acknowledged events without a scored record\n{report}"
    assert not differing, f"a duplicate verdict with another decision\n{report}"
    assert committed == ends, f"the group did not resume to the ends of the logs\n{report}"
