"""Read a partition from where a consumer is assigned up to its current end, and notice when
the log under a reader was reset or trimmed."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

LOG_CHECK_S = 2.0  # how often a long-lived reader asks restart_point whether its log was reset


def to_current_end(consumer: Consumer, timeout_s: float) -> Iterator[Message]:
    """Messages of the consumer's assigned partitions, from their assigned offsets up to the
    ends they have now (see :func:`up_to`; it needs ``enable.partition.eof``).

    A partition whose end the broker cannot tell now is read until its end-of-partition
    event, or ``timeout_s``.
    """
    ends: dict[tuple[str, int], float] = {}
    for tp in consumer.assignment():
        try:
            _, end = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=min(5.0, timeout_s))
        except KafkaException:
            end = -1
        ends[(tp.topic, tp.partition)] = end if end >= 0 else math.inf
    yield from up_to(consumer, ends, timeout_s)


def up_to(consumer: Consumer, ends: Mapping[tuple[str, int], float], timeout_s: float
          ) -> Iterator[Message]:
    """Messages of the assigned partitions until each reached its end in ``ends`` (the high
    watermarks read before assigning), or ``timeout_s`` passes.

    Unlike waiting for the end-of-partition event, this does not chase a log that others
    keep writing: a scorer's recovery on a busy topic took 1-10 s that way, all its
    partitions stalled meanwhile. At its end a partition's watermark is read once more: if
    others wrote on, the partition stops there; if not, its end-of-partition event
    (``enable.partition.eof``) ends it, because the embedded broker's watermark is the last
    batch's first offset + 1, short of the batch's other records. The end-of-partition
    event (which a ``read_committed`` reader gets at an open transaction) and a position
    past the end (transaction markers) also end a partition.
    """
    pending: dict[tuple[str, int], float] = {key: end for key, end in ends.items() if end > 0}
    checked: set[tuple[str, int]] = set()  # partitions whose end was read again
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is not None:
            key = (message.topic() or "", message.partition() or 0)
            error = message.error()
            if error is None:
                yield message
                offset = message.offset() or 0
                if offset < pending.get(key, math.inf) - 1:
                    continue
                if key in checked:
                    del pending[key]
                    continue
                checked.add(key)
                try:
                    _, now = consumer.get_watermark_offsets(
                        TopicPartition(*key), timeout=5, cached=False)
                except KafkaException:
                    now = -1
                pending[key] = now if now > offset + 1 else math.inf
            elif error.code() == KafkaError._PARTITION_EOF:
                pending.pop(key, None)
            continue
        try:
            positions = consumer.position([TopicPartition(t, p) for t, p in pending])
        except KafkaException:
            continue
        for tp in positions:
            if tp.offset >= pending.get((tp.topic, tp.partition), math.inf):
                del pending[(tp.topic, tp.partition)]


def restart_point(
    consumer: Consumer,
    topic: str,
    partition: int,
    expected: int,
    timeout_s: float = 1.0,
    out_of_range: bool = False,
) -> tuple[int, int] | None:
    """``(start, end)`` of the partition's log if ``expected``, the next offset a reader wants,
    is no longer in it; None while it is (or while the broker cannot say).

    The log was trimmed past ``expected`` when its start is after it (retention), and reset
    when its end is before it (a broker that lost its storage, or a topic deleted and
    created again). Either way the reader can only go on from the log's start. Consumers do
    not always notice by themselves: the embedded broker answers a fetch beyond the end of
    a log with nothing rather than an out-of-range error, so the reader would wait silently
    until the new log reaches its old offset, and skip everything before it.

    A reset is believed only if the end the consumer's last fetch reported (when it has
    one) is before ``expected`` too: the embedded broker's offset lookup can lag behind the
    records its fetches have already returned by a record or two. When the broker said
    ``out_of_range`` (the consumer stops fetching then), the lookup alone decides.
    """
    partition_of = TopicPartition(topic, partition)
    try:
        start, end = consumer.get_watermark_offsets(partition_of, timeout=timeout_s, cached=False)
        _, fetched_end = consumer.get_watermark_offsets(partition_of, cached=True)
    except KafkaException:  # broker unreachable or topic missing: the next check asks again
        return None
    if start < 0 or end < 0:  # no answer for this partition (yet)
        return None
    if start > expected or (end < expected and (out_of_range or fetched_end < expected)):
        return int(start), int(end)
    return None
