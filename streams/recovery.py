"""Start a scorer warm: replay the recent decisions from the scored topic into the policy.

The scored topic is the durable log of every decision. A scorer that crashed without
committing gets part of its input again; reading the tail of that log first means a
re-delivered event gets the decision it was given before (at-least-once with the same
decision), and the selection windows start full instead of cold.

A scorer killed between an event's two outputs may leave its verdict without its scored
record (1 event in 3 of 12 SIGKILLs on Apache Kafka). So the tail of the verdicts topic is
read too, and the decisions only it holds are recalled
(:meth:`~scorers.selection.SelectionPolicy.recall`); only those verdicts are decoded.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, TopicPartition

from schemas import AvroCodec, CodecError
from scorers.selection import SelectionPolicy, period_of
from streams.kafka_config import consumer_config
from streams.reading import up_to
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)


def remember_recent_decisions(
    settings: Settings, policy: SelectionPolicy, codec: AvroCodec, timeout_s: float = 10.0
) -> int:
    """Feed the last decisions of every lane into ``policy``; return how many were read."""
    topic = Topology.from_settings(settings).scored
    consumer = Consumer(consumer_config(
        settings, f"{settings.topic_prefix}-recovery-unused", **{"enable.partition.eof": True}
    ))
    started = time.monotonic()
    read = 0
    seen: set[bytes] = set()  # event ids, the verdicts' keys
    # the current accounting periods' ledgers count what the remembered decisions cover
    period = None if settings.budget_period == "none" else settings.budget_period
    # enough for every lane's window (three streams, a handful of hubs each)
    tail = settings.selection_window * 12
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
        if high > low:
            consumer.assign([TopicPartition(topic, 0, max(low, high - tail))])
            for message in up_to(consumer, {(topic, 0): high}, timeout_s):
                try:
                    scored = codec.decode("ScoredRecord", message.value() or b"")
                except CodecError:
                    continue
                policy.remember(scored["stream"], scored["hub"], scored["event_id"],
                                scored["score"], scored["level"], scored["selection_kind"],
                                scored["propensity"], scored.get("priority"),
                                scored.get("area") or "", period_of(scored["decided_at"], period)
                                if period is not None else None)
                seen.add(scored["event_id"].encode())
                read += 1
        recalled = _recall_verdicts_only(
            consumer, Topology.from_settings(settings).verdicts, policy, codec, seen, tail,
            period, timeout_s,
        )
    finally:
        consumer.close()
    log.info("remembered %d recent decisions from %s, and %d from their verdicts alone, "
             "in %.2f s", read, topic, recalled, time.monotonic() - started)
    return read + recalled


def _recall_verdicts_only(
    consumer: Consumer, topic: str, policy: SelectionPolicy, codec: AvroCodec,
    seen: set[bytes], tail: int, period: str | None, timeout_s: float,
) -> int:
    """Recall the decisions of the verdicts' tail that the scored records did not repeat."""
    metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return 0
    starts, ends = [], {}
    for partition in metadata.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
        if high > low:
            share = -(-tail // len(metadata.partitions))  # the verdicts spread by event id
            starts.append(TopicPartition(topic, partition, max(low, high - share)))
            ends[(topic, partition)] = high
    if not starts:
        return 0
    consumer.assign(starts)
    recalled = 0
    for message in up_to(consumer, ends, timeout_s):
        if message.key() in seen:
            continue
        try:
            verdict = codec.decode("RiskVerdict", message.value() or b"")
        except CodecError:
            continue
        policy.recall(verdict["stream"], verdict["hub"], verdict["event_id"], verdict["score"],
                      verdict["level"], verdict["selection_kind"], verdict["propensity"],
                      verdict.get("priority"), period_of(verdict["decided_at"], period)
                      if period is not None else None)
        recalled += 1
    return recalled
