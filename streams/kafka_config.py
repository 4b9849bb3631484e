"""Client configuration for confluent-kafka (librdkafka) built from the typed settings.

One function per client kind, so that timeouts, batching and security reach every client
the same way. Secrets are only read here, at the last moment, and never logged.
"""

from __future__ import annotations

from typing import Any

from streams.settings import Settings


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
        "linger.ms": settings.producer_linger_ms,
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
        "fetch.wait.max.ms": settings.fetch_max_wait_ms,
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
