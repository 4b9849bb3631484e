from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import (
    ApacheKafkaCluster,
    EmbeddedBroker,
    KafkaToolMissing,
    kafka_class_archive,
    kafka_jars,
)
from streams.testing import Deployment, new_deployment

# CI sets this: there, a missing java or mvn is a broken machine, not a reason to skip
REQUIRE_APACHE_KAFKA = "RISKSTREAM_REQUIRE_APACHE_KAFKA"


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded broker for the whole session; tests isolate by topic prefix."""
    with EmbeddedBroker() as running:
        yield running


# tests marked both_brokers run once per broker: the embedded one and Apache Kafka
BROKERS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("apache_kafka", id="apache_kafka", marks=pytest.mark.apache_kafka),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bootstrap" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_brokers"
    ):
        metafunc.parametrize("bootstrap", BROKERS, indirect=True)


@pytest.fixture
def bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap servers of the session broker this test runs on (embedded unless the test
    is marked both_brokers, which runs it on each)."""
    kind = getattr(request, "param", "embedded")
    running = request.getfixturevalue("apache_kafka" if kind == "apache_kafka" else "broker")
    return str(running.bootstrap)


@pytest.fixture
def deployment(bootstrap: str, tmp_path: Path) -> Deployment:
    """A fresh set of topics on the session broker."""
    return new_deployment(bootstrap, tmp_path)


def _apache_kafka(tmp_path_factory: pytest.TempPathFactory, nodes: int) -> ApacheKafkaCluster:
    try:
        jars = kafka_jars()
    except KafkaToolMissing as exc:
        if os.environ.get(REQUIRE_APACHE_KAFKA) == "1":
            pytest.fail(f"{exc} ({REQUIRE_APACHE_KAFKA}=1)", pytrace=False)
        pytest.skip(str(exc))
    # a class archive: each of the suite's ~25 node starts is ~1 s quicker
    return ApacheKafkaCluster(tmp_path_factory.mktemp(f"kafka{nodes}"), nodes=nodes, jars=jars,
                              class_archive=kafka_class_archive(jars))


@pytest.fixture(scope="session")
def apache_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafkaCluster]:
    """One Apache Kafka node (KRaft, replication factor 1) for the session, on disk: a test
    may kill and restart it, and must leave it running."""
    with _apache_kafka(tmp_path_factory, 1) as running:
        yield running


@pytest.fixture(scope="session")
def apache_kafka_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApacheKafkaCluster]:
    """Three Apache Kafka nodes (replication factor 3, min.insync.replicas 2) for the
    session; a test that kills a node starts it again."""
    with _apache_kafka(tmp_path_factory, 3) as running:
        yield running
