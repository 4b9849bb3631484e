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

A broker that loses its storage (the embedded one keeps everything in memory) comes back
with empty logs that start again at offset 0, below the offsets the learner expects next;
as the learner skips what is below them (redeliveries), it would silently skip everything
until the new logs reach the old offsets. So the learner checks its inputs' logs (on every
assignment, every few seconds, and when an offset is out of range): a log whose end is
before the expected offset was reset, and the learner reads it again from its start, with
a warning and ``riskstream_learner_log_resets_total``; what it learnt before stays, and
records it already knows are recognised by event id. It keeps its in-memory state through
the group's re-formation (no state snapshot is left to restore), and publishes its model
and state snapshots again as soon as it notices, so a scorer that starts later finds a
model.

In exactly-once mode (``RISKSTREAM_PROCESSING_GUARANTEE=exactly_once``) every snapshot is
published in a Kafka transaction, and a state snapshot's transaction also commits the
learner group's offsets to the offsets that state records: the snapshot and the offsets
move together, and a learner killed mid-publication leaves no half snapshot to
``read_committed`` readers (the scorers' follower, a restarting learner).
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from learning.challenger import with_learning_rate
from learning.learner import Learner, LearnerConfig, LearnerEvent
from learning.monitor import DriftEvent
from learning.privacy import RetentionPolicy
from learning.snapshot import SnapshotError
from schemas import AvroCodec, CodecError
from streams import metrics
from streams.admin import BrokerWatch
from streams.kafka_config import consumer_config, producer_config
from streams.merge import TwoWayMerge
from streams.reading import LOG_CHECK_S, restart_point
from streams.registry import registry_for
from streams.runtime import build_model
from streams.settings import Settings
from streams.snapshots import publish, read_newest
from streams.topology import SNAPSHOT_MAX_BYTES, Topology
from streams.transactions import (
    TransactionStuck,
    check_transactions,
    commit,
    transactional_producer,
)

log = logging.getLogger(__name__)

SCORED, OUTCOMES = "scored", "outcomes"
PRIVACY = "privacy"  # erasure requests: applied as read, outside the merge


def learner_config(settings: Settings) -> LearnerConfig:
    return LearnerConfig(
        learner_id=settings.worker_id,
        scored_ttl_seconds=settings.pending_ttl_s,
        outcome_ttl_seconds=settings.pending_ttl_s,
        snapshot_every_outcomes=settings.snapshot_every_outcomes,
        snapshot_every_seconds=settings.snapshot_every_s,
        weight_clip=settings.weight_clip,
        retention=RetentionPolicy(
            settings.retention_passenger_days, settings.retention_consignment_days
        ),
    )


def new_learner(settings: Settings) -> Learner:
    """A learner with nothing to resume: the configured (or warm-start) model, and a shadow
    challenger unless disabled."""
    model = build_model(settings)
    rate = settings.challenger_learning_rate
    challenger = with_learning_rate(model, rate) if rate is not None else None
    return Learner(model, learner_config(settings), challenger, settings.green_lane())


def snapshot_extra(learner: Learner, settings: Settings) -> dict[str, Any]:
    """What a model snapshot's header tells the scorers besides the model: the random share
    each stream should use now, raised for a while after a drift, and the green lane's score
    cap per stream (no ``green_lane`` key: the scorers keep every green lane closed)."""
    shares = {
        stream: learner.random_share(stream, settings.random_share) for stream in learner.monitors
    }
    extra: dict[str, Any] = {"random_share": shares}
    caps = learner.green_lane_caps()
    if caps:
        extra["green_lane"] = caps
    return extra


def progress(learner: Learner) -> int:
    """How far a learner got: input records read, which only grows along one history."""
    counts = learner.counters
    return counts["scored_seen"] + counts["outcomes_seen"]


class LearnerProcess:
    """Consume, merge, learn, and publish snapshots until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self.codec = AvroCodec(registry_for(settings))
        self.key = settings.snapshot_key.get_secret_value().encode()
        self.sources = {
            self.topology.scored: SCORED,
            self.topology.outcomes: OUTCOMES,
            self.topology.privacy: PRIVACY,
        }
        self.learner: Learner | None = None
        self.merge: TwoWayMerge[Message] = TwoWayMerge((SCORED, OUTCOMES))
        self.watch = BrokerWatch(settings, "learner")
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        self._in_transaction = False
        # exactly_once: made transactional by run(), which first checks the broker
        self.producer = Producer(self._producer_config())
        self.abandoned: list[Producer] = []  # stuck in a transaction call: never used again
        self.consumer = Consumer(
            consumer_config(
                settings,
                f"{settings.topic_prefix}-learner",
                **self.watch.client_settings(),
                **{
                    "enable.partition.eof": True,
                    "partition.assignment.strategy": "range",
                    # an offset no longer in the log is ours to handle, not a silent jump
                    "auto.offset.reset": "error",
                },
            )
        )
        self.previous: Learner | None = None  # held while the group re-forms
        self.republish = False
        self.last_state_snapshot = -math.inf
        self.state_offsets: dict[str, int] | None = None  # what the last state covered
        self.last_log_check = -math.inf
        self.lag = metrics.LagProbe()

    def _producer_config(self) -> dict[str, Any]:
        return producer_config(
            self.settings,
            **self.watch.client_settings(),
            **{"message.max.bytes": SNAPSHOT_MAX_BYTES},
        )

    def _transactional_producer(self) -> Producer:
        return transactional_producer(
            self.settings, "learner", **self.watch.client_settings(),
            **{"message.max.bytes": SNAPSHOT_MAX_BYTES},
        )

    def restore(self) -> Learner:
        """The newest learner state from the models topic, or a fresh learner."""
        return self._newest_state() or new_learner(self.settings)

    def _newest_state(self) -> Learner | None:
        blob = read_newest(self.settings, "learner")
        if blob is None:
            return None
        try:
            learner, meta = Learner.restore(blob, self.key)
        except SnapshotError as exc:
            log.error("learner state snapshot refused (%s); starting fresh", exc)
            return None
        log.warning(
            "learner resumes %s at offsets %s", meta.get("model_version"), meta.get("offsets")
        )
        # the green lane as configured now; a lane whose configuration is unchanged keeps its
        # audits and cap
        learner.set_green_lane(self.settings.green_lane())
        return learner

    def _resume(self) -> Learner:
        """The newest state snapshot, or the state this process held when its partitions
        were taken away, if that one got further (a broker that lost the models topic
        left no snapshot, or a newer one than the last published)."""
        held, self.previous = self.previous, None
        stored = self._newest_state()
        if held is not None and (stored is None or progress(held) > progress(stored)):
            log.warning(
                "learner keeps its in-memory state %s: newer than the newest state snapshot "
                "(%s)", held.version, "none" if stored is None else stored.version,
            )
            return held
        return stored or new_learner(self.settings)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        learner = self.learner = self._resume()
        if self.state_offsets is None:  # a resumed state is published already
            self.state_offsets = dict(learner.offsets)
        self.merge = TwoWayMerge((SCORED, OUTCOMES))
        for tp in partitions:
            self._rewind_if_reset(tp.topic)
            tp.offset = learner.offsets.get(self.sources[tp.topic], 0)
        consumer.assign(partitions)
        log.warning("learner owns %s", [(tp.topic, tp.offset) for tp in partitions])
        metrics.record_learner(learner)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # whoever takes over resumes from the last snapshot; this process keeps its state
        # in case the partitions come back and no newer snapshot exists
        self.previous, self.learner = self.learner or self.previous, None

    def _subscribe(self) -> None:
        # the range assignor gives one member partition 0 of every one-partition topic
        self.consumer.subscribe(
            [self.topology.scored, self.topology.outcomes, self.topology.privacy],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
        )

    def run(self, duration_s: float | None = None) -> None:
        if self.exactly_once:
            # refuses a broker without real transactions
            check_transactions(self.settings, "learner")
            self.producer = self._transactional_producer()
        self.watch.start()
        self._subscribe()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while deadline is None or time.monotonic() < deadline:
                if self.watch.take_rejoin():
                    # a group formed while the inputs were missing never reads them
                    log.warning("learner joins its consumer group again after broker trouble")
                    self.consumer.unsubscribe()
                    self._subscribe()
                for message in self.consumer.consume(2000, 0.05):
                    self._offer(message)
                self._learn_released()
                if not self.watch.unreachable:  # these wait for the broker's answers
                    self._check_logs()
                    self.lag(self.consumer, self.sources)
                self._maybe_snapshot()
                self.producer.poll(0)  # its errors reach the watch now, not at the next flush
        except KeyboardInterrupt:
            pass
        finally:
            try:
                self._commit_transaction()  # learning events since the last snapshot
            finally:
                self.consumer.close()
                self.producer.flush(10)
                self.watch.stop()

    def _offer(self, message: Message) -> None:
        source = self.sources.get(message.topic() or "")
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                if source in (SCORED, OUTCOMES):
                    self.merge.at_end(source)
            elif error.code() == KafkaError._AUTO_OFFSET_RESET:
                # the offset the learner expects is not in the log; fetching it has stopped
                self._check_logs(out_of_range=message.topic())
            else:
                self.watch.on_error(error)  # logged once per condition
            return
        if source == PRIVACY:
            self._erase(message)
        elif source is not None:
            self.merge.offer(source, message.offset() or 0, message.timestamp()[1], message)

    def _erase(self, message: Message) -> None:
        """Apply an erasure request at once: it must not wait behind the merge."""
        learner, offset = self.learner, message.offset() or 0
        if learner is None:
            return
        try:
            request = self.codec.decode("ErasureRequest", message.value() or b"")
            learner.on_erasure(request, offset)
        except (CodecError, ValueError) as exc:  # the offset still advances past it
            learner.offsets[PRIVACY] = max(learner.offsets.get(PRIVACY, 0), offset + 1)
            log.warning("erasure request at %s:%s not applied: %s", message.topic(), offset, exc)
        metrics.record_learner(learner)

    # -- logs reset under the learner ------------------------------------------------------

    def _rewind_if_reset(self, topic: str | None, out_of_range: bool = False) -> bool:
        """Move the learner's offset of ``topic`` to its log's start if the log no longer
        holds it; True if moved."""
        learner, source = self.learner, self.sources.get(topic or "")
        if learner is None or topic is None or source is None:
            return False
        expected = learner.offsets.get(source, 0)
        moved = restart_point(self.consumer, topic, 0, expected, out_of_range=out_of_range)
        if moved is None:
            return False
        start, end = moved
        if end < expected:
            log.warning(
                "%s was reset: the learner expected offset %d next, the log holds %d to %d "
                "now; reading it from %d (records learnt before are recognised by event id); "
                "snapshots will be published again", topic, expected, start, end, start,
            )
            metrics.record_log_reset(source)
            self.republish = True
        else:
            log.warning(
                "%s was trimmed: records %d to %d are gone unlearnt (retention); going on "
                "from %d", topic, expected, start - 1, start,
            )
        learner.offsets[source] = start
        return True

    def _check_logs(self, out_of_range: str | None = None) -> None:
        """Every few seconds (or now, for the topic the broker said ``out_of_range``):
        rewind inputs whose log was reset, and publish the snapshots again if the models
        topic lost them."""
        learner = self.learner
        clock = time.monotonic()
        if learner is None:
            return
        if out_of_range is None and clock - self.last_log_check < LOG_CHECK_S:
            return
        self.last_log_check = clock
        try:
            assigned = self.consumer.assignment()
        except KafkaException:
            return
        moved = [self._rewind_if_reset(tp.topic, tp.topic == out_of_range) for tp in assigned]
        if any(moved) or out_of_range is not None:  # a seek also restarts a stopped fetch
            # whatever the merge holds is read again from the learner's offsets
            self.merge = TwoWayMerge((SCORED, OUTCOMES))
            for tp in assigned:
                offset = learner.offsets.get(self.sources.get(tp.topic or "", ""), 0)
                try:
                    self.consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
                except KafkaException as exc:
                    log.warning("learner cannot seek %s to %d: %s", tp.topic, offset, exc)
        if self.watch.outages and not self.republish and progress(learner):
            models = TopicPartition(self.topology.models, 0)
            try:
                _, end = self.consumer.get_watermark_offsets(models, timeout=1.0, cached=False)
            except KafkaException:
                return
            if end == 0:
                log.warning("%s is empty: publishing the snapshots again", models.topic)
                self.republish = True

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
        self._begin_transaction()
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
        if learner is None or self.watch.unreachable:  # publish once the broker is back
            return
        # after the broker lost them: now, with the whole state
        republish = self.republish
        model_due = republish or learner.snapshot_due(now)
        # The whole state (pending records included) is larger: publish it less often, but
        # also when the input went quiet after the last one (else a restart would replay
        # the tail however long the stream stays idle). A restart from an older state
        # replays more input and still ends in the same state.
        state_due = republish or (
            learner.offsets != self.state_offsets
            and now - self.last_state_snapshot >= self.settings.state_snapshot_every_s
        )
        if not model_due and not state_due:
            return
        created = datetime.now(UTC)
        self._begin_transaction()
        if model_due:
            blob = learner.model_snapshot(
                self.key, now, created_at=created, extra=snapshot_extra(learner, self.settings)
            )
            publish(self.producer, self.settings, "model", blob)
        offsets = None
        if state_due:
            publish(self.producer, self.settings, "learner",
                    learner.state_snapshot(self.key, created_at=created))
            self.last_state_snapshot = now
            offsets = dict(learner.offsets)
        if not self._commit_transaction(offsets):
            self.republish = True  # both snapshots again, at the next round
            return
        if offsets is not None:
            self.state_offsets = offsets
        if republish:
            self.republish = False
            log.warning("learner published its snapshots again (%s)", learner.version)
        metrics.record_snapshot(learner, json.dumps(learner.offsets))


    # -- exactly-once ----------------------------------------------------------------------

    def _begin_transaction(self) -> None:
        if self.exactly_once and not self._in_transaction:
            self.producer.begin_transaction()
            self._in_transaction = True

    def _commit_transaction(self, offsets: dict[str, int] | None = None) -> bool:
        """Commit the open transaction, with the learner group's offsets set to
        ``offsets`` (a state snapshot's); False if it had to be aborted."""
        if not self._in_transaction:
            return True
        sources = {source: topic for topic, source in self.sources.items()}
        producer = self.producer
        places = [TopicPartition(sources[s], 0, o) for s, o in (offsets or {}).items()
                  if s in sources]
        try:
            commit(producer, places, self.consumer.consumer_group_metadata(),
                   self.settings.transaction_timeout_s)
        except TransactionStuck as exc:
            # a successor with the same transactional id fences it and aborts its transaction
            log.warning("%s; replacing the learner's producer, publishing again", exc)
            self.abandoned.append(producer)  # freeing it mid-call would crash the process
            self.producer = self._transactional_producer()
            self._in_transaction = False
            metrics.record_transaction("aborted")
            return False
        except KafkaException as exc:
            error = exc.args[0]
            if error.fatal():  # fenced: another learner process took this id
                log.error("learner's transactional producer fenced, stopping: %s", error.str())
                raise
            log.warning("snapshot transaction aborted, publishing again: %s", error.str())
            try:
                self.producer.abort_transaction(30)
            except KafkaException as again:
                log.warning("abort failed (%s); the broker aborts it on timeout", again)
            self._in_transaction = False
            metrics.record_transaction("aborted")
            return False
        self._in_transaction = False
        metrics.record_transaction("committed")
        return True


def run_learner(duration_s: float | None = None) -> None:
    settings = Settings()
    settings.check_production()
    metrics.describe_build()
    metrics.preinitialise_learner()
    metrics.serve(settings.metrics_port, settings.metrics_addr)
    LearnerProcess(settings).run(duration_s)
