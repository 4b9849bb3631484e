"""Fetch wait and linger defaults follow the broker in use (asked once), settings win."""

from __future__ import annotations

import logging

import pytest

from streams.broker import free_port
from streams.kafka_config import (
    BROKER_TUNING,
    broker_kind,
    broker_tuning,
    consumer_config,
    producer_config,
)
from streams.settings import Settings


@pytest.mark.both_brokers
def test_auto_asks_the_broker_what_it_is(bootstrap: str, request: pytest.FixtureRequest) -> None:
    expected = request.node.callspec.params["bootstrap"]
    settings = Settings(kafka_bootstrap=bootstrap)
    assert broker_kind(settings) == expected
    tuning = BROKER_TUNING[expected]
    assert consumer_config(settings, "g")["fetch.wait.max.ms"] == tuning.fetch_max_wait_ms
    assert producer_config(settings)["linger.ms"] == tuning.producer_linger_ms
    print(f"{expected}: fetch wait {tuning.fetch_max_wait_ms} ms, "
          f"linger {tuning.producer_linger_ms} ms")


def test_explicit_values_and_kind_need_no_broker() -> None:
    settings = Settings(kafka_bootstrap="nowhere.invalid:9092", broker_kind="apache_kafka",
                        producer_linger_ms=7)
    assert broker_tuning(settings) == (BROKER_TUNING["apache_kafka"].fetch_max_wait_ms, 7)
    both = Settings(kafka_bootstrap="nowhere.invalid:9092", fetch_max_wait_ms=3,
                    producer_linger_ms=0)
    assert broker_tuning(both) == (3, 0)  # auto, but nothing left to ask


def test_an_unreachable_broker_gets_the_short_waits(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="streams.kafka_config"):
        assert broker_kind(settings, timeout_s=0.5) == "embedded"
    assert "could not ask" in caplog.text
    assert broker_tuning(settings) == BROKER_TUNING["embedded"]  # remembered, not re-asked
