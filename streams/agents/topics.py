"""Put lost topics back while the faust worker runs (a broker that restarts without its
storage loses them; the embedded one keeps everything in memory), and make sure faust
forgets what it read from the lost logs.

aiokafka reports no client errors to riskstream, so the faust engine checks on a timer
what the fast engine checks on client errors (:class:`~streams.admin.BrokerWatch`); the
check runs in the watch's thread, off the event loop.

Why faust must forget (the records it would otherwise skip): faust keeps, per partition,
the offsets it acked (to commit), the offsets it committed and the last offset it read,
and drops every fetched record below that last read offset. Records of the lost logs that
were still being processed when the broker went down are acked after aiokafka's re-join
has reset that bookkeeping, so faust committed their (old, high) offsets into the group
on the new logs; after the next assignment it seeks to that committed offset and takes it
as its read offset, and the first records of the new log (offsets 0..N) are never scored.
So, like the fast engine, the faust engine commits nothing it read before an outage: a
record is stamped with the watch's epoch (outages and topic re-creations seen so far) when
faust fetches it; an ack of a record of an older epoch is not recorded, nor an ack of a
record the stream dropped unprocessed during the rebalance (faust acks those too; they are
read again after the seek), and when the epoch changes faust's offset bookkeeping is
cleared (before its next ack or commit, and on the topic check's timer).

A verdict the broker refused right after its restart is sent again before its event is
acked (``streams/agents/scoring.py``).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.admin import BrokerWatch
from streams.app import app, settings

TOPIC_CHECK_S = 2.0

log = logging.getLogger(__name__)

watch = BrokerWatch(settings, "scorer")


def read_epoch() -> tuple[int, int]:
    """Changes whenever records read before may belong to a log that is gone."""
    return watch.outages, watch.topics_recreated


def forget_reads_if_new_epoch(consumer: Any) -> tuple[int, int]:
    """Clear faust's offset bookkeeping if an outage or a topic re-creation happened since
    the consumer last looked; the epoch now."""
    epoch = read_epoch()
    seen = getattr(consumer, "_riskstream_epoch", None)
    if seen is None:
        consumer._riskstream_epoch = epoch
    elif seen != epoch:
        consumer._riskstream_epoch = epoch
        # in place: faust's fetch loop holds bound methods of these mappings
        for bookkeeping in (consumer._acked, consumer._acked_index, consumer._gap,
                            consumer._read_offset, consumer._committed_offset):
            bookkeeping.clear()
        consumer._n_acked = 0
        log.warning("scorer: broker outage or lost topics: offsets read before are "
                    "forgotten and never committed")
    return epoch


def _forget_reads_across_outages(consumer_cls: Any) -> None:
    """Wrap faust's consumer so it commits no offset read from a log that may be gone."""
    if getattr(consumer_cls, "_riskstream_epochs", False):
        return
    to_message = consumer_cls._to_message
    ack = consumer_cls.ack
    commit = consumer_cls.commit
    stamps: weakref.WeakKeyDictionary[Any, tuple[int, int]] = weakref.WeakKeyDictionary()

    def stamped_to_message(self: Any, tp: Any, record: Any) -> Any:
        message = to_message(self, tp, record)
        stamps[message] = forget_reads_if_new_epoch(self)
        return message

    def epoch_ack(self: Any, message: Any) -> bool:
        epoch = forget_reads_if_new_epoch(self)
        if stamps.get(message, epoch) != epoch or not message.tracked:
            # read from a log that may be gone, or dropped by the stream during a
            # rebalance without being processed (it is read again after the seek)
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        return bool(ack(self, message))

    async def epoch_commit(self: Any, *args: Any, **kwargs: Any) -> bool:
        forget_reads_if_new_epoch(self)
        if watch.unreachable:  # nothing to commit to; the offsets may be of lost logs
            return False
        return bool(await commit(self, *args, **kwargs))

    consumer_cls._to_message = stamped_to_message
    consumer_cls.ack = epoch_ack
    consumer_cls.commit = epoch_commit
    consumer_cls._riskstream_epochs = True


_forget_reads_across_outages(faust_aiokafka.Consumer)


@app.timer(interval=TOPIC_CHECK_S)
async def keep_topics() -> None:
    watch.start().suspect()
    # also while no record arrives: read offsets of the lost logs would drop new records
    forget_reads_if_new_epoch(app.consumer)
