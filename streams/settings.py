"""Typed settings, read once from the environment (prefix ``RISKSTREAM_``).

Every process (worker, learner, simulator, tools) takes its configuration from here, so the
same code runs on the embedded broker and on Apache Kafka: only the environment changes.
faust reads some variables of its own (``BROKER_URL``, ``WEB_PORT``...); ``streams.app``
maps ours onto faust's explicitly so there is one source of truth.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from learning.green_lane import GreenLaneConfig
from schemas.validation import MAP_NAME

# A development key, so that `make demo` runs with no setup. Production mode refuses it.
DEV_PSEUDONYM_KEY = "riskstream-dev-only-key-change-me"
DEV_SNAPSHOT_KEY = "riskstream-dev-only-snapshot-key"
DEV_DEADLETTER_KEY = "riskstream-dev-only-dead-letter-key"


class Settings(BaseSettings):
    """riskstream configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="RISKSTREAM_", extra="ignore")

    mode: Literal["dev", "production"] = Field(
        "dev", description="production refuses development keys and unauthenticated plaintext"
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    ssl_cafile: str | None = Field(None, description="CA bundle for verifying the brokers")
    allow_insecure: bool = Field(
        False, description="let production mode run on plaintext without authentication"
    )
    schema_registry_url: str | None = Field(
        None, description="Confluent Schema Registry URL; unset uses the built-in local registry"
    )
    topic_prefix: str = Field("riskstream", description="prefix of every topic name")
    event_partitions: int = Field(4, ge=1, description="partitions of each events topic")
    verdict_partitions: int = Field(4, ge=1, description="partitions of the verdicts topic")
    replication_factor: int = Field(1, ge=1, description="replication factor of created topics")

    # Consumer-group timing. Apache Kafka rejects session timeouts under 6 s by default, so
    # the default is safe there; the embedded broker wants ~2 s (join waits timeout/2).
    session_timeout_s: float = Field(10.0, gt=0, description="consumer session timeout")
    heartbeat_interval_s: float = Field(1.0, gt=0, description="consumer heartbeat interval")
    group_protocol: Literal["classic", "consumer"] = Field(
        "classic",
        description="scorer group protocol: consumer (KIP-848) on Apache Kafka 4.x; the "
        "embedded broker never assigns under it",
    )
    broker_kind: Literal["auto", "apache_kafka", "embedded"] = Field(
        "auto",
        description="picks the fetch wait and linger defaults; auto asks the broker once "
        "(the embedded Tansu names its cluster tansu_cluster)",
    )
    fetch_max_wait_ms: int | None = Field(
        None, ge=0, description="fetch long-poll wait; unset: 100 on Apache Kafka (a fetch "
        "wakes when data arrives), 10 on the embedded broker (it does not)",
    )
    producer_linger_ms: int | None = Field(
        None, ge=0, description="producer batching delay; unset: 1 on Apache Kafka, 5 on "
        "the embedded broker",
    )

    pseudonym_key: SecretStr = Field(
        SecretStr(DEV_PSEUDONYM_KEY), description="HMAC key for pseudonymising personal fields"
    )
    pseudonym_previous_keys: list[SecretStr] = Field(
        default_factory=list,
        description="rotation grace period: previous pseudonym keys, newest first (JSON list); "
        "profiles move to the new tokens as subjects reappear",
    )
    personal_attributes: set[str] = Field(
        default_factory=set,
        description="names in the events' attributes map that hold personal data, "
        'pseudonymised on ingest like personal fields (JSON list, e.g. ["owner_name"])',
    )
    deadletter_payload: Literal["sealed", "clear", "dropped"] = Field(
        "sealed", description="how dead letters keep the raw payload (it may hold personal data)"
    )
    deadletter_key: SecretStr = Field(
        SecretStr(DEV_DEADLETTER_KEY), description="secret that seals dead letters' raw payloads"
    )
    retention_passenger_days: int = Field(
        183, ge=1, description="passenger profiles and topics holding their tokens are masked after"
    )
    retention_consignment_days: int = Field(
        3 * 365, ge=1, description="courier and postal profiles are masked after this many days"
    )
    raw_event_retention_days: float = Field(
        7.0, gt=0, description="events topics (personal data in clear) keep records this long"
    )
    inspection_rates: dict[str, float] = Field(
        default_factory=lambda: {"*": 0.05},
        description='inspection capacity per "stream.hub", "stream" or "*", as a rate (JSON); '
        'an area lane\'s own per "stream.hub.area" ("*" for any stream or hub)',
    )
    ranking: dict[str, str | float] = Field(
        default_factory=dict,
        description='what each lane ranks by, keyed like the rates: "probability" (default), '
        '"revenue" (probability times expected recovery) or a blend weight in [0, 1] (JSON)',
    )
    lane_areas: dict[str, list[str]] = Field(
        default_factory=dict,
        description="areas with lanes and budgets of their own: name -> HS code prefixes, "
        'e.g. {"excise": ["22", "24", "27"]} (JSON)',
    )
    random_share: float = Field(0.1, ge=0, le=1, description="share of the budget picked at random")
    document_check_rate: float = Field(
        0.05, ge=0, le=1, description="share of traffic just below selection sent to document check"
    )
    selection_window: int = Field(2000, ge=10, description="scores in the sliding selection window")
    budget_period: Literal["hour", "day", "week", "none"] = Field(
        "day", description="accounting period each lane's budget is a ceiling over (UTC, by "
        "decision time); none: the sliding window alone holds the rate",
    )
    green_lane_enabled: bool = Field(
        False, description="green lane: release AEO traders and parties with a long clean "
        "record without any check, within a bound on its miss rate (off: a border opts in); "
        "set it on the scorers and the learner",
    )
    green_lane_max_miss_rate: float = Field(
        0.01, gt=0, lt=1, description="green lane: largest miss rate it may run at; its "
        "score cap narrows when the miss rate's upper bound (95%) passes it",
    )
    green_lane_score_cap: float = Field(
        0.01, gt=0, le=1, description="green lane: widest score cap; qualifying events "
        "scored below the cap are released (a calibrated model's events under 1% miss less "
        "than 1%), and the learner narrows it and widens it back up to this",
    )
    green_lane_audit_share: float = Field(
        0.02, ge=0, le=1, description="green lane: share of its events inspected at random, "
        "the only unbiased estimate of its miss rate (within the inspection budget)",
    )
    green_lane_window: int = Field(
        1000, ge=1, description="green lane: audit outcomes the miss rate is estimated over "
        "(at least 381 for a maximum of 1%)",
    )
    green_lane_min_clean_inspections: int = Field(
        10, ge=1, description="green lane: inspections, none with a finding, that make a "
        "long clean record",
    )
    green_lane_check_seconds: float = Field(
        1800.0, ge=0, description="green lane: release time an average check costs; each "
        "green release saves it (the facilitation metric)",
    )
    max_event_bytes: int = Field(
        1_000_000, ge=1024, description="larger event payloads are dead-lettered as oversized"
    )
    rules_file: str | None = Field(None, description="YAML rule book; unset uses the packaged one")
    circumvention_file: str | None = Field(
        None, description="YAML circumvention book (re-labelling hubs, trade-defence measures, "
        "switch window after a finding); unset uses the packaged one",
    )
    seed: int = Field(42, description="seed of models and random selection")
    snapshot_key: SecretStr = Field(
        SecretStr(DEV_SNAPSHOT_KEY), description="HMAC key that signs and verifies model snapshots"
    )
    model_file: str | None = Field(
        None, description="signed warm-start snapshot to score with until the learner publishes"
    )
    snapshot_every_outcomes: int = Field(
        50, ge=1, description="learner publishes a snapshot after this many applied outcomes"
    )
    snapshot_every_s: float = Field(
        0.5, gt=0, description="...or after this many seconds with new learning, whichever first"
    )
    state_snapshot_every_s: float = Field(
        30.0, ge=0, description="learner publishes its whole state (for restarts) this often"
    )
    pending_ttl_s: float = Field(
        14 * 86400.0, gt=0, description="how long a scored record waits for its outcome"
    )
    challenger_learning_rate: float | None = Field(
        0.1, gt=0, description="step size of the shadow challenger's stacker; unset: none"
    )
    weight_clip: float = Field(
        1.0, ge=1, description="largest inverse-propensity weight one outcome is learnt with "
        "(1: unweighted, which ranked best on the targeting benchmark)"
    )
    ensemble: dict[str, Any] = Field(
        default_factory=dict,
        description="StreamEnsemble parameters of a fresh model, e.g. "
        '{"shrinkage": "fixed", "prior_strength": 5} or {"rule_evidence": "severity"} '
        "(JSON; see bench/targeting_ablations.json for what each changes)",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="exactly_once: the fast scorer and the learner write and commit in Kafka "
        "transactions (Apache Kafka only; refused at start-up on a broker without them)",
    )
    transaction_every_s: float = Field(
        0.1, gt=0, description="exactly_once: a scorer commits its transaction this often "
        "(read_committed readers see verdicts then)",
    )
    transaction_timeout_s: float = Field(
        10.0, gt=0, description="exactly_once: a transaction left open by a dead process is "
        "aborted by the broker after this long (at once when the process restarts)",
    )
    engine: Literal["fast", "faust"] = Field(
        "fast",
        description="scorer engine: fast (a confluent-kafka loop, 3x faust's events per "
        "CPU-second in bench/report.json) or faust (the agent)",
    )
    worker_id: str = Field("scorer-1", description="name of this worker in logs and metrics")
    metrics_port: int = Field(0, ge=0, description="port of /metrics; 0 disables it")
    metrics_addr: str = Field("127.0.0.1", description="address /metrics binds to")
    data_dir: str = Field(".riskstream", description="local state (faust data dir)")
    log_level: Literal["debug", "info", "warn", "error"] = Field("warn", description="log level")

    @field_validator("personal_attributes")
    @classmethod
    def _attribute_names(cls, value: set[str]) -> set[str]:
        bad = sorted(name for name in value if MAP_NAME.fullmatch(name) is None)
        if bad:
            raise ValueError(
                f"personal attribute names must match {MAP_NAME.pattern}: {', '.join(bad)}"
            )
        return value

    @model_validator(mode="after")
    def _green_lane_can_pass(self) -> Settings:
        if self.green_lane_enabled:
            self.green_lane()  # a window too short for the maximum is refused with the reason
        return self

    def green_lane(self) -> GreenLaneConfig | None:
        """The learner's green lane configuration (None when the lane is off)."""
        if not self.green_lane_enabled:
            return None
        return GreenLaneConfig(
            max_miss_rate=self.green_lane_max_miss_rate,
            cap=self.green_lane_score_cap,
            window=self.green_lane_window,
        )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _strip_scheme(cls, value: str) -> str:
        # Accept kafka://host:port as well as host:port: everything is configured by URL.
        return ",".join(part.removeprefix("kafka://") for part in value.split(","))

    def check_production(self) -> None:
        """Refuse settings that are only acceptable on a developer's machine."""
        if self.mode != "production":
            return
        development_keys = [
            ("RISKSTREAM_PSEUDONYM_KEY", self.pseudonym_key, DEV_PSEUDONYM_KEY),
            ("RISKSTREAM_SNAPSHOT_KEY", self.snapshot_key, DEV_SNAPSHOT_KEY),
        ]
        if self.deadletter_payload == "sealed":
            development_keys.append(
                ("RISKSTREAM_DEADLETTER_KEY", self.deadletter_key, DEV_DEADLETTER_KEY)
            )
        for variable, key, development in development_keys:
            if key.get_secret_value() == development:
                raise ValueError(
                    f"{variable} is the development key; set a secret key in production"
                )
        if self.allow_insecure:
            return
        if self.deadletter_payload == "clear":
            raise ValueError(
                "production mode refuses dead letters with raw payloads in clear; use "
                "RISKSTREAM_DEADLETTER_PAYLOAD=sealed or dropped, or RISKSTREAM_ALLOW_INSECURE=true"
            )
        if self.security_protocol == "PLAINTEXT":
            raise ValueError(
                "production mode refuses plaintext Kafka without authentication; set "
                "RISKSTREAM_SECURITY_PROTOCOL (SSL, SASL_SSL) or RISKSTREAM_ALLOW_INSECURE=true"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return Settings()
