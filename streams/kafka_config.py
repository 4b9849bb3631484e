"""Client configuration for confluent-kafka (librdkafka) built from the typed settings.

One function per client kind, so that timeouts, batching and security reach every client
the same way. Secrets are only read here, at the last moment, and never logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, NamedTuple

from streams.settings import Settings

log = logging.getLogger(__name__)


class BrokerTuning(NamedTuple):
    fetch_max_wait_ms: int
    producer_linger_ms: int


# Apache Kafka answers a fetch as soon as data arrives, so a long wait costs no latency and
# saves idle polls; a 1 ms linger still batches bursts. Tansu answers only when the wait
# ends, so its waits must be short, and a longer linger saves it produce requests.
BROKER_TUNING = {
    "apache_kafka": BrokerTuning(fetch_max_wait_ms=100, producer_linger_ms=1),
    "embedded": BrokerTuning(fetch_max_wait_ms=10, producer_linger_ms=5),
}
EMBEDDED_CLUSTER_ID = "tansu_cluster"
_detected: dict[str, str] = {}
_detect_lock = threading.Lock()


def broker_kind(settings: Settings, timeout_s: float = 5.0) -> str:
    """``settings.broker_kind``, or for ``auto`` what the cluster says it is (asked once per
    bootstrap and process). An unreachable broker gets the embedded tuning: its short
    waits are correct on both brokers, only costlier on Apache Kafka."""
    if settings.broker_kind != "auto":
        return settings.broker_kind
    with _detect_lock:
        if settings.kafka_bootstrap not in _detected:
            _detected[settings.kafka_bootstrap] = _ask_cluster(settings, timeout_s)
        return _detected[settings.kafka_bootstrap]


def _ask_cluster(settings: Settings, timeout_s: float) -> str:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**client_config(settings), "log_level": 0})
    try:
        cluster = admin.describe_cluster(request_timeout=timeout_s).result(timeout_s + 1)
    except Exception as exc:  # a broker that is still starting, or no DescribeCluster API
        log.warning("could not ask %s what broker it is (%s); using the embedded broker's "
                    "fetch wait and linger", settings.kafka_bootstrap, type(exc).__name__)
        return "embedded"
    return "embedded" if cluster.cluster_id == EMBEDDED_CLUSTER_ID else "apache_kafka"


def broker_tuning(settings: Settings) -> BrokerTuning:
    """Fetch wait and linger: the settings' values, else the defaults of the broker kind."""
    if settings.fetch_max_wait_ms is not None and settings.producer_linger_ms is not None:
        return BrokerTuning(settings.fetch_max_wait_ms, settings.producer_linger_ms)
    defaults = BROKER_TUNING[broker_kind(settings)]
    return BrokerTuning(
        defaults.fetch_max_wait_ms if settings.fetch_max_wait_ms is None
        else settings.fetch_max_wait_ms,
        defaults.producer_linger_ms if settings.producer_linger_ms is None
        else settings.producer_linger_ms,
    )


def client_config(settings: Settings) -> dict[str, Any]:
    """Settings shared by admin, producer and consumer clients."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.security_protocol,
        "log_level": 3,  # errors only: librdkafka's info lines are noise in a terminal
    }
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
        config["sasl.username"] = settings.sasl_username or ""
        if settings.sasl_password is not None:
            config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_cafile:
        config["ssl.ca.location"] = settings.ssl_cafile
    return config


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """A batching, idempotence-free producer (the embedded broker has no transactions)."""
    return {
        **client_config(settings),
        "linger.ms": broker_tuning(settings).producer_linger_ms,
        "acks": "all",
        # a topic missing after a broker lost its storage must not come back with the
        # broker's default partition count: the workers re-create it (streams.admin)
        "allow.auto.create.topics": False,
        **overrides,
    }


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer with short fetch waits and the session timeout of this environment."""
    return {
        **client_config(settings),
        "group.id": group_id,
        "group.protocol": "classic",  # the embedded broker never assigns under KIP-848
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # never see the records of an aborted transaction (exactly_once writers)
        "isolation.level": "read_committed",
        "fetch.wait.max.ms": broker_tuning(settings).fetch_max_wait_ms,
        "session.timeout.ms": int(settings.session_timeout_s * 1000),
        "heartbeat.interval.ms": int(settings.heartbeat_interval_s * 1000),
        **overrides,
    }


def scorer_consumer_config(
    settings: Settings, group_id: str, assignment_strategy: str, **overrides: Any
) -> dict[str, Any]:
    """The scorers' consumer, in the group protocol of ``settings.group_protocol``.

    Under KIP-848 (``consumer``) the broker assigns partitions and owns the session
    timing: librdkafka refuses the classic protocol's assignor and timeouts there.
    """
    config = consumer_config(settings, group_id, **overrides)
    if settings.group_protocol == "consumer":
        config["group.protocol"] = "consumer"
        for classic_only in ("session.timeout.ms", "heartbeat.interval.ms"):
            config.pop(classic_only, None)
    else:
        config["partition.assignment.strategy"] = assignment_strategy
    return config
