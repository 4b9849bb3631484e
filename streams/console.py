"""A live terminal summary of what riskstream decides (used by ``riskstream demo``).

It reads the output topics like any border system would, so it shows what really went
over Kafka, not what a process believes it sent.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from confluent_kafka import Consumer, TopicPartition

from schemas import AvroCodec, CodecError
from streams.kafka_config import consumer_config
from streams.registry import registry_for
from streams.settings import Settings
from streams.topology import STREAMS, Topology

FINDINGS = frozenset({"seizure", "revenue_adjustment", "documentary_irregularity"})


@dataclass
class DemoTally:
    """Counts taken from the output topics."""

    verdicts: Counter[str] = field(default_factory=Counter)  # by stream
    levels: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    outcomes: int = 0
    findings: int = 0
    model_version: str = "-"

    @property
    def hit_rate(self) -> float:
        return self.findings / self.outcomes if self.outcomes else 0.0

    def add_verdict(self, verdict: dict[str, object]) -> None:
        self.verdicts[str(verdict["stream"])] += 1
        self.levels[str(verdict["level"])] += 1
        self.kinds[str(verdict["selection_kind"])] += 1
        self.model_version = str(verdict["model_version"])

    def add_outcome(self, outcome: dict[str, object]) -> None:
        self.outcomes += 1
        self.findings += outcome["result"] in FINDINGS


class OutputWatcher:
    """Read verdicts, outcomes and dead letters from the start of each topic."""

    def __init__(self, settings: Settings) -> None:
        self.topology = Topology.from_settings(settings)
        self.codec = AvroCodec(registry_for(settings))
        self.tally = DemoTally()
        self.consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}-console"))
        assignment = []
        for topic in (self.topology.verdicts, self.topology.outcomes, self.topology.deadletter):
            metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
            assignment += [TopicPartition(topic, p, 0) for p in metadata.partitions]
        self.consumer.assign(assignment)

    def drain(self, max_messages: int = 5000) -> None:
        for message in self.consumer.consume(max_messages, 0.05):
            if message.error() is not None:
                continue
            topic = message.topic()
            try:
                if topic == self.topology.verdicts:
                    self.tally.add_verdict(self.codec.decode("RiskVerdict", message.value() or b""))
                elif topic == self.topology.outcomes:
                    self.tally.add_outcome(
                        self.codec.decode("InspectionOutcome", message.value() or b"")
                    )
                else:
                    self.tally.dead_letters += 1
            except CodecError:
                self.tally.dead_letters += 1

    def close(self) -> None:
        self.consumer.close()


def render(tally: DemoTally, previous: DemoTally | None, seconds: float) -> str:
    """One block of the live summary."""
    rates = []
    for stream in STREAMS:
        before = previous.verdicts[stream] if previous else 0
        rates.append(f"{stream} {(tally.verdicts[stream] - before) / max(seconds, 1e-9):6.1f}/s")
    levels = "  ".join(
        f"{level} {tally.levels[level]}"
        for level in ("release", "document_check", "physical_inspection")
    )
    kinds = "  ".join(f"{kind} {tally.kinds[kind]}" for kind in ("model", "random", "rule"))
    totals = "  ".join(f"{stream} verdicts {tally.verdicts[stream]}" for stream in STREAMS)
    return (
        f"[{time.strftime('%H:%M:%S')}] verdicts/s: {'  '.join(rates)}\n"
        f"           {totals}\n"
        f"           levels: {levels}\n"
        f"           selected by: {kinds}   dead letters: {tally.dead_letters}\n"
        f"           outcomes: {tally.outcomes}   hit rate among inspections: "
        f"{tally.hit_rate:.1%}\n"
        f"           model in use: {tally.model_version}"
    )


def snapshot(tally: DemoTally) -> DemoTally:
    return DemoTally(
        Counter(tally.verdicts),
        Counter(tally.levels),
        Counter(tally.kinds),
        tally.dead_letters,
        tally.outcomes,
        tally.findings,
        tally.model_version,
    )


def print_block(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()
