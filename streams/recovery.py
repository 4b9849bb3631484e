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
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

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
    topology = Topology.from_settings(settings)
    consumer = Consumer(consumer_config(
        settings, f"{settings.topic_prefix}-recovery-unused", **{"enable.partition.eof": True}
    ))
    started = time.monotonic()
    read = recalled = 0
    seen: set[bytes] = set()  # event ids, the verdicts' keys
    # the current accounting periods' ledgers count what the remembered decisions cover
    period = None if settings.budget_period == "none" else settings.budget_period

    def period_at(decided_at: datetime) -> str | None:
        return period_of(decided_at, period) if period is not None else None

    # enough for every lane's window (three streams, a handful of hubs each)
    tail = settings.selection_window * 12
    try:
        scored_tail = _read_tail(consumer, topology.scored, tail, timeout_s)
        for scored in _decoded(codec, "ScoredRecord", scored_tail):
            policy.remember(scored["stream"], scored["hub"], scored["event_id"],
                            scored["score"], scored["level"], scored["selection_kind"],
                            scored["propensity"], scored.get("priority"),
                            scored.get("area") or "", period_at(scored["decided_at"]))
            seen.add(scored["event_id"].encode())
            read += 1
        # the decisions only a verdict holds; only those verdicts are decoded
        verdict_tail = _read_tail(consumer, topology.verdicts, tail, timeout_s)
        unseen = (message for message in verdict_tail if message.key() not in seen)
        for verdict in _decoded(codec, "RiskVerdict", unseen):
            policy.recall(verdict["stream"], verdict["hub"], verdict["event_id"],
                          verdict["score"], verdict["level"], verdict["selection_kind"],
                          verdict["propensity"], verdict.get("priority"),
                          period_at(verdict["decided_at"]))
            recalled += 1
    finally:
        consumer.close()
    log.info("remembered %d recent decisions from %s, and %d from their verdicts alone, "
             "in %.2f s", read, topology.scored, recalled, time.monotonic() - started)
    return read + recalled


def _decoded(codec: AvroCodec, schema: str, messages: Iterable[Message]
             ) -> Iterator[dict[str, Any]]:
    """The records of ``messages`` that decode as ``schema``; the others are passed over."""
    for message in messages:
        try:
            yield codec.decode(schema, message.value() or b"")
        except CodecError:
            continue


def _read_tail(consumer: Consumer, topic: str, tail: int, timeout_s: float) -> Iterator[Message]:
    """The last ``tail`` records of ``topic`` (spread over its partitions, as keys spread
    records), up to the ends its partitions had when asked."""
    metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        return
    share = -(-tail // len(metadata.partitions))
    starts, ends = [], {}
    for partition in metadata.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
        if high > low:
            starts.append(TopicPartition(topic, partition, max(low, high - share)))
            ends[(topic, partition)] = high
    if starts:
        consumer.assign(starts)
        yield from up_to(consumer, ends, timeout_s)
