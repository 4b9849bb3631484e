"""Typed settings: security settings reach every client, secrets never show, production refuses
development keys and plaintext without authentication."""

from __future__ import annotations

import pytest

from schemas import Pseudonymiser
from streams.kafka_config import consumer_config, producer_config
from streams.runtime import build_pseudonymiser
from streams.settings import DEV_DEADLETTER_KEY, Settings

SECURE = {
    "mode": "production",
    "pseudonym_key": "a-real-pseudonymisation-key-0001",
    "snapshot_key": "a-real-snapshot-signing-key-0001",
    "deadletter_key": "a-real-dead-letter-seal-key-0001",
}


def test_production_refuses_development_keys_and_plaintext() -> None:
    with pytest.raises(ValueError, match="RISKSTREAM_PSEUDONYM_KEY"):
        Settings(mode="production").check_production()
    with pytest.raises(ValueError, match="plaintext"):
        Settings(**SECURE).check_production()
    Settings(**SECURE, allow_insecure=True).check_production()
    Settings(**SECURE, security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
             sasl_username="rs", sasl_password="pw").check_production()
    with pytest.raises(ValueError, match="RISKSTREAM_DEADLETTER_KEY"):
        Settings(**{**SECURE, "deadletter_key": DEV_DEADLETTER_KEY}, allow_insecure=True
                 ).check_production()
    with pytest.raises(ValueError, match="in clear"):
        Settings(**SECURE, deadletter_payload="clear", security_protocol="SSL").check_production()
    Settings(**SECURE, deadletter_payload="dropped", security_protocol="SSL").check_production()
    Settings().check_production()  # dev mode runs with the development keys


def test_previous_pseudonym_keys_are_secret_and_reach_the_pseudonymiser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RISKSTREAM_PSEUDONYM_KEY", "the-new-key-of-november-2026")
    monkeypatch.setenv("RISKSTREAM_PSEUDONYM_PREVIOUS_KEYS", '["the-old-key-of-may-2026-xxxx"]')
    settings = Settings()
    assert "the-old-key" not in repr(settings) + str(settings.model_dump())
    pseudonymiser = build_pseudonymiser(settings)
    old = Pseudonymiser(b"the-old-key-of-may-2026-xxxx")
    assert pseudonymiser.tokens_for("Jane Doe")[1] == old.token("Jane Doe")
    assert pseudonymiser.apply_previous("PostalItem", {"sender_name": "Jane Doe"}) == {
        "sender_name": old.token("Jane Doe")
    }


def test_tls_and_sasl_reach_every_client_and_secrets_stay_hidden() -> None:
    settings = Settings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256",
                        sasl_username="riskstream", sasl_password="s3cret-pw",
                        ssl_cafile="/etc/ssl/ca.pem", kafka_bootstrap="kafka://b1:9093,b2:9093",
                        broker_kind="apache_kafka")
    for config in (producer_config(settings), consumer_config(settings, "g")):
        assert config["bootstrap.servers"] == "b1:9093,b2:9093"
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "SCRAM-SHA-256"
        assert config["sasl.username"] == "riskstream"
        assert config["sasl.password"] == "s3cret-pw"
        assert config["ssl.ca.location"] == "/etc/ssl/ca.pem"
    shown = repr(settings) + str(settings.model_dump())
    assert "s3cret-pw" not in shown
    assert "riskstream-dev-only" not in shown


def test_environment_variables_are_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSTREAM_INSPECTION_RATES", '{"postal.hub_LEJ": 0.05, "*": 0.02}')
    monkeypatch.setenv("RISKSTREAM_SESSION_TIMEOUT_S", "2")
    monkeypatch.setenv("RISKSTREAM_BROKER_KIND", "embedded")
    settings = Settings()
    assert settings.inspection_rates == {"postal.hub_LEJ": 0.05, "*": 0.02}
    assert consumer_config(settings, "g")["session.timeout.ms"] == 2000
    monkeypatch.setenv("RISKSTREAM_RANDOM_SHARE", "1.5")
    with pytest.raises(ValueError, match="random_share"):
        Settings()
