"""The learner process (``riskstream learner``): the single writer of all learned state.

It reads ``scored`` and ``outcomes`` (one partition each) in one consumer group with the
range assignor, so both partitions always belong to the same member: exactly one learner
is active, and another takes over on failure. The learner's own snapshots, not the group's
committed offsets, say where to resume, so a restarted learner continues from the exact
point its last snapshot recorded and ends in the state an uninterrupted run would reach.

Why not a faust agent: an exact restart needs a deterministic merge of the two inputs and
seeking to the snapshot's offsets, while faust acknowledges and commits per event on its own
schedule; a plain consumer loop also learns several times faster. Group membership gives
the same failover a faust agent on one-partition topics would.
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from learning.challenger import with_learning_rate
from learning.learner import Learner, LearnerConfig, LearnerEvent
from learning.monitor import DriftEvent
from learning.snapshot import SnapshotError
from schemas import AvroCodec, CodecError
from streams import metrics
from streams.kafka_config import consumer_config, producer_config
from streams.merge import TwoWayMerge
from streams.registry import registry_for
from streams.runtime import build_model
from streams.settings import Settings
from streams.snapshots import publish, read_newest
from streams.topology import SNAPSHOT_MAX_BYTES, Topology

log = logging.getLogger(__name__)

SCORED, OUTCOMES = "scored", "outcomes"


def learner_config(settings: Settings) -> LearnerConfig:
    return LearnerConfig(
        learner_id=settings.worker_id,
        scored_ttl_seconds=settings.pending_ttl_s,
        outcome_ttl_seconds=settings.pending_ttl_s,
        snapshot_every_outcomes=settings.snapshot_every_outcomes,
        snapshot_every_seconds=settings.snapshot_every_s,
    )


def new_learner(settings: Settings) -> Learner:
    """A learner with nothing to resume: the configured (or warm-start) model, and a shadow
    challenger unless disabled."""
    model = build_model(settings)
    rate = settings.challenger_learning_rate
    challenger = with_learning_rate(model, rate) if rate is not None else None
    return Learner(model, learner_config(settings), challenger)


def snapshot_extra(learner: Learner, settings: Settings) -> dict[str, Any]:
    """What a model snapshot's header tells the scorers besides the model: the random share
    each stream should use now, raised for a while after a drift."""
    shares = {
        stream: learner.random_share(stream, settings.random_share) for stream in learner.monitors
    }
    return {"random_share": shares}


class LearnerProcess:
    """Consume, merge, learn, and publish snapshots until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self.codec = AvroCodec(registry_for(settings))
        self.key = settings.snapshot_key.get_secret_value().encode()
        self.sources = {self.topology.scored: SCORED, self.topology.outcomes: OUTCOMES}
        self.learner: Learner | None = None
        self.merge: TwoWayMerge[Message] = TwoWayMerge((SCORED, OUTCOMES))
        self.producer = Producer(
            producer_config(settings, **{"message.max.bytes": SNAPSHOT_MAX_BYTES})
        )
        self.consumer = Consumer(
            consumer_config(
                settings,
                f"{settings.topic_prefix}-learner",
                **{"enable.partition.eof": True, "partition.assignment.strategy": "range"},
            )
        )
        self.last_state_snapshot = -math.inf
        self.lag = metrics.LagProbe()

    def restore(self) -> Learner:
        """The newest learner state from the models topic, or a fresh learner."""
        blob = read_newest(self.settings, "learner")
        if blob is not None:
            try:
                learner, meta = Learner.restore(blob, self.key)
            except SnapshotError as exc:
                log.error("learner state snapshot refused (%s); starting fresh", exc)
            else:
                log.warning(
                    "learner resumes %s at offsets %s",
                    meta.get("model_version"),
                    meta.get("offsets"),
                )
                return learner
        return new_learner(self.settings)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.learner = self.restore()
        self.merge = TwoWayMerge((SCORED, OUTCOMES))
        for tp in partitions:
            tp.offset = self.learner.offsets.get(self.sources[tp.topic], 0)
        consumer.assign(partitions)
        log.warning("learner owns %s", [(tp.topic, tp.offset) for tp in partitions])
        metrics.record_learner(self.learner)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.learner = None  # whoever takes over resumes from the last snapshot

    def run(self, duration_s: float | None = None) -> None:
        self.consumer.subscribe(
            [self.topology.scored, self.topology.outcomes],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
        )
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while deadline is None or time.monotonic() < deadline:
                for message in self.consumer.consume(2000, 0.05):
                    self._offer(message)
                self._learn_released()
                self._maybe_snapshot()
                self.lag(self.consumer, self.sources)
        except KeyboardInterrupt:
            pass
        finally:
            self.consumer.close()
            self.producer.flush(10)

    def _offer(self, message: Message) -> None:
        source = self.sources.get(message.topic() or "")
        error = message.error()
        if source is None:
            return
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self.merge.at_end(source)
            return
        self.merge.offer(source, message.offset() or 0, message.timestamp()[1], message)

    def _learn_released(self) -> None:
        learner = self.learner
        if learner is None:
            return
        released = self.merge.release()
        for source, message in released:
            offset = message.offset() or 0
            schema = "ScoredRecord" if source == SCORED else "InspectionOutcome"
            try:
                record: dict[str, Any] = self.codec.decode(schema, message.value() or b"")
            except CodecError as exc:
                # an empty record is rejected and counted by the learner, and its offset
                # still advances, so a restart sees the same sequence
                log.warning("learner cannot read %s:%s: %s", message.topic(), offset, exc)
                record = {}
            metrics.record_learner_input(source, record)
            if source == SCORED:
                events = learner.on_scored(record, offset)
            else:
                events = learner.on_outcome(record, offset)
            for event in events:
                self._publish_event(learner, event)
        if released:
            metrics.record_learner(learner)

    def _publish_event(self, learner: Learner, event: LearnerEvent) -> None:
        if isinstance(event, DriftEvent):
            kind, details = "drift", dict(event.details)
            summary = (
                f"{event.stream}: drift in the error stream detected by "
                f"{event.detector} at outcome {event.detected_at_outcome_index}"
            )
        else:
            kind = "promotion"
            details = {
                "champion_quality": event.champion_quality,
                "challenger_quality": event.challenger_quality,
                "random_outcomes": float(event.random_outcomes),
            }
            summary = (
                f"{event.stream}: challenger promoted on {event.metric} "
                f"({event.challenger_quality:.3f} against {event.champion_quality:.3f})"
            )
        record = {
            "learner_id": learner.config.learner_id,
            "kind": kind,
            "stream": event.stream,
            "at": datetime.now(UTC),
            "model_version": learner.version,
            "summary": summary,
            "details": {k: float(v) for k, v in details.items()},
        }
        self.producer.produce(
            self.topology.learning,
            self.codec.encode("LearningEvent", record),
            key=event.stream.encode(),
        )
        metrics.record_learning_event(kind, event.stream)
        log.warning("%s", summary)

    def _maybe_snapshot(self) -> None:
        learner = self.learner
        now = time.monotonic()
        if learner is None or not learner.snapshot_due(now):
            return
        created = datetime.now(UTC)
        blob = learner.model_snapshot(
            self.key, now, created_at=created, extra=snapshot_extra(learner, self.settings)
        )
        publish(self.producer, self.settings, "model", blob)
        # The whole state (pending records included) is larger: publish it less often. A
        # restart from an older state replays more input and still ends in the same state.
        if now - self.last_state_snapshot >= self.settings.state_snapshot_every_s:
            publish(self.producer, self.settings, "learner",
                    learner.state_snapshot(self.key, created_at=created))
            self.last_state_snapshot = now
        metrics.record_snapshot(learner, json.dumps(learner.offsets))


def run_learner(duration_s: float | None = None) -> None:
    settings = Settings()
    settings.check_production()
    metrics.describe_build()
    metrics.preinitialise_learner()
    metrics.serve(settings.metrics_port, settings.metrics_addr)
    LearnerProcess(settings).run(duration_s)
