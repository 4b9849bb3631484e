"""Exactly-once processing (``RISKSTREAM_PROCESSING_GUARANTEE=exactly_once``): the broker
check that guards it and the transactional producer both the scorer and the learner use.

A scorer in this mode produces a batch's verdicts, scored records and dead letters and
commits the batch's input offsets in one Kafka transaction (``send_offsets_to_transaction``);
readers downstream use ``read_committed`` (:func:`streams.kafka_config.consumer_config`), so
a scorer killed mid-batch leaves nothing they can see, and its successor scores the batch
again from the committed offsets. The learner publishes its model and state snapshots, and
commits the offsets its state records, in one transaction as well.

Not every Kafka-compatible broker keeps that promise. The embedded one (Tansu) accepts a
transactional producer, commits and aborts without error, and then shows the aborted
records to a ``read_committed`` reader. So :func:`check_transactions` does not trust the
handshake: it aborts one probe record, commits another, and refuses to start if a
``read_committed`` reader sees the aborted one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streams.kafka_config import client_config, consumer_config, producer_config
from streams.settings import Settings

log = logging.getLogger(__name__)

PROBE_RETENTION_MS = 3_600_000  # the probe's records matter for seconds; an hour is plenty


class ExactlyOnceUnsupported(RuntimeError):
    """The broker cannot keep the exactly-once promise; the process refuses to start."""


class TransactionStuck(RuntimeError):
    """A transaction call did not return in time; its producer is to be replaced."""


def within(seconds: float, call: Callable[[], object], what: str) -> None:
    """Run a blocking transaction call, raising what it raises, or
    :class:`TransactionStuck` if it has not returned after ``seconds``.

    librdkafka's ``send_offsets_to_transaction`` can ignore its own timeout and block for
    good when the group coordinator's broker goes away (confluentinc/librdkafka#5456 and
    #5511, open; seen here in a rolling restart). The call runs in a thread so the process
    can give up on it: the caller then replaces the producer, whose successor, with the
    same transactional id, fences it and aborts its transaction.

    >>> within(1.0, lambda: None, "nothing")
    >>> within(0.05, lambda: time.sleep(1), "a nap")
    Traceback (most recent call last):
    ...
    streams.transactions.TransactionStuck: a nap did not return within 0.05 s
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"transaction {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TransactionStuck(f"{what} did not return within {seconds:g} s")
    if failure:
        raise failure[0]


def transactional_id(settings: Settings, role: str) -> str:
    """One id per process, stable across its restarts: a restarted process fences its
    predecessor and aborts the transaction that one left open, at once."""
    return f"{settings.topic_prefix}-{role}-{settings.worker_id}"


def transactional_producer(settings: Settings, role: str, **overrides: Any) -> Producer:
    """A producer with transactions initialised (an open transaction of the same id is
    aborted first); raises :class:`ExactlyOnceUnsupported` if the broker refuses."""
    producer = Producer(
        producer_config(
            settings,
            **{
                "transactional.id": transactional_id(settings, role),
                # a process that dies mid-transaction and never comes back blocks its
                # partitions' read_committed readers only this long
                "transaction.timeout.ms": int(settings.transaction_timeout_s * 1000),
            },
            **overrides,
        )
    )
    try:
        producer.init_transactions(settings.transaction_timeout_s)
    except KafkaException as exc:
        raise ExactlyOnceUnsupported(
            f"the broker at {settings.kafka_bootstrap} refused a transactional producer "
            f"({exc.args[0].str()}); exactly_once needs Apache Kafka, or use "
            "RISKSTREAM_PROCESSING_GUARANTEE=at_least_once"
        ) from exc
    return producer


def commit(
    producer: Producer, offsets: list[TopicPartition], group: Any, limit_s: float
) -> None:
    """Commit the open transaction, with ``offsets`` for the consumer ``group`` (its
    ``consumer_group_metadata()``) if any; each call bounded by :func:`within` (sending the
    offsets by half the limit: normally milliseconds), the commit retried while
    librdkafka calls its error retriable."""
    if offsets:
        within(limit_s / 2, lambda: producer.send_offsets_to_transaction(offsets, group, limit_s),
               "send_offsets_to_transaction")
    within(3 * limit_s, lambda: _retrying(lambda: producer.commit_transaction(limit_s)),
           "commit_transaction")


def _retrying(operation: Callable[[], object], attempts: int = 3) -> None:
    for attempt in range(attempts):
        try:
            operation()
            return
        except KafkaException as exc:
            if not exc.args[0].retriable() or attempt == attempts - 1:
                raise


def probe_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.transactions-probe"


def check_transactions(settings: Settings, role: str, timeout_s: float = 15.0) -> None:
    """Abort one probe record and commit another; raise :class:`ExactlyOnceUnsupported`
    unless a ``read_committed`` reader sees the committed one and not the aborted one.

    ``role`` keeps the probe's transactional id apart from other processes' probes (a
    scorer and the learner starting together would fence each other's)."""
    topic = probe_topic(settings)
    _ensure_probe_topic(settings, topic, timeout_s)
    producer = transactional_producer(settings, f"{role}-probe")
    nonce = uuid.uuid4().hex.encode()
    reader = Consumer(consumer_config(settings, f"{settings.topic_prefix}-probe"))
    try:
        start = reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout_s)[1]
        producer.begin_transaction()
        producer.produce(topic, b"aborted:" + nonce)
        producer.flush(timeout_s)
        producer.abort_transaction(timeout_s)
        producer.begin_transaction()
        producer.produce(topic, b"committed:" + nonce)
        producer.commit_transaction(timeout_s)
        seen = _read_until(reader, TopicPartition(topic, 0, start), b"committed:" + nonce,
                           timeout_s)
    except KafkaException as exc:
        raise ExactlyOnceUnsupported(
            f"the transaction probe on {topic} failed ({exc.args[0].str()}); exactly_once "
            "needs a broker with transactions"
        ) from exc
    finally:
        reader.close()
        producer.flush(1.0)
    if seen is None:
        raise ExactlyOnceUnsupported(
            f"the committed probe record on {topic} never became readable within "
            f"{timeout_s:.0f} s; exactly_once needs a broker with transactions"
        )
    if b"aborted:" + nonce in seen:
        raise ExactlyOnceUnsupported(
            f"the broker at {settings.kafka_bootstrap} accepted a transaction but showed its "
            "aborted record to a read_committed reader: it has no real transactions (the "
            "embedded broker is such a one). Use Apache Kafka for exactly_once, or "
            "RISKSTREAM_PROCESSING_GUARANTEE=at_least_once"
        )
    log.info("transactions checked on %s: aborted records are hidden", settings.kafka_bootstrap)


def _ensure_probe_topic(settings: Settings, topic: str, timeout_s: float) -> None:
    admin = AdminClient(client_config(settings))
    if topic in admin.list_topics(timeout=timeout_s).topics:
        return
    spec = NewTopic(topic, 1, settings.replication_factor,
                    config={"retention.ms": str(PROBE_RETENTION_MS)})
    try:
        admin.create_topics([spec], request_timeout=timeout_s)[topic].result(timeout_s)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def _read_until(
    reader: Consumer, start: TopicPartition, wanted: bytes, timeout_s: float
) -> list[bytes] | None:
    """Values from ``start`` up to and including ``wanted``; None if it never came."""
    reader.assign([start])
    seen: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in reader.consume(100, 0.1):
            if message.error() is not None:
                continue
            seen.append(message.value() or b"")
            if seen[-1] == wanted:
                return seen
    return None
