"""Drive the synthetic customs world over Kafka (``riskstream simulate``).

Two roles in one loop, because both need the hidden truth: the *hubs* publish events at
their configured rates in real time, and the *inspection authority* reads verdicts and,
for the events it inspects, publishes outcomes after a delay. Released events never get an
outcome, as in real life. With an officer workbench (``workbench``), the authority answers
through it instead, and only the cases no officer claimed within the delay.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas import AvroCodec, CodecError
from simulator import HubWorld, InspectionAuthority, OutcomeQueue, SimEvent, Truth
from streams import metrics
from streams.kafka_config import consumer_config, producer_config
from streams.registry import registry_for
from streams.settings import Settings
from streams.topology import STREAM_SCHEMAS, Topology
from streams.workbench_client import WorkbenchClient, WorkbenchUnavailable

log = logging.getLogger(__name__)

# A case the workbench has not read yet is asked about again, this often and this many times.
UNKNOWN_RETRY_S = 2.0
UNKNOWN_TRIES = 5


@dataclass
class SimulationTally:
    """What the simulator did, for the demo's summary and the tests."""

    published: dict[str, int] = field(default_factory=dict)
    outcomes: int = 0
    verdicts_seen: int = 0
    left_to_officers: int = 0  # workbench cases an officer claimed or closed first


class HubSimulator:
    """Publish simulated hub traffic and answer verdicts with inspection outcomes."""

    def __init__(
        self,
        settings: Settings,
        rates: Mapping[str, Mapping[str, float]],
        seed: int = 7,
        outcome_delay_s: float = 2.0,
        drift_after_s: float | None = None,
        authority: bool = True,
        max_pending_truths: int = 500_000,
        workbench: WorkbenchClient | None = None,
    ) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self.rates = rates
        self.codec = AvroCodec(registry_for(settings))
        self.start = datetime.now(UTC)
        drift_at = self.start + timedelta(seconds=drift_after_s) if drift_after_s else None
        self.world = HubWorld(seed=seed, drift_at=drift_at)
        self.authority = (
            InspectionAuthority(seed=seed, delay_s=outcome_delay_s) if authority else None
        )
        self.queue = OutcomeQueue()
        self.truths: OrderedDict[str, tuple[str, Truth]] = OrderedDict()
        self.max_pending_truths = max_pending_truths
        self.tally = SimulationTally()
        self.producer = Producer(producer_config(self.settings))
        self.verdicts: Consumer | None = None
        self.workbench = workbench
        self._tries: dict[str, int] = {}
        self._workbench_down_until = 0.0

    def _open_verdicts(self) -> Consumer:
        # assign() rather than subscribe(): no group join to wait for, we read everything
        consumer = Consumer(
            consumer_config(self.settings, f"{self.settings.topic_prefix}-authority")
        )
        metadata = consumer.list_topics(self.topology.verdicts, timeout=10)
        partitions = metadata.topics[self.topology.verdicts].partitions
        consumer.assign([TopicPartition(self.topology.verdicts, p, 0) for p in partitions])
        return consumer

    def run(self, duration_s: float | None) -> SimulationTally:
        """Run in real time for ``duration_s`` seconds (None: until interrupted)."""
        if self.authority is not None:
            self.verdicts = self._open_verdicts()
        events = self.world.events(self.start, duration_s or math.inf, self.rates)
        pending = next(events, None)
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while deadline is None or time.monotonic() < deadline:
                now = datetime.now(UTC)
                while pending is not None and pending.record["event_time"] <= now:
                    self._publish_event(pending)
                    pending = next(events, None)
                self._answer_verdicts()
                self._publish_due_outcomes(now)
                self.producer.poll(0)
                time.sleep(0.005)
        finally:
            self.producer.flush(10)
            if self.verdicts is not None:
                self.verdicts.close()
        return self.tally

    def _publish_event(self, event: SimEvent) -> None:
        stream, record = event.stream, event.record
        payload = self.codec.encode(STREAM_SCHEMAS[stream], record)
        self.producer.produce(
            self.topology.events(stream), payload, key=record["event_id"].encode()
        )
        self.tally.published[stream] = self.tally.published.get(stream, 0) + 1
        metrics.record_simulated_event(stream, record["hub"])
        if self.authority is not None:
            self.truths[record["event_id"]] = (stream, event.truth)
            while len(self.truths) > self.max_pending_truths:
                self.truths.popitem(last=False)

    def _answer_verdicts(self) -> None:
        if self.verdicts is None or self.authority is None:
            return
        for message in self.verdicts.consume(500, 0):
            if message.error() is not None:
                continue
            try:
                verdict = self.codec.decode("RiskVerdict", message.value() or b"")
            except CodecError as exc:
                log.warning("authority skipped an unreadable verdict: %s", exc)
                continue
            self.tally.verdicts_seen += 1
            metrics.record_simulated_verdict()
            known = self.truths.pop(verdict["event_id"], None)
            if known is None:  # a duplicate verdict, or an event from another simulator
                continue
            stream, truth = known
            answer = self.authority.inspect(
                verdict["event_id"],
                stream,
                truth,
                verdict["level"],
                verdict["decided_at"],
                hub=verdict["hub"],
            )
            if answer is not None:
                self.queue.push(*answer)

    def _publish_due_outcomes(self, now: datetime) -> None:
        if self.workbench is not None:
            self._answer_through_workbench(now)
            return
        for outcome in self.queue.pop_due(now):
            self.producer.produce(
                self.topology.outcomes,
                self.codec.encode("InspectionOutcome", outcome),
                key=outcome["event_id"].encode(),
            )
            self.tally.outcomes += 1
            metrics.record_simulated_outcome(outcome["stream"])

    def _answer_through_workbench(self, now: datetime) -> None:
        """Hand the due outcomes to the workbench: it records those whose case is still
        open (nobody claimed it) and publishes them once."""
        assert self.workbench is not None
        if time.monotonic() < self._workbench_down_until:
            return
        due = self.queue.pop_due(now)
        if not due:
            return
        try:
            statuses = self.workbench.answer(due)
        except WorkbenchUnavailable as exc:
            log.warning("%s; trying again in 5 s", exc)
            self._workbench_down_until = time.monotonic() + 5.0
            for outcome in due:
                self.queue.push(now, outcome)
            return
        for outcome in due:
            event_id = outcome["event_id"]
            status = statuses.get(event_id, "unknown")
            if status == "recorded":
                self.tally.outcomes += 1
                metrics.record_simulated_outcome(outcome["stream"])
            elif status in ("taken", "closed"):
                self.tally.left_to_officers += 1
            elif status == "unknown":  # its verdict is not in the workbench yet
                tries = self._tries.get(event_id, 0) + 1
                if tries < UNKNOWN_TRIES:
                    self._tries[event_id] = tries
                    self.queue.push(now + timedelta(seconds=UNKNOWN_RETRY_S), outcome)
                    continue
            self._tries.pop(event_id, None)
