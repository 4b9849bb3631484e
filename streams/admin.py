"""Create riskstream's topics explicitly and idempotently (``riskstream topics create``)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streams.kafka_config import client_config
from streams.settings import Settings
from streams.topology import Topology


@dataclass(frozen=True)
class TopicReport:
    name: str
    action: str  # "created", "exists", or "exists with N partitions (wanted M)"


def create_topics(settings: Settings, timeout_s: float = 15.0) -> list[TopicReport]:
    """Create every topic of the topology; existing ones are left as they are and reported."""
    topology = Topology.from_settings(settings)
    admin = AdminClient(client_config(settings))
    existing = admin.list_topics(timeout=timeout_s).topics
    reports: list[TopicReport] = []
    wanted = []
    for spec in topology.specs():
        if spec.name in existing:
            have = len(existing[spec.name].partitions)
            action = (
                "exists"
                if have == spec.partitions
                else (f"exists with {have} partitions (wanted {spec.partitions})")
            )
            reports.append(TopicReport(spec.name, action))
        else:
            wanted.append(
                NewTopic(
                    spec.name,
                    spec.partitions,
                    settings.replication_factor,
                    config=dict(spec.config),
                )
            )
    if wanted:
        for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
            try:
                future.result(timeout_s)
                reports.append(TopicReport(name, "created"))
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:  # lost a race: fine
                    raise
                reports.append(TopicReport(name, "exists"))
    return reports
