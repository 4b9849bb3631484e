"""The one faust app of riskstream, and every topic it reads or writes, declared once.

Settings come from ``streams.settings`` and are mapped onto faust's here, explicitly, so
faust's own environment variables cannot silently override them.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.kafka_config import broker_tuning
from streams.settings import Settings, get_settings
from streams.topology import STREAMS, Topology


def _use_broker_fetch_wait(settings: Settings) -> None:
    """Replace faust's hard-coded 1.5 s fetch wait of its stream consumer by the broker's.

    Brokers that do not wake a long-poll on new data (the embedded one) would otherwise add
    up to 1.5 s per hop. The wait is resolved when the consumer is made, not at import, so
    importing the app (unit tests, ``test_context()``) never asks a broker anything.
    """
    thread_cls: Any = faust_aiokafka.AIOKafkaConsumerThread
    original = getattr(thread_cls, "_riskstream_original", None) or (
        thread_cls._create_worker_consumer
    )

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = broker_tuning(settings).fetch_max_wait_ms
        return consumer

    thread_cls._riskstream_original = original
    thread_cls._create_worker_consumer = create_worker_consumer


def use_broker_linger(app: faust.App, settings: Settings) -> None:
    """Set the producer linger of the broker in use; call before the worker starts."""
    app.conf.producer_linger = broker_tuning(settings).producer_linger_ms / 1000.0


def _credentials(settings: Settings) -> Any:
    if settings.sasl_mechanism is None:
        if settings.security_protocol == "SSL":
            return faust.SSLCredentials(cafile=settings.ssl_cafile)
        return None
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    ssl_context = None
    if settings.security_protocol == "SASL_SSL":
        ssl_context = faust.SSLCredentials(cafile=settings.ssl_cafile).context
    return faust.SASLCredentials(
        username=settings.sasl_username or "",
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=ssl_context,
    )


def create_app(settings: Settings) -> faust.App:
    _use_broker_fetch_wait(settings)
    return faust.App(
        f"{settings.topic_prefix}-scorer",
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        # The embedded broker has no transactions: at-least-once, idempotent consumers.
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_request_timeout=max(40.0, settings.session_timeout_s + 5),
        key_serializer="raw",
        value_serializer="raw",
        topic_allow_declare=False,  # `riskstream topics create` owns topic creation
        topic_disable_leader=True,
        web_enabled=False,
        datadir=settings.data_dir,
        store="memory://",
        consumer_auto_offset_reset="earliest",
        logging_config=None,
    )


settings = get_settings()
topology = Topology.from_settings(settings)
app = create_app(settings)

# One channel over the three events topics: faust balances their partitions over workers.
events_topic = app.topic(*(topology.events(stream) for stream in STREAMS))
verdicts_topic = app.topic(topology.verdicts)
scored_topic = app.topic(topology.scored)
deadletter_topic = app.topic(topology.deadletter)
outbound_topics = {
    topic.get_topic_name(): topic for topic in (verdicts_topic, scored_topic, deadletter_topic)
}
