"""Start a scorer warm: replay the recent decisions from the scored topic into the policy.

The scored topic is the durable log of every decision. A scorer that crashed without
committing gets part of its input again; reading the tail of that log first means a
re-delivered event gets the decision it was given before (at-least-once with the same
decision), and the selection windows start full instead of cold.
"""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, TopicPartition

from schemas import AvroCodec, CodecError
from scorers.selection import SelectionPolicy
from streams.kafka_config import consumer_config
from streams.reading import until_end
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
    read = 0
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
        if high <= low:
            return 0
        # enough for every lane's window (three streams, a handful of hubs each)
        start = max(low, high - settings.selection_window * 12)
        consumer.assign([TopicPartition(topic, 0, start)])
        for message in until_end(consumer, timeout_s):
            try:
                scored = codec.decode("ScoredRecord", message.value() or b"")
            except CodecError:
                continue
            policy.remember(scored["stream"], scored["hub"], scored["event_id"],
                            scored["score"], scored["level"], scored["selection_kind"],
                            scored["propensity"], scored.get("priority"),
                            scored.get("area") or "")
            read += 1
    finally:
        consumer.close()
    log.info("remembered %d recent decisions from %s", read, topic)
    return read
