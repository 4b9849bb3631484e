"""Every topic riskstream uses, declared once: name, key, schema, partitions and config.

The embedded broker gives auto-created topics 4 partitions, and Apache Kafka its own
default, so ``riskstream topics create`` makes every topic explicitly before any worker starts.
The learner's inputs (``scored`` and ``outcomes``) have one partition on purpose: exactly one
worker of the group owns them, which makes the learner a single writer with failover.

Retention follows the data: events topics hold personal fields in clear (the hubs publish
them so) and keep records ``raw_event_retention_days``; topics that hold tokens of travellers
(scored records, outcomes, dead letters) keep them as long as passenger profiles live.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from streams.settings import Settings

STREAMS = ("courier", "postal", "passenger")

# The record each stream's events topic carries (a schema in schemas/avro/).
STREAM_SCHEMAS = {
    "courier": "CourierConsignment",
    "postal": "PostalItem",
    "passenger": "PassengerRecord",
}

SNAPSHOT_MAX_BYTES = 16 * 1024 * 1024
DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: what it carries and how it is created."""

    name: str
    key: str
    schema: str
    partitions: int
    purpose: str
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topology:
    """Topic names for one deployment (the prefix lets several share a cluster)."""

    prefix: str = "riskstream"
    event_partitions: int = 4
    verdict_partitions: int = 4
    raw_event_retention_days: float = 7.0
    personal_retention_days: float = 183.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        return cls(
            settings.topic_prefix,
            settings.event_partitions,
            settings.verdict_partitions,
            settings.raw_event_retention_days,
            settings.retention_passenger_days,
        )

    def _retention(self, days: float) -> dict[str, str]:
        return {"retention.ms": str(int(days * DAY_MS))}

    def events(self, stream: str) -> str:
        return f"{self.prefix}.{stream}.events"

    @property
    def verdicts(self) -> str:
        return f"{self.prefix}.verdicts"

    @property
    def scored(self) -> str:
        return f"{self.prefix}.scored"

    @property
    def outcomes(self) -> str:
        return f"{self.prefix}.outcomes"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    @property
    def models(self) -> str:
        return f"{self.prefix}.models"

    @property
    def learning(self) -> str:
        return f"{self.prefix}.learning"

    @property
    def privacy(self) -> str:
        return f"{self.prefix}.privacy"

    def stream_of(self, topic: str) -> str | None:
        """Which stream an events topic belongs to, or None."""
        for stream in STREAMS:
            if topic == self.events(stream):
                return stream
        return None

    def specs(self) -> Iterator[TopicSpec]:
        for stream in STREAMS:
            yield TopicSpec(
                self.events(stream),
                "event_id",
                STREAM_SCHEMAS[stream],
                self.event_partitions,
                f"{stream} events from hubs",
                self._retention(self.raw_event_retention_days),
            )
        yield TopicSpec(
            self.verdicts,
            "event_id",
            "RiskVerdict",
            self.verdict_partitions,
            "risk verdicts for border systems",
        )
        yield TopicSpec(
            self.scored,
            "event_id",
            "ScoredRecord",
            1,
            "features, sub-scores and propensity of every decision, for the learner",
            self._retention(self.personal_retention_days),
        )
        yield TopicSpec(
            self.outcomes,
            "event_id",
            "InspectionOutcome",
            1,
            "inspection results from the inspection systems",
            self._retention(self.personal_retention_days),
        )
        yield TopicSpec(
            self.deadletter,
            "source topic",
            "DeadLetter",
            1,
            "rejected input with its reason and sealed raw bytes",
            self._retention(self.personal_retention_days),
        )
        yield TopicSpec(
            self.models,
            "stream",
            "signed model snapshot",
            1,
            "learned state, compacted: the newest snapshot per key",
            {
                "cleanup.policy": "compact",
                "max.message.bytes": str(SNAPSHOT_MAX_BYTES),
                # superseded snapshots (which may hold erased subjects' keys) go within a day
                "max.compaction.lag.ms": str(DAY_MS),
            },
        )
        yield TopicSpec(
            self.learning,
            "stream",
            "LearningEvent",
            1,
            "drift detections and champion/challenger promotions, for audit",
        )
        yield TopicSpec(
            self.privacy,
            "request id",
            "ErasureRequest",
            1,
            "data subjects' erasure requests (tokens only), applied by the learner",
            self._retention(self.personal_retention_days),
        )
